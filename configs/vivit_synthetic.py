"""The main job: a tiny ViViT learning motion classes on `synthetic_motion`.

  python -m vst.main --config=configs/vivit_synthetic.py --workdir=workdirs/vivit

Other ViViT models by override, e.g. --config.model.vivit_model=factorised_encoder.
"""

from vst.config_base import synthetic_config


def get_config():
  c = synthetic_config("vivit", "tiny")
  c.model.vivit_model = "spatio_temporal"
  return c
