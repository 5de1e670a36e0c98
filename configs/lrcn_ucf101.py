"""LRCN-fc6 on UCF101 (split 1), Donahue et al. 2015.

16-frame clips (stride 8 between clips at test time, predictions averaged)
of 227×227 crops; CaffeNet to fc6, one 256-unit LSTM. The paper fine-tunes
from ImageNet with Caffe's SGD; its optimiser settings are not reproduced
here from the paper (REFERENCE.md gives none): SGD momentum 0.9, learning
rate 1e-3 with steps at 50% and 80%, batch 24 clips, are a standard
fine-tuning recipe. Flow: --config.model.variant=fc6_two_stream on a dataset
giving {"rgb", "flow"} (flow weighted 2:1, the paper's late fusion).

  python -m vst.main --config=configs/lrcn_ucf101.py --workdir=DIR \
      --config.dataset.data_dir=/path/to/ucf101
"""

from vst.config_base import base_config
from vst.models.registry import model_config

UCF101_SPLIT1_TRAIN_SIZE = 9537


def get_config():
  c = base_config()
  c.model = model_config("lrcn", "fc6")
  c.dataset.name = "ucf101"
  c.dataset.data_dir = ""
  c.dataset.num_frames = 16
  c.dataset.frame_stride = 1
  c.dataset.min_resize = 256
  c.dataset.crop_size = 227
  c.dataset.num_classes = 101
  c.train.batch_size = 24
  c.train.num_steps = 30 * UCF101_SPLIT1_TRAIN_SIZE // 24
  c.train.optimizer = "sgd"
  c.train.momentum = 0.9
  c.train.learning_rate = 1e-3
  c.train.schedule = "step"
  c.train.step_boundaries = (0.5, 0.8)
  c.train.step_factor = 0.1
  c.train.weight_decay = 5e-4
  c.eval.num_clips = 10
  c.eval.num_crops = 1
  return c
