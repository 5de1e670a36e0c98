"""LRCN (variant "tiny") on `synthetic_motion_streams`: RGB and flow LSTMs.

  python -m vst.main --config=configs/lrcn_synthetic.py --workdir=workdirs/lrcn
  ... --config.model.streams='("rgb",)' --config.model.fusion_weights='(1.0,)'

The paper's two-stream LRCN at tiny size: the 16-frame synthetic_motion
video is cut into 8 segments, each giving an RGB frame and one DIS optical
flow (vst.data's OpenCV routine, on the fly); each stream's tiny AlexNet-like
tower feeds a 64-unit LSTM, and the streams' averaged probabilities are
fused 1:2 (the paper weights flow above RGB). Measured (600 AdamW steps of
32, 2 CPU cores, 2026-11-30): test top-1 0.889, 58 train clips/s.

RGB alone stays at chance (0.139, train loss ln 8 throughout): every frame
of synthetic_motion looks the same whatever the class, and the tower's
pooled fc features keep too little of where the objects are for the LSTM to
see them move. The flow stream sees the motion in each step's input.
"""

from vst.config_base import synthetic_rgb_flow_segments


def get_config():
  return synthetic_rgb_flow_segments("lrcn", fusion_weights=(1.0, 2.0))
