"""DeepVideo fusions on `synthetic_motion`: where time enters decides learning.

The shared synthetic budget (8×32×32 clips, 8 motion classes, 600 AdamW steps
of 32 clips) with the tiny tower and windows of 4 frames, two windows per
clip averaged as in the paper. Slow fusion is the default; compare

  python -m vst.main --config=configs/deepvideo_synthetic.py --workdir=workdirs/dv_slow
  ... --config.model.fusion=early --workdir=workdirs/dv_early
  ... --config.model.fusion=late --workdir=workdirs/dv_late
  ... --config.model.fusion=single --config.model.window=1 --workdir=workdirs/dv_single
"""

from vst.config_base import synthetic_config


def get_config():
  return synthetic_config("deepvideo", "tiny")
