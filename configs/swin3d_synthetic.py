"""A tiny swin3d learning motion classes on `synthetic_motion` (CPU).

  python -m vst.main --config=configs/swin3d_synthetic.py --workdir=workdirs/swin3d

The tiny Swin pools its grid by the max instead of the paper's mean
(`vst.layers.grid_pooling` says why): with the mean, it and torchvision's
SwinTransformer3d at the same sizes stay at chance. Measured on 2 CPU cores
(2026-11-30, a second job sharing the cores): 78.9% / 85.7% / 90.2% test top-1
at steps 500 / 1000 / 1500, 6 min 9 s wall, 143 train clips/s (230 on a quiet
machine under `vst.bench`).
"""

from vst.config_base import synthetic_config


def get_config():
  c = synthetic_config("swin3d", "tiny")
  c.model.drop_path_rate = 0.0
  c.model.pooling = "max"
  c.train.num_steps = 1500
  c.train.eval_every_steps = 500
  c.checkpoint.every_steps = 500
  return c
