"""i3d (variant "tiny") on `synthetic_motion`: the shared CPU recipe.

  python -m vst.main --config=configs/i3d_synthetic.py --workdir=workdirs/i3d
"""

from vst.config_base import synthetic_config


def get_config():
  return synthetic_config("i3d", "tiny")
