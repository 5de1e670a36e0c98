"""Lattice-LSTM (variant "tiny", RGB only) on `synthetic_motion`.

  python -m vst.main --config=configs/lattice_lstm_synthetic.py \
      --workdir=workdirs/lattice_lstm

`synthetic_motion` has no flow stream, so the lattice cell's gates are
driven by the RGB maps themselves; the two-stream model is
--config.model.streams='("rgb","flow")' on a dataset that provides flow.
"""

from vst.config_base import synthetic_config


def get_config():
  return synthetic_config("lattice_lstm", "tiny")
