"""c3d (variant "tiny") on `synthetic_motion`.

  python -m vst.main --config=configs/c3d_synthetic.py --workdir=workdirs/c3d

Measured on 2 CPU cores (2026-11-30, two or three jobs sharing the cores):
99.4% / 100% / 100% test top-1 at steps 800 / 1600 / 2400, 15 min 29 s wall,
84 train clips/s (143 on a quiet machine under `vst.bench`, where 2400 steps
take 9 min).
"""

from vst.config_base import synthetic_config


def get_config():
  return synthetic_config("c3d", "tiny", num_steps=2400)
