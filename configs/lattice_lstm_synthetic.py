"""Lattice-LSTM (variant "tiny") on `synthetic_motion_streams`: RGB + flow.

  python -m vst.main --config=configs/lattice_lstm_synthetic.py \
      --workdir=workdirs/lattice_lstm

The paper's two-stream L²STM at tiny size: the 16-frame synthetic_motion
video cut into 8 segments, each giving an RGB frame and one DIS optical
flow (vst.data's OpenCV routine, on the fly); each stream's conv trunk
feeds its lattice cell, whose input and forget gates also read the other
stream, and the streams' averaged probabilities are fused 1:1.

Measured (600 AdamW steps of 32, 2 CPU cores shared with other jobs,
2026-11-30): test top-1 0.881, 20 train clips/s.

RGB alone (--config.dataset.name=synthetic_motion --config.dataset.num_frames=8
--config.model.streams='("rgb",)' --config.model.fusion_weights='(1.0,)')
stays at chance: 0.121 after 600 steps. Not because the trunk pools the
motion away: with its last max pool removed (8×8 maps into the lattice, as
ConvLSTM's state, which learns RGB motion), the loss stayed at ln 8 and
test top-1 was 0.125 after 600 steps (46.5 clips/s, one job, 2026-11-30;
an experiment script registered that tower).
"""

from vst.config_base import synthetic_rgb_flow_segments


def get_config():
  return synthetic_rgb_flow_segments("lattice_lstm", fusion_weights=(1.0, 1.0))
