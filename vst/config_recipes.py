"""Building blocks of the paper configs that train on a real dataset.

The paper configs share their dataset sections and, mostly, the papers'
recipe shape (SGD with momentum, step decay, weight decay, multi-clip
testing); each config states only its paper's numbers through these
functions, so a change to the shared shape is made once. The 3D-CNN K400
configs (`configs/{i3d,r2plus1d,csn,resnet3d}_k400.py`) differ only in the
numbers they pass to `kinetics_sgd_config`.
"""

import ml_collections

from vst.config_base import base_config
from vst.models.registry import model_config

KINETICS_400_TRAIN_SIZE = 214834  # As released; shrinks as videos vanish.
# Videos in UCF-101's official train list of split 1 (trainlist01.txt).
UCF101_SPLIT1_TRAIN_SIZE = 9537
UCF101_CLASSES = 101


def ucf101_config(model: str, variant: str, *, num_frames: int,
                  crop_size: int, min_resize: int,
                  frame_stride: int | None = 1) -> ml_collections.ConfigDict:
  """`base_config` with `model`/`variant` on UCF-101 (split 1).

  `dataset.data_dir` is left empty: a run sets it on the command line
  (`--config.dataset.data_dir=/path/to/ucf101`). `frame_stride=None`
  leaves the dataset's default (segment-sampled configs set their own
  sampling fields).
  """
  c = base_config()
  c.model = model_config(model, variant)
  c.dataset.name = "ucf101"
  c.dataset.data_dir = ""
  c.dataset.num_frames = num_frames
  if frame_stride is not None:
    c.dataset.frame_stride = frame_stride
  c.dataset.min_resize = min_resize
  c.dataset.crop_size = crop_size
  c.dataset.num_classes = UCF101_CLASSES
  return c


def ucf101_steps(epochs: float, batch_size: int) -> int:
  """Train steps of `epochs` passes over split 1's train list."""
  return int(epochs * UCF101_SPLIT1_TRAIN_SIZE) // batch_size


def sgd(c: ml_collections.ConfigDict, *, learning_rate: float,
        batch_size: int, num_steps: int, boundaries=(), factor: float = 0.1,
        weight_decay: float = 5e-4, decay_all: bool = False,
        momentum: float = 0.9) -> None:
  """SGD with momentum; learning rate × `factor` at each of `boundaries`
  (fractions of `num_steps`), constant when there are none; with
  `decay_all` weight decay applies to biases and norms too (Caffe's
  default, which the older papers used)."""
  c.train.batch_size = batch_size
  c.train.num_steps = num_steps
  c.train.optimizer = "sgd"
  c.train.momentum = momentum
  c.train.learning_rate = learning_rate
  if boundaries:
    c.train.schedule = "step"
    c.train.step_boundaries = tuple(boundaries)
    c.train.step_factor = factor
  c.train.weight_decay = weight_decay
  if decay_all:
    c.train.weight_decay_mask = "all"


def multi_view_test(c: ml_collections.ConfigDict, *, num_clips: int,
                    num_crops: int, batch_size: int | None = None) -> None:
  """Test on `num_clips` temporal × `num_crops` spatial views per video."""
  c.eval.split = "test"
  c.eval.num_clips = num_clips
  c.eval.num_crops = num_crops
  if batch_size is not None:
    c.eval.batch_size = batch_size


def periodic(c: ml_collections.ConfigDict, *, log_every: int = 100,
             eval_every: int = 0, checkpoint_every: int = 1000) -> None:
  """How often a long run logs, evaluates and checkpoints."""
  c.train.log_every_steps = log_every
  c.train.eval_every_steps = eval_every
  c.checkpoint.every_steps = checkpoint_every


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
  sgd(c, learning_rate=learning_rate, batch_size=batch_size,
      num_steps=int(epochs * steps_per_epoch),
      boundaries=tuple(e / epochs for e in step_epochs),
      weight_decay=weight_decay, decay_all=True)
  if not step_epochs:
    c.train.schedule = "cosine"
  c.train.warmup_steps = int(warmup_epochs * steps_per_epoch)
  multi_view_test(c, num_clips=num_clips, num_crops=num_crops, batch_size=32)
  c.eval.split = "validation"
  periodic(c, eval_every=5 * steps_per_epoch)
  return c
