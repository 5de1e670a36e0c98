"""MViT-B 16×4 on Kinetics-400 from scratch: SlowFast's MVIT_B_16x4_CONV.yaml.

16 frames at stride 4, 224² crops (train: scale jitter 256–320), cube
3×7×7/2×4×4; AdamW at 1e-4 for batch 16 per 8-GPU machine (the yaml scales
it by the number of machines), weight decay 0.05 on ≥2-D weights only, 30
epochs of warmup then cosine decay over 200 epochs, gradient clipping at 1,
stochastic depth 0.2, dropout 0.5 before the head, label smoothing 0.1; test
on 5 clips × 1 crop (the paper's 1×5 views are 5 temporal clips). The yaml's
mixup, cutmix, RandAugment and random erasing are not in vst's input
pipeline. For 32×3 set --config.model.variant=B-32x3
--config.dataset.num_frames=32 --config.dataset.frame_stride=3.

  python -m vst.main --config=configs/mvit_k400.py --workdir=DIR \
      --config.dataset.data_dir=/path/to/kinetics400
"""

from vst.config_base import base_config
from vst.models.registry import model_config

KINETICS_400_TRAIN_SIZE = 214834  # As released; shrinks as videos vanish.


def get_config():
  c = base_config()
  c.model = model_config("mvit", "B-16x4")
  c.model.drop_path_rate = 0.2
  c.model.head_dropout_rate = 0.5
  c.dataset.name = "kinetics400"
  c.dataset.data_dir = ""
  c.dataset.num_frames = 16
  c.dataset.frame_stride = 4
  c.dataset.min_resize = 256
  c.dataset.crop_size = 224
  c.dataset.num_classes = 400
  batch_size = 16
  steps_per_epoch = KINETICS_400_TRAIN_SIZE // batch_size
  c.train.batch_size = batch_size
  c.train.num_steps = 200 * steps_per_epoch
  c.train.optimizer = "adamw"
  c.train.learning_rate = 1e-4
  c.train.schedule = "cosine"
  c.train.warmup_steps = 30 * steps_per_epoch
  c.train.weight_decay = 0.05
  c.train.grad_clip_norm = 1.0
  c.train.label_smoothing = 0.1
  c.train.log_every_steps = 100
  c.train.eval_every_steps = 10 * steps_per_epoch
  c.eval.batch_size = 64
  c.eval.split = "validation"
  c.eval.num_clips = 5
  c.eval.num_crops = 1
  c.checkpoint.every_steps = 1000
  return c
