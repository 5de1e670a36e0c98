"""TSN on `synthetic_motion_streams`: segments, modalities and consensus.

The shared synthetic budget (8×32×32 videos, 8 motion classes, 600 AdamW
steps of 32) with K=2 segments of 4 frames: one RGB frame and a stack of
L=3 DIS optical flows per segment (computed on the fly by vst.data's OpenCV
routine), the tiny ResNet backbone per modality and average consensus.
Partial BN and cross-modality init serve ImageNet-initialised fine-tuning,
so they are off when training from scratch here. Compare consensus and
modalities with, e.g.,

  python -m vst.main --config=configs/tsn_synthetic.py --workdir=workdirs/tsn
  ... --config.model.consensus=trn     (or max, tle)
  ... --config.model.modalities=rgb --config.dataset.modalities=rgb
"""

from vst.config_base import synthetic_config, synthetic_streams


def get_config():
  c = synthetic_streams(synthetic_config("tsn", "tiny"), num_segments=2,
                        new_length=3)
  c.model.modalities = ("rgb", "flow")
  c.model.new_length = 3
  return c
