"""A tiny swin3d learning motion classes on `synthetic_motion` (CPU).

  python -m vst.main --config=configs/swin3d_synthetic.py --workdir=workdirs/swin3d
"""

from vst.config_base import synthetic_config


def get_config():
  c = synthetic_config("swin3d", "tiny")
  c.model.drop_path_rate = 0.0
  return c
