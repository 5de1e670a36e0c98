"""A tiny UniFormer learning motion classes on `synthetic_motion` (CPU).

  python -m vst.main --config=configs/uniformer_synthetic.py --workdir=workdirs/uniformer

Measured 2026-11-30 (2 CPU cores, one job): test top-1 29.7% at step 300,
53.5% at 600, 34.3 train clips/s (9 min 20 s). It learns, but slowly on a
CPU (not profiled yet; its depthwise 3D convolutions are the kind of
operation that dominates MViT's backward pass there, see the README).
"""

from vst.config_base import synthetic_config


def get_config():
  c = synthetic_config("uniformer", "tiny")
  c.model.drop_path_rate = 0.0
  return c
