"""Lattice-LSTM on UCF101 (split 1), Sun et al. 2017, two-stream.

Needs a dataset giving {"rgb", "flow"} inputs; the paper samples TSN-style
segments. Frames, crop and optimiser here are not from the paper (it
publishes neither sizes nor FLOPs): 25 frames of 227² crops, SGD momentum
0.9 at 1e-3.

  python -m vst.main --config=configs/lattice_lstm_ucf101.py --workdir=DIR \
      --config.dataset.data_dir=/path/to/ucf101
"""

from vst.config_base import base_config
from vst.models.registry import model_config

UCF101_SPLIT1_TRAIN_SIZE = 9537


def get_config():
  c = base_config()
  c.model = model_config("lattice_lstm", "alexnet_two_stream")
  c.dataset.name = "ucf101"
  c.dataset.data_dir = ""
  c.dataset.num_frames = 25
  c.dataset.frame_stride = 5
  c.dataset.min_resize = 256
  c.dataset.crop_size = 227
  c.dataset.num_classes = 101
  c.train.batch_size = 16
  c.train.num_steps = 30 * UCF101_SPLIT1_TRAIN_SIZE // 16
  c.train.optimizer = "sgd"
  c.train.momentum = 0.9
  c.train.learning_rate = 1e-3
  c.train.weight_decay = 5e-4
  return c
