"""ViViT-B/16x2 factorised encoder on Kinetics-400: the paper's recipe.

Arnab et al. 2021 as released in Scenic's vivit_base_factorised_encoder config:
32 frames at stride 2, 224² crops of 256-short-side videos, tubelet 2×16×16,
temporal encoder of 4 layers, SGD momentum 0.9 at 0.05 with 2.5 epochs of linear
warmup then cosine decay over 30 epochs at batch 64, gradient clipping at 1, no
weight decay; test on 4 clips × 3 crops.

  python -m vst.main --config=configs/vivit_k400.py --workdir=DIR \
      --config.dataset.data_dir=/path/to/kinetics400
"""

from vst.config_base import base_config
from vst.models.registry import model_config

KINETICS_400_TRAIN_SIZE = 214834  # As released; shrinks as videos vanish.


def get_config():
  c = base_config()
  c.model = model_config("vivit", "B/16x2")
  c.model.vivit_model = "factorised_encoder"
  c.dataset.name = "kinetics400"
  c.dataset.data_dir = ""
  c.dataset.num_frames = 32
  c.dataset.frame_stride = 2
  c.dataset.min_resize = 256
  c.dataset.crop_size = 224
  c.dataset.num_classes = 400
  batch_size = 64
  steps_per_epoch = KINETICS_400_TRAIN_SIZE // batch_size
  c.train.batch_size = batch_size
  c.train.num_steps = 30 * steps_per_epoch
  c.train.optimizer = "sgd"
  c.train.momentum = 0.9
  c.train.learning_rate = 0.05
  c.train.schedule = "cosine"
  c.train.warmup_steps = int(2.5 * steps_per_epoch)
  c.train.weight_decay = 0.0
  c.train.grad_clip_norm = 1.0
  c.train.log_every_steps = 100
  c.train.eval_every_steps = 5 * steps_per_epoch
  c.eval.batch_size = 64
  c.eval.split = "validation"
  c.eval.num_clips = 4
  c.eval.num_crops = 3
  c.checkpoint.every_steps = 1000
  return c
