"""i3d (variant "tiny") on `synthetic_motion`.

  python -m vst.main --config=configs/i3d_synthetic.py --workdir=workdirs/i3d

Measured on 2 CPU cores (2026-11-30, other jobs sharing the cores): 85.9% /
99.4% / 99.6% test top-1 at steps 1500 / 3000 / 4500, 16 min 9 s wall at 166
train clips/s (301 on a quiet machine under `vst.bench`, where the 4500 steps
take 8 min). In the 2400-step schedule it stopped at 86.1%: the Inception
trunk collapses time early (stride-2 7×7×7 stem), and needs the longer run.
"""

from vst.config_base import synthetic_config


def get_config():
  return synthetic_config("i3d", "tiny", num_steps=4500)
