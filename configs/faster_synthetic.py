"""FASTER (variant "tiny") on `synthetic_motion`.

  python -m vst.main --config=configs/faster_synthetic.py --workdir=workdirs/faster

8-frame clips split into two 4-frame clips: the first through the tiny
R(2+1)D, the second through the tiny 2D ResNet on every other frame, then
FAST-GRU.

Measured 2026-11-30 (2 CPU cores, one job): test top-1 51.2 / 73.6 / 77.2%
at steps 800 / 1600 / 2400, 340 train clips/s, 4 min. With the shared
600-step budget it stopped at 26.2%. The R(2+1)D it wraps reaches 98.8% in
the same 2400 steps on the whole 8-frame clip (configs/r2plus1d_synthetic.py):
here it sees 4 frames, the cheap 2D model sees the other 4 (two of them, one
frame at a time, so it cannot see motion), and FAST-GRU has two steps to
aggregate.
"""

from vst.config_base import synthetic_config


def get_config():
  return synthetic_config("faster", "tiny", num_steps=2400)
