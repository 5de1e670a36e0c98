"""resnet3d (variant "tiny") on `synthetic_motion`.

  python -m vst.main --config=configs/resnet3d_synthetic.py --workdir=workdirs/resnet3d

Measured on 2 CPU cores (2026-11-30, two or three jobs sharing the cores):
96.9% / 99.6% / 100% test top-1 at steps 800 / 1600 / 2400, 8 min 47 s wall,
155 train clips/s (277 on a quiet machine under `vst.bench`).
"""

from vst.config_base import synthetic_config


def get_config():
  return synthetic_config("resnet3d", "tiny", num_steps=2400)
