"""Building blocks of the paper configs that train on a real dataset.

The paper configs share their dataset sections and the papers' recipe shape
(an optimizer with warmup and step or cosine decay over epochs, multi-view
testing); each config states only its paper's numbers through these
functions, so a change to the shared shape is made once, and the datasets'
sizes live here only. The Kinetics configs call `kinetics_config` (video
transformers) or `kinetics_sgd_config` (3D CNNs); the UCF-101 configs
start from `ucf101_config`.
"""

import ml_collections

from vst.config_base import base_config
from vst.models.registry import model_config

KINETICS_400_TRAIN_SIZE = 214834  # As released; shrinks as videos vanish.
KINETICS_400_CLASSES = 400
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


def kinetics_config(model: ml_collections.ConfigDict, *, num_frames: int,
                    frame_stride: int, crop_size: int, min_resize: int = 256,
                    batch_size: int, epochs: float, optimizer: str,
                    learning_rate: float, weight_decay: float,
                    step_epochs=(), warmup_epochs: float = 0.0,
                    label_smoothing: float = 0.0, grad_clip_norm: float = 0.0,
                    num_clips: int, num_crops: int, eval_batch_size: int = 64,
                    eval_every_epochs: float = 5,
                    epoch_size: int = KINETICS_400_TRAIN_SIZE
                    ) -> ml_collections.ConfigDict:
  """Training on Kinetics-400 clips, in the papers' units (epochs).

  `optimizer` (adamw | sgd, momentum 0.9) at `learning_rate` after
  `warmup_epochs` of linear warmup, ×0.1 at each of `step_epochs`, cosine
  decay when there are none; weight decay skips biases and norms (the
  transformer papers'; `kinetics_sgd_config` decays all). Validation on
  `num_clips` × `num_crops` views every `eval_every_epochs`. `epoch_size` is
  clips per epoch (VMZ counts 1M). The video transformer configs
  (`configs/{vivit,timesformer,xvit,motionformer,vtn,swin3d,mvit,uniformer}_k400.py`)
  call this with their paper's numbers.
  """
  c = base_config()
  c.model = model
  c.dataset.name = "kinetics400"
  c.dataset.data_dir = ""
  c.dataset.num_frames = num_frames
  c.dataset.frame_stride = frame_stride
  c.dataset.min_resize = min_resize
  c.dataset.crop_size = crop_size
  c.dataset.num_classes = KINETICS_400_CLASSES
  steps_per_epoch = epoch_size // batch_size
  c.train.batch_size = batch_size
  c.train.num_steps = int(epochs * steps_per_epoch)
  c.train.optimizer = optimizer
  c.train.learning_rate = learning_rate
  if step_epochs:
    c.train.schedule = "step"
    c.train.step_boundaries = tuple(e / epochs for e in step_epochs)
    c.train.step_factor = 0.1
  else:
    c.train.schedule = "cosine"
  c.train.warmup_steps = int(warmup_epochs * steps_per_epoch)
  c.train.weight_decay = weight_decay
  c.train.label_smoothing = label_smoothing
  c.train.grad_clip_norm = grad_clip_norm
  multi_view_test(c, num_clips=num_clips, num_crops=num_crops,
                  batch_size=eval_batch_size)
  c.eval.split = "validation"
  periodic(c, eval_every=int(eval_every_epochs * steps_per_epoch))
  return c


def kinetics_sgd_config(model: ml_collections.ConfigDict, *, num_frames: int,
                        frame_stride: int, min_resize: int, crop_size: int,
                        batch_size: int, epochs: float, learning_rate: float,
                        weight_decay: float, step_epochs=(), warmup_epochs=0.0,
                        epoch_size: int = KINETICS_400_TRAIN_SIZE,
                        num_clips: int = 10, num_crops: int = 1):
  """The 3D-CNN papers' `kinetics_config`: SGD with weight decay on every
  parameter (biases and norms too, Caffe's default), evaluated in batches
  of 32 views."""
  c = kinetics_config(
      model, num_frames=num_frames, frame_stride=frame_stride,
      min_resize=min_resize, crop_size=crop_size, batch_size=batch_size,
      epochs=epochs, optimizer="sgd", learning_rate=learning_rate,
      weight_decay=weight_decay, step_epochs=step_epochs,
      warmup_epochs=warmup_epochs, epoch_size=epoch_size,
      num_clips=num_clips, num_crops=num_crops, eval_batch_size=32)
  c.train.weight_decay_mask = "all"
  return c
