"""The ConvLSTM classifier on UCF101 (split 1).

Shi et al. 2015 is a forecasting paper; this applies its Moving-MNIST
encoder stack (4×4 patches, 128-64-64, 5×5, peepholes) to action clips of
16 frames at 112×112. Nothing here is a published recipe.

  python -m vst.main --config=configs/convlstm_ucf101.py --workdir=DIR \
      --config.dataset.data_dir=/path/to/ucf101
"""

from vst.config_base import base_config
from vst.models.registry import model_config

UCF101_SPLIT1_TRAIN_SIZE = 9537


def get_config():
  c = base_config()
  c.model = model_config("convlstm", "moving_mnist")
  c.dataset.name = "ucf101"
  c.dataset.data_dir = ""
  c.dataset.num_frames = 16
  c.dataset.frame_stride = 2
  c.dataset.min_resize = 128
  c.dataset.crop_size = 112
  c.dataset.num_classes = 101
  c.train.batch_size = 32
  c.train.num_steps = 50 * UCF101_SPLIT1_TRAIN_SIZE // 32
  c.train.optimizer = "adamw"
  c.train.learning_rate = 1e-3
  c.train.warmup_steps = 500
  c.train.weight_decay = 0.05
  return c
