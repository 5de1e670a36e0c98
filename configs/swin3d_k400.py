"""Video Swin-T on Kinetics-400: the paper's recipe (Liu et al. 2022, Sec. 4.1).

32 frames at stride 2, 224² crops of 256-short-side videos, patch 2×4×4,
window 8×7×7; AdamW with weight decay 0.02 (Swin-T; 0.05 for B), 2.5 epochs
of linear warmup then cosine decay over 30 epochs at batch 64, stochastic
depth 0.1 (T; 0.2 S, 0.3 B), dropout 0.5 before the head (the official
I3DHead); test on 4 clips × 3 crops. The official config trains the
ImageNet-initialised backbone at 0.1× the head's learning rate (1e-3); vst's
optimizer has one rate, so this uses 1e-3 for all and starts from scratch
unless a converted checkpoint is loaded (vst.models.convert.swin3d_torchvision).

  python -m vst.main --config=configs/swin3d_k400.py --workdir=DIR \
      --config.dataset.data_dir=/path/to/kinetics400
"""

from vst.config_base import base_config
from vst.models.registry import model_config

KINETICS_400_TRAIN_SIZE = 214834  # As released; shrinks as videos vanish.


def get_config():
  c = base_config()
  c.model = model_config("swin3d", "T")
  c.model.drop_path_rate = 0.1
  c.model.head_dropout_rate = 0.5
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
  c.train.optimizer = "adamw"
  c.train.learning_rate = 1e-3
  c.train.schedule = "cosine"
  c.train.warmup_steps = int(2.5 * steps_per_epoch)
  c.train.weight_decay = 0.02
  c.train.log_every_steps = 100
  c.train.eval_every_steps = 5 * steps_per_epoch
  c.eval.batch_size = 64
  c.eval.split = "validation"
  c.eval.num_clips = 4
  c.eval.num_crops = 3
  c.checkpoint.every_steps = 1000
  return c
