"""Two-stream (spatial + temporal CNN) on `synthetic_motion_streams`.

The shared synthetic budget (8×32×32 videos, 8 motion classes, 600 AdamW
steps of 32) with tiny towers: 2 frames per video, each with a stack of L=3
DIS optical flows computed on the fly by vst.data's OpenCV routine; frame
scores averaged, streams fused by averaging their softmax scores. The
lecture's comparison:

  python -m vst.main --config=configs/two_stream_synthetic.py --workdir=workdirs/ts
  ... --config.model.streams=rgb --workdir=workdirs/ts_spatial
  ... --config.model.streams=flow --workdir=workdirs/ts_temporal
  ... --config.model.score_fusion=linear     (the paper's SVM fusion)
  ... --config.model.fusion=conv --config.model.fusion_layer=conv3
"""

from vst.config_base import synthetic_config, synthetic_streams


def get_config():
  c = synthetic_streams(synthetic_config("two_stream", "tiny"),
                        num_segments=2, new_length=3)
  c.model.new_length = 3
  return c
