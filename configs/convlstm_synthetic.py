"""ConvLSTM classifier (variant "tiny") on `synthetic_motion`: shared recipe.

  python -m vst.main --config=configs/convlstm_synthetic.py --workdir=workdirs/convlstm
"""

from vst.config_base import synthetic_config


def get_config():
  return synthetic_config("convlstm", "tiny")
