"""Beyond Short Snippets (variant "tiny") on `synthetic_motion_streams`.

  python -m vst.main --config=configs/snippets_lstm_synthetic.py \
      --workdir=workdirs/snippets_lstm

The paper's image + optical-flow late fusion at tiny size: the 16-frame
synthetic_motion video cut into 8 segments, each giving an RGB frame and one
DIS optical flow (vst.data's OpenCV routine, on the fly); each stream is the
deep LSTM (two layers of 64 here, linear step weights) over its tower's
features, and the streams' probabilities are averaged 1:2. The pooling
models by override, e.g. --config.model.aggregation=conv_pooling; max
pooling over time discards frame order, so on motion-defined classes the
pooling models are expected to trail the LSTM and time_conv, which see it.

Measured (600 AdamW steps of 32, 2 CPU cores shared with other jobs,
2026-11-30): test top-1 0.918, 40 train clips/s. The image stream alone
(--config.model.streams='("rgb",)' --config.model.fusion_weights='(1.0,)')
stays at chance (0.143 on 8×32² synthetic_motion): no single frame shows
the class, and pooled tower features keep too little of where objects are.
"""

from vst.config_base import synthetic_rgb_flow_segments


def get_config():
  return synthetic_rgb_flow_segments("snippets_lstm", fusion_weights=(1.0, 2.0))
