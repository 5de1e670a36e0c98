"""Two-stream CNN-M-2048 on UCF101 (split 1), Simonyan and Zisserman 2014.

The paper trains each stream on its own, then fuses their scores: SGD with
momentum 0.9, batch 256, weight decay 5e-4, 224×224 crops, one RGB frame or
a stack of L=10 TV-L1 x/y flows per sample. From scratch (the temporal net),
learning rate 1e-2, divided by 10 after 50K and 70K iterations, stopping at
80K; the fine-tuned spatial net uses 1e-3, divided at 14K, stopping at 20K.
Dropout on fc6 and fc7. Test: 25 frames × 10 crops, scores averaged.

This config trains both streams jointly with average score fusion on the
temporal schedule; --config.model.variant=cnn_m_spatial / cnn_m_temporal
trains one stream (use the spatial schedule for cnn_m_spatial), and
cnn_m_svm learns the linear (SVM) score fusion. Flow is precomputed with
`python -m vst.tools.flow` (vst.data.optical_flow, as the synthetic set).

  python -m vst.main --config=configs/two_stream_ucf101.py --workdir=DIR \
      --config.dataset.data_dir=/path/to/ucf101 \
      --config.dataset.flow_dir=/path/to/ucf101_flow
"""

from vst.config_base import base_config
from vst.models.registry import model_config


def get_config():
  c = base_config()
  c.model = model_config("two_stream", "cnn_m")
  c.dataset.name = "ucf101"
  c.dataset.data_dir = ""
  # One segment of L=10 frames: a flow stack and its first RGB frame.
  c.dataset.sampling = "segments"
  c.dataset.segment_length = 10
  c.dataset.num_frames = 10
  c.dataset.modalities = ("rgb", "flow")
  c.dataset.flow_dir = ""
  c.dataset.min_resize = 256
  c.dataset.crop_size = 224
  c.dataset.num_classes = 101
  c.train.batch_size = 256
  c.train.num_steps = 80000
  c.train.optimizer = "sgd"
  c.train.momentum = 0.9
  c.train.learning_rate = 1e-2
  c.train.schedule = "step"
  c.train.step_boundaries = (50000 / 80000, 70000 / 80000)
  c.train.step_factor = 0.1
  c.train.weight_decay = 5e-4
  c.train.weight_decay_mask = "all"
  c.train.log_every_steps = 100
  c.train.eval_every_steps = 10000
  c.eval.batch_size = 32
  c.eval.split = "test"
  c.eval.num_clips = 25
  c.eval.num_crops = 10
  c.checkpoint.every_steps = 2000
  return c
