"""csn (variant "tiny") on `synthetic_motion`.

  python -m vst.main --config=configs/csn_synthetic.py --workdir=workdirs/csn

Measured on 2 CPU cores (2026-11-30, two or three jobs sharing the cores):
69.9% / 88.1% / 93.0% test top-1 at steps 800 / 1600 / 2400, 5 min 54 s wall
(441 train clips/s on a quiet machine under `vst.bench`). With the
depthwise convs' written-out gradient (`vst.layers.conv3d`; one job,
2026-12-05): 71.5 / 92.4 / 96.1%, 405.6 train clips/s, 3 min 27 s.
"""

from vst.config_base import synthetic_config


def get_config():
  return synthetic_config("csn", "tiny", num_steps=2400)
