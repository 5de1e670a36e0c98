"""A tiny mvit learning motion classes on `synthetic_motion` (CPU).

  python -m vst.main --config=configs/mvit_synthetic.py --workdir=workdirs/mvit
"""

from vst.config_base import synthetic_config


def get_config():
  c = synthetic_config("mvit", "tiny")
  c.model.drop_path_rate = 0.0
  return c
