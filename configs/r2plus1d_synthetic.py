"""r2plus1d (variant "tiny") on `synthetic_motion`: the shared CPU recipe.

  python -m vst.main --config=configs/r2plus1d_synthetic.py --workdir=workdirs/r2plus1d
"""

from vst.config_base import synthetic_config


def get_config():
  return synthetic_config("r2plus1d", "tiny")
