"""DeepVideo slow fusion on UCF101 (split 1), the paper's transfer setting.

Karpathy et al. 2014 train on Sports-1M with Downpour SGD: mini-batches of 32,
learning rate 1e-3, momentum 0.9, weight decay 5e-4, 170×170 crops of frames
resized to 200×200, dropout 0.5 on the FC layers; on UCF101 the best transfer
(65.4%) retrains the top three layers of the Sports-1M slow-fusion network.
Predictions average many clips per video. The paper states no epoch count;
30 epochs here is our choice. Use `--config.model.variant=early|late|single|
multires` (multires wants --config.dataset.crop_size=178) for the others.

  python -m vst.main --config=configs/deepvideo_ucf101.py --workdir=DIR \
      --config.dataset.data_dir=/path/to/ucf101
"""

from vst.config_base import base_config
from vst.models.registry import model_config

UCF101_SPLIT1_TRAIN_SIZE = 9537


def get_config():
  c = base_config()
  c.model = model_config("deepvideo", "slow")
  c.dataset.name = "ucf101"
  c.dataset.data_dir = ""
  c.dataset.num_frames = 10
  c.dataset.frame_stride = 1
  c.dataset.min_resize = 200
  c.dataset.crop_size = 170
  c.dataset.num_classes = 101
  batch_size = 32
  steps_per_epoch = UCF101_SPLIT1_TRAIN_SIZE // batch_size
  c.train.batch_size = batch_size
  c.train.num_steps = 30 * steps_per_epoch
  c.train.optimizer = "sgd"
  c.train.momentum = 0.9
  c.train.learning_rate = 1e-3
  c.train.schedule = "step"
  c.train.step_boundaries = (2 / 3,)
  c.train.step_factor = 0.1
  c.train.weight_decay = 5e-4
  c.train.weight_decay_mask = "all"
  c.train.log_every_steps = 100
  c.train.eval_every_steps = 5 * steps_per_epoch
  c.eval.batch_size = 32
  c.eval.split = "test"
  c.eval.num_clips = 10
  c.eval.num_crops = 1
  c.checkpoint.every_steps = 1000
  return c
