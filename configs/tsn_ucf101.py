"""TSN, BN-Inception, RGB + optical flow on UCF101 (split 1): the paper recipe.

Wang et al. 2016 with the official training settings: K=3 segments, one RGB
frame or a stack of L=5 TV-L1 flows per segment, average consensus, ImageNet
initialisation (flow by cross-modality init), partial BN, dropout 0.8 (RGB) /
0.7 (flow), mini-batch SGD with momentum 0.9 and batch 256; RGB starts at
lr 0.001 divided by 10 every 2,000 iterations and stops at 4,500; flow starts
at 0.005, divided at 12,000 and 18,000, and stops at 20,000. This config trains
both streams in one model (one backbone per modality, scores fused 1 : 1.5)
on the flow schedule; single-stream runs use --config.model.variant=
bn_inception (RGB schedule) or bn_inception_flow. Test: 25 snippets × 10
crops (M).

Flow is precomputed for real videos with `python -m vst.tools.flow` (the
same vst.data.optical_flow routine as the synthetic dataset) and read by the
ucf101 dataset.

  python -m vst.main --config=configs/tsn_ucf101.py --workdir=DIR \
      --config.dataset.data_dir=/path/to/ucf101
"""

from vst.config_base import base_config
from vst.models.registry import model_config


def get_config():
  c = base_config()
  c.model = model_config("tsn", "bn_inception_two_stream")
  c.dataset.name = "ucf101"
  c.dataset.data_dir = ""
  # K=3 segments of L=5 frames: flow stacks of 5, RGB the first of each.
  c.dataset.sampling = "segments"
  c.dataset.segment_length = 5
  c.dataset.num_frames = 15
  c.dataset.modalities = ("rgb", "flow")
  c.dataset.flow_dir = ""
  c.dataset.frame_stride = 1
  c.dataset.min_resize = 256
  c.dataset.crop_size = 224
  c.dataset.num_classes = 101
  c.train.batch_size = 256
  c.train.num_steps = 20000
  c.train.optimizer = "sgd"
  c.train.momentum = 0.9
  c.train.learning_rate = 0.005
  c.train.schedule = "step"
  c.train.step_boundaries = (12000 / 20000, 18000 / 20000)
  c.train.step_factor = 0.1
  c.train.weight_decay = 5e-4
  c.train.weight_decay_mask = "all"
  c.train.grad_clip_norm = 40.0
  c.train.log_every_steps = 100
  c.train.eval_every_steps = 2000
  c.eval.batch_size = 32
  c.eval.split = "test"
  c.eval.num_clips = 25
  c.eval.num_crops = 10
  c.checkpoint.every_steps = 1000
  return c
