"""ViT-B-VTN on Kinetics-400: bomri/SlowFast configs/Kinetics/VIT_B_VTN.yaml.

Training: 16 frames at sampling rate 8 (25 fps), 224² crops (scale jitter
256–320), an ImageNet ViT-B/16 backbone, a 3-layer Longformer (window 18,
288 positions); SGD momentum 0.9 at 1e-3 for a batch of 16 clips, ×0.1 at
epochs 13 and 24 of 25, head dropout 0.5. Testing: the whole video (up to
250 frames) as one view (TRAIN.EVAL_FULL_VIDEO with EVAL_NUM_FRAMES 250);
run that evaluation with --config.dataset.num_frames=250
--config.model.frames_per_chunk=16 so the backbone holds 16 frames at a time.

  python -m vst.main --config=configs/vtn_k400.py --workdir=DIR \
      --config.dataset.data_dir=/path/to/kinetics400
"""

from vst.config_base import base_config
from vst.models.registry import model_config

KINETICS_400_TRAIN_SIZE = 214834  # As released; shrinks as videos vanish.


def get_config():
  c = base_config()
  c.model = model_config("vtn", "B/16")
  c.model.head_init = "zeros"
  c.dataset.name = "kinetics400"
  c.dataset.data_dir = ""
  c.dataset.num_frames = 16
  c.dataset.frame_stride = 8
  c.dataset.min_resize = 256
  c.dataset.crop_size = 224
  c.dataset.num_classes = 400
  batch_size = 16
  steps_per_epoch = KINETICS_400_TRAIN_SIZE // batch_size
  c.train.batch_size = batch_size
  c.train.num_steps = 25 * steps_per_epoch
  c.train.optimizer = "sgd"
  c.train.momentum = 0.9
  c.train.learning_rate = 1e-3
  c.train.schedule = "step"
  c.train.step_boundaries = (13 / 25, 24 / 25)
  c.train.step_factor = 0.1
  c.train.warmup_steps = 0
  c.train.weight_decay = 0.0
  c.train.log_every_steps = 100
  c.train.eval_every_steps = steps_per_epoch
  c.eval.batch_size = 16
  c.eval.split = "validation"
  c.eval.num_clips = 1
  c.eval.num_crops = 1
  c.checkpoint.every_steps = 1000
  return c
