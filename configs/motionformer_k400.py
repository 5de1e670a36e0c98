"""Mformer (ViT-B/16, trajectory attention) on Kinetics-400: the paper's recipe.

facebookresearch/Motionformer configs/K400/motionformer_224_16x4.yaml: 16
frames at stride 4, 224² crops (train: scale jitter 256–320), tubelet
2×16×16 from an ImageNet ViT-B; AdamW at 1e-4 for a batch of 32 clips, weight
decay 0.05, no warmup, the rate ×0.1 at epochs 20 and 30 of 35, label
smoothing 0.2, stochastic depth 0.2, mixed precision; test on 10 clips × 3
crops. Mformer-L: --config.dataset.num_frames=32 --config.dataset.frame_stride=3;
Mformer-HR: --config.dataset.crop_size=336 --config.dataset.min_resize=336
--config.dataset.frame_stride=8. Orthoformer: --config.model.attention=orthoformer.

  python -m vst.main --config=configs/motionformer_k400.py --workdir=DIR \
      --config.dataset.data_dir=/path/to/kinetics400
"""

from vst.config_base import base_config
from vst.models.registry import model_config

KINETICS_400_TRAIN_SIZE = 214834  # As released; shrinks as videos vanish.


def get_config():
  c = base_config()
  c.model = model_config("motionformer", "B/16x2")
  c.model.attention = "trajectory"
  c.model.dtype = "bfloat16"
  c.dataset.name = "kinetics400"
  c.dataset.data_dir = ""
  c.dataset.num_frames = 16
  c.dataset.frame_stride = 4
  c.dataset.min_resize = 256
  c.dataset.crop_size = 224
  c.dataset.num_classes = 400
  batch_size = 32
  steps_per_epoch = KINETICS_400_TRAIN_SIZE // batch_size
  c.train.batch_size = batch_size
  c.train.num_steps = 35 * steps_per_epoch
  c.train.optimizer = "adamw"
  c.train.learning_rate = 1e-4
  c.train.schedule = "step"
  c.train.step_boundaries = (20 / 35, 30 / 35)
  c.train.step_factor = 0.1
  c.train.warmup_steps = 0
  c.train.weight_decay = 0.05
  c.train.label_smoothing = 0.2
  c.train.log_every_steps = 100
  c.train.eval_every_steps = 5 * steps_per_epoch
  c.eval.batch_size = 64
  c.eval.split = "validation"
  c.eval.num_clips = 10
  c.eval.num_crops = 3
  c.checkpoint.every_steps = 1000
  return c
