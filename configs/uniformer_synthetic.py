"""A tiny uniformer learning motion classes on `synthetic_motion` (CPU).

  python -m vst.main --config=configs/uniformer_synthetic.py --workdir=workdirs/uniformer
"""

from vst.config_base import synthetic_config


def get_config():
  c = synthetic_config("uniformer", "tiny")
  c.model.drop_path_rate = 0.0
  return c
