"""p3d (variant "tiny") on `synthetic_motion`: the shared CPU recipe.

  python -m vst.main --config=configs/p3d_synthetic.py --workdir=workdirs/p3d
"""

from vst.config_base import synthetic_config


def get_config():
  return synthetic_config("p3d", "tiny")
