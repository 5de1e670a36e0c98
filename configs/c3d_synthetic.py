"""c3d (variant "tiny") on `synthetic_motion`: the shared CPU recipe.

  python -m vst.main --config=configs/c3d_synthetic.py --workdir=workdirs/c3d
"""

from vst.config_base import synthetic_config


def get_config():
  return synthetic_config("c3d", "tiny")
