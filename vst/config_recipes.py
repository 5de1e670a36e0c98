"""Paper recipes shared by several `configs/*.py`: K400 clips trained with SGD.

The 3D-CNN paper configs (`configs/{i3d,r2plus1d,csn,resnet3d}_k400.py`)
differ only in the numbers they pass to `kinetics_sgd_config`.
"""

import ml_collections

from vst.config_base import base_config

KINETICS_400_TRAIN_SIZE = 214834  # As released; shrinks as videos vanish.


def kinetics_sgd_config(model: ml_collections.ConfigDict, *, num_frames: int,
                        frame_stride: int, min_resize: int, crop_size: int,
                        batch_size: int, epochs: float, learning_rate: float,
                        weight_decay: float, step_epochs=(), warmup_epochs=0.0,
                        epoch_size: int = KINETICS_400_TRAIN_SIZE,
                        num_clips: int = 10, num_crops: int = 1):
  """SGD (momentum 0.9) with step decay by 10 at `step_epochs` (cosine if
  none), on K400 clips; `epoch_size` is clips per epoch (VMZ: 1M)."""
  c = base_config()
  c.model = model
  c.dataset.name = "kinetics400"
  c.dataset.data_dir = ""
  c.dataset.num_frames = num_frames
  c.dataset.frame_stride = frame_stride
  c.dataset.min_resize = min_resize
  c.dataset.crop_size = crop_size
  c.dataset.num_classes = 400
  steps_per_epoch = epoch_size // batch_size
  c.train.batch_size = batch_size
  c.train.num_steps = int(epochs * steps_per_epoch)
  c.train.optimizer = "sgd"
  c.train.momentum = 0.9
  c.train.learning_rate = learning_rate
  c.train.weight_decay = weight_decay
  c.train.weight_decay_mask = "all"
  c.train.warmup_steps = int(warmup_epochs * steps_per_epoch)
  if step_epochs:
    c.train.schedule = "step"
    c.train.step_boundaries = tuple(e / epochs for e in step_epochs)
    c.train.step_factor = 0.1
  else:
    c.train.schedule = "cosine"
  c.train.log_every_steps = 100
  c.train.eval_every_steps = 5 * steps_per_epoch
  c.eval.batch_size = 32
  c.eval.split = "validation"
  c.eval.num_clips = num_clips
  c.eval.num_crops = num_crops
  c.checkpoint.every_steps = 1000
  return c
