"""A tiny X-ViT learning motion classes on `synthetic_motion` (CPU).

  python -m vst.main --config=configs/xvit_synthetic.py --workdir=workdirs/xvit
"""

from vst.config_base import synthetic_config


def get_config():
  c = synthetic_config("xvit", "tiny")
  # From scratch, a random head learns faster than the fine-tuning one, and
  # the released 0.5 head dropout only slows a model this small.
  c.model.head_init = "lecun_normal"
  c.model.head_dropout_rate = 0.0
  # Like ViViT, a transformer without a conv's locality prior needs more
  # than the shared 600 steps.
  c.train.num_steps = 2000
  c.train.eval_every_steps = 500
  c.checkpoint.every_steps = 500
  return c
