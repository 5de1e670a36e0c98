"""FASTER (variant "tiny") on `synthetic_motion`: the shared CPU recipe.

  python -m vst.main --config=configs/faster_synthetic.py --workdir=workdirs/faster

8-frame clips split into two 4-frame clips: the first through the tiny
R(2+1)D, the second through the tiny 2D ResNet on every other frame, then
FAST-GRU.
"""

from vst.config_base import synthetic_config


def get_config():
  return synthetic_config("faster", "tiny")
