"""A tiny swin3d learning motion classes on `synthetic_motion` (CPU).

  python -m vst.main --config=configs/swin3d_synthetic.py --workdir=workdirs/swin3d

The tiny Swin pools its grid by the max instead of the paper's mean
(`vst.layers.grid_pooling` says why): with the mean, it and torchvision's
SwinTransformer3d at the same sizes stay at chance. Measured on 2 CPU cores
(2026-11-30, a second job sharing the cores): 78.9% / 85.7% / 90.2% test top-1
at steps 500 / 1000 / 1500, 6 min 9 s wall, 143 train clips/s (230 on a quiet
machine under `vst.bench`).
With the patch embedding as one patchify matmul (`vst.layers.conv3d`,
2026-12-05, one job but a short test run for part of it): 84.6 / 86.7 /
91.2% at 500 / 1000 / 1500, 196.5 train clips/s, 4 min 26 s.
"""

from vst.config_base import synthetic_config


def get_config():
  c = synthetic_config("swin3d", "tiny", num_steps=1500)
  c.model.drop_path_rate = 0.0
  c.model.pooling = "max"
  return c
