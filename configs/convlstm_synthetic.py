"""ConvLSTM classifier (variant "tiny") on `synthetic_motion`: shared recipe.

  python -m vst.main --config=configs/convlstm_synthetic.py --workdir=workdirs/convlstm

Measured (600 AdamW steps of 32, 2 CPU cores shared with other jobs,
2026-11-30): test top-1 0.656 (train loss still falling), 77 train clips/s
(114 on a quiet machine, `python -m vst.bench`). Unlike LRCN's pooled frame
features, the ConvLSTM state keeps the 8×8 map, so it sees the objects move
in RGB alone.
"""

from vst.config_base import synthetic_config


def get_config():
  return synthetic_config("convlstm", "tiny")
