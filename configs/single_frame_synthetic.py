"""DeepVideo's single-frame baseline on `synthetic_motion`.

The lecture's first lesson: when classes differ only in motion, a network that
looks at frames one at a time stays at chance however long it trains.

  python -m vst.main --config=configs/single_frame_synthetic.py --workdir=workdirs/single_frame
"""

from vst.config_base import synthetic_config


def get_config():
  return synthetic_config("single_frame", "tiny")
