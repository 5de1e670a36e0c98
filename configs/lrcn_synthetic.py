"""LRCN (variant "tiny") on `synthetic_motion`: the shared CPU recipe.

  python -m vst.main --config=configs/lrcn_synthetic.py --workdir=workdirs/lrcn

The tiny AlexNet-like tower of `single_frame` (which stays at chance here)
feeds a 64-unit LSTM. Measured with this recipe (600 steps): test accuracy
0.139, train loss 2.08 = ln 8 throughout, so like the single-frame model it
stays at chance: the tower's three 2×2 pools leave a 4×4 map whose fc
features barely change between frames, and the LSTM sees only those.
"""

from vst.config_base import synthetic_config


def get_config():
  return synthetic_config("lrcn", "tiny")
