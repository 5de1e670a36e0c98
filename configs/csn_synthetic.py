"""csn (variant "tiny") on `synthetic_motion`: the shared CPU recipe.

  python -m vst.main --config=configs/csn_synthetic.py --workdir=workdirs/csn
"""

from vst.config_base import synthetic_config


def get_config():
  return synthetic_config("csn", "tiny")
