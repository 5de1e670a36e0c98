"""A tiny Motionformer learning motion classes on `synthetic_motion` (CPU).

  python -m vst.main --config=configs/motionformer_synthetic.py \
      --workdir=workdirs/motionformer

The Orthoformer approximation by override: --config.model.attention=orthoformer.
"""

from vst.config_base import synthetic_config


def get_config():
  c = synthetic_config("motionformer", "tiny")
  # From scratch (no ImageNet ViT to start from), as for ViViT's synthetic
  # config: a random head and tubelets that see both of their frames.
  c.model.head_init = "lecun_normal"
  c.model.tubelet_init = "random"
  # Like ViViT, a transformer without a conv's locality prior needs more than
  # the shared 600 steps: test accuracy 0.71 after 600 steps, 0.85 after
  # 1200, 0.87 after 1800 (each run with its own cosine schedule; 90% not
  # yet reached).
  c.train.num_steps = 1800
  c.train.eval_every_steps = 600
  c.checkpoint.every_steps = 600
  return c
