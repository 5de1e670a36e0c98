"""Beyond Short Snippets on UCF101 (split 1), Ng et al. 2015.

The deep LSTM (5 × 512) unrolled over 30 frames sampled at about 1 fps, on
AlexNet frame features of 220×220 crops; conv pooling over 120 frames by
--config.model.variant=conv_pooling --config.dataset.num_frames=120.
UCF101 clips run at 25 fps, so a stride of 25 frames gives ~1 fps. The
optimiser is not from the paper (it trains with asynchronous SGD on many
machines): SGD momentum 0.9, learning rate 1e-3 with steps at 50% and 80%.

  python -m vst.main --config=configs/snippets_lstm_ucf101.py --workdir=DIR \
      --config.dataset.data_dir=/path/to/ucf101
"""

from vst.config_base import base_config
from vst.models.registry import model_config

UCF101_SPLIT1_TRAIN_SIZE = 9537


def get_config():
  c = base_config()
  c.model = model_config("snippets_lstm", "lstm")
  c.dataset.name = "ucf101"
  c.dataset.data_dir = ""
  c.dataset.num_frames = 30
  c.dataset.frame_stride = 25
  c.dataset.min_resize = 256
  c.dataset.crop_size = 220
  c.dataset.num_classes = 101
  c.train.batch_size = 16
  c.train.num_steps = 30 * UCF101_SPLIT1_TRAIN_SIZE // 16
  c.train.optimizer = "sgd"
  c.train.momentum = 0.9
  c.train.learning_rate = 1e-3
  c.train.schedule = "step"
  c.train.step_boundaries = (0.5, 0.8)
  c.train.step_factor = 0.1
  c.train.weight_decay = 5e-4
  return c
