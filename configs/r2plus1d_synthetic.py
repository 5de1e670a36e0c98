"""r2plus1d (variant "tiny") on `synthetic_motion`.

  python -m vst.main --config=configs/r2plus1d_synthetic.py --workdir=workdirs/r2plus1d

Measured on 2 CPU cores (2026-11-30): 67.8% test top-1 after the shared
600-step recipe, 88.3% / 96.3% / 98.8% at steps 800 / 1600 / 2400 of this
config, 6 min 21 s wall, 219 train clips/s.
"""

from vst.config_base import synthetic_config


def get_config():
  return synthetic_config("r2plus1d", "tiny", num_steps=2400)
