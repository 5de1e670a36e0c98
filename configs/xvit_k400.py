"""X-ViT-B/16 on Kinetics-400: the released recipe (Bulat et al. 2021).

From 1adrianb/video-transformers configs/Kinetics/xvit_B16_16x16_k400.yaml:
16 frames at stride 16 (the 8-frame model: `:8`), 224² crops of 256–320
short-side videos, space-time mixing with t_w = 1 and SHIFT_DIV 8 in all
blocks, one-layer temporal head, dropout 0.5 in the MLP head; SGD with
momentum 0.9 at 0.03, 5 warmup epochs then cosine decay over 30 epochs at
batch 64, weight decay 1e-5, label smoothing 0.3 (`smooth_cross_entropy`);
test on 1 clip × 3 crops. The released recipe's mixup (0.4) and AutoAugment
are not implemented here, and the paper starts from ImageNet-21K ViT-B.

  python -m vst.main --config=configs/xvit_k400.py --workdir=DIR \
      --config.dataset.data_dir=/path/to/kinetics400
"""

from vst.config_base import base_config
from vst.errors import ConfigError
from vst.models.registry import model_config

KINETICS_400_TRAIN_SIZE = 214834  # As released; shrinks as videos vanish.


def get_config(num_frames: str = "16"):
  if num_frames not in ("8", "16"):
    raise ConfigError(f"configs/xvit_k400.py:{num_frames}: the published "
                      "models take 8 or 16 frames")
  c = base_config()
  c.model = model_config("xvit", "B/16")
  c.model.head_dropout_rate = 0.5
  c.dataset.name = "kinetics400"
  c.dataset.data_dir = ""
  c.dataset.num_frames = int(num_frames)
  c.dataset.frame_stride = 16
  c.dataset.min_resize = 256
  c.dataset.crop_size = 224
  c.dataset.num_classes = 400
  batch_size = 64
  steps_per_epoch = KINETICS_400_TRAIN_SIZE // batch_size
  c.train.batch_size = batch_size
  c.train.num_steps = 30 * steps_per_epoch
  c.train.optimizer = "sgd"
  c.train.momentum = 0.9
  c.train.learning_rate = 0.03
  c.train.schedule = "cosine"
  c.train.warmup_steps = 5 * steps_per_epoch
  c.train.weight_decay = 1e-5
  c.train.label_smoothing = 0.3
  c.train.log_every_steps = 100
  c.train.eval_every_steps = 5 * steps_per_epoch
  c.eval.batch_size = 64
  c.eval.split = "validation"
  c.eval.num_clips = 1
  c.eval.num_crops = 3
  c.checkpoint.every_steps = 1000
  return c
