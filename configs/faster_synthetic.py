"""FASTER (variant "tiny") on `synthetic_motion`: the shared CPU recipe.

  python -m vst.main --config=configs/faster_synthetic.py --workdir=workdirs/faster

8-frame clips split into two 4-frame clips: the first through the tiny
R(2+1)D, the second through the tiny 2D ResNet on every other frame, then
FAST-GRU.

Measured (600 AdamW steps of 32, 2 CPU cores shared with other jobs,
2026-11-30): test top-1 0.262, 227 train clips/s. The R(2+1)D it wraps
reaches 0.678 on the whole 8-frame clip with the same recipe
(configs/r2plus1d_synthetic.py): here it sees 4 frames and the cheap 2D
model the other 4, and FAST-GRU has two steps to aggregate.
"""

from vst.config_base import synthetic_config


def get_config():
  return synthetic_config("faster", "tiny")
