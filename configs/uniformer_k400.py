"""UniFormer-S 16×4 on Kinetics-400: the official exp/uniformer_s16x4_k400.

16 frames at stride 4, 224² crops (train: scale jitter 256–320); AdamW at
1e-4 (batch 8 on 8 GPUs), weight decay 0.05 on ≥2-D weights only, 30 epochs
of warmup then cosine decay over 200 epochs, stochastic depth 0.1, label
smoothing 0.1; test on 4 clips × 1 crop. The official run starts from
ImageNet-1K UniFormer-S weights inflated to 3D and adds mixup, cutmix and
RandAugment, which vst's pipeline lacks. For B set
--config.model.variant=B --config.model.drop_path_rate=0.3.

  python -m vst.main --config=configs/uniformer_k400.py --workdir=DIR \
      --config.dataset.data_dir=/path/to/kinetics400
"""

from vst.config_base import base_config
from vst.models.registry import model_config

KINETICS_400_TRAIN_SIZE = 214834  # As released; shrinks as videos vanish.


def get_config():
  c = base_config()
  c.model = model_config("uniformer", "S")
  c.model.drop_path_rate = 0.1
  c.dataset.name = "kinetics400"
  c.dataset.data_dir = ""
  c.dataset.num_frames = 16
  c.dataset.frame_stride = 4
  c.dataset.min_resize = 256
  c.dataset.crop_size = 224
  c.dataset.num_classes = 400
  batch_size = 8
  steps_per_epoch = KINETICS_400_TRAIN_SIZE // batch_size
  c.train.batch_size = batch_size
  c.train.num_steps = 200 * steps_per_epoch
  c.train.optimizer = "adamw"
  c.train.learning_rate = 1e-4
  c.train.schedule = "cosine"
  c.train.warmup_steps = 30 * steps_per_epoch
  c.train.weight_decay = 0.05
  c.train.label_smoothing = 0.1
  c.train.log_every_steps = 100
  c.train.eval_every_steps = 10 * steps_per_epoch
  c.eval.batch_size = 64
  c.eval.split = "validation"
  c.eval.num_clips = 4
  c.eval.num_crops = 1
  c.checkpoint.every_steps = 1000
  return c
