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

from vst import config_recipes as recipes


def get_config():
  c = recipes.ucf101_config("tsn", "bn_inception_two_stream", num_frames=15,
                            crop_size=224, min_resize=256)
  # K=3 segments of L=5 frames: flow stacks of 5, RGB the first of each.
  c.dataset.sampling = "segments"
  c.dataset.segment_length = 5
  c.dataset.modalities = ("rgb", "flow")
  c.dataset.flow_dir = ""
  recipes.sgd(c, learning_rate=0.005, batch_size=256, num_steps=20000,
              boundaries=(12000 / 20000, 18000 / 20000), decay_all=True)
  c.train.grad_clip_norm = 40.0
  recipes.multi_view_test(c, num_clips=25, num_crops=10, batch_size=32)
  recipes.periodic(c, eval_every=2000)
  return c
