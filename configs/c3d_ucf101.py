"""C3D on UCF101 (split 1), fine-tuned end to end from Sports-1M.

The paper trains C3D on Sports-1M (batch 30 clips of 16×112² crops from
128×171 frames, SGD, learning rate 0.003 halved every 150K iterations, 1.9M
iterations) and reports UCF101 from a linear SVM on its fc6 features (82.3%).
End-to-end fine-tuning on UCF101 follows mmaction2's C3D recipe (S): SGD
momentum 0.9, learning rate 0.001 divided by 10 at epochs 20 and 40 of 45,
weight decay 5e-4, dropout 0.5, batch 30; test 10 clips × 1 centre crop.

  python -m vst.main --config=configs/c3d_ucf101.py --workdir=DIR \
      --config.dataset.data_dir=/path/to/ucf101
"""

from vst.config_base import base_config
from vst.models.registry import model_config

UCF101_SPLIT1_TRAIN_SIZE = 9537


def get_config():
  c = base_config()
  c.model = model_config("c3d", "paper")
  c.dataset.name = "ucf101"
  c.dataset.data_dir = ""
  c.dataset.num_frames = 16
  c.dataset.frame_stride = 1
  c.dataset.min_resize = 128
  c.dataset.crop_size = 112
  c.dataset.num_classes = 101
  batch_size = 30
  steps_per_epoch = UCF101_SPLIT1_TRAIN_SIZE // batch_size
  c.train.batch_size = batch_size
  c.train.num_steps = 45 * steps_per_epoch
  c.train.optimizer = "sgd"
  c.train.momentum = 0.9
  c.train.learning_rate = 0.001
  c.train.schedule = "step"
  c.train.step_boundaries = (20 / 45, 40 / 45)
  c.train.step_factor = 0.1
  c.train.weight_decay = 5e-4
  c.train.weight_decay_mask = "all"
  c.train.log_every_steps = 100
  c.train.eval_every_steps = 5 * steps_per_epoch
  c.eval.batch_size = 30
  c.eval.split = "test"
  c.eval.num_clips = 10
  c.eval.num_crops = 1
  c.checkpoint.every_steps = 1000
  return c
