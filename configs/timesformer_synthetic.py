"""A tiny TimeSformer (divided attention) learning motion on `synthetic_motion`.

  python -m vst.main --config=configs/timesformer_synthetic.py --workdir=workdirs/timesformer

Other schemes by override: --config.model.attention=joint (or space,
sparse_local_global, axial).
"""

from vst.config_base import synthetic_config


def get_config():
  c = synthetic_config("timesformer", "tiny")
  c.model.attention = "divided"
  # From scratch, a random head learns faster than a zero one (as for ViViT).
  c.model.head_init = "lecun_normal"
  # The official zero time embedding suits fine-tuning an image model; from
  # scratch, attention cannot tell frame order apart until it grows: 29.5%
  # test top-1 after these 2000 steps with zeros, 49.0% with this (measured
  # 2026-11-30, official truncated-normal Dense init in both). Larger is
  # worse: a learnable table started at N(0, 0.2²), or at Transformer
  # sinusoids, kept the loss at ln 8 (10.9% / 10.7% after 1000 steps).
  c.model.time_init = "trunc_normal"
  # Like ViViT, a transformer without a conv's locality prior needs more
  # than the shared 600 steps. More does not help: 3600 steps (10 min 29 s,
  # 188.7 clips/s) gave 39.1 / 47.3 / 46.7% at 1200 / 2400 / 3600. Nor does
  # the longer warm-up that fixed X-ViT: with warmup_steps=400, 22.9 / 29.9 /
  # 31.5% (188.1 clips/s, 2026-11-30). Nor does a live temporal branch: the
  # official zero-initialised temporal fc (which keeps the branch's attention
  # without gradient until the fc grows) initialised LeCun-normal instead gave
  # 33.2 / 33.4% at 500 / 1000 of 1000 steps, against 34.4% after the same
  # 1000 steps with zeros (an experiment-only pattern, 2026-12-01, two jobs
  # on the cores). Nor does Adam's β2 = 0.95 that sped X-ViT up (33.2 / 33.0%
  # at 500 / 1000 of 1000 steps, 2026-12-01). It finds each motion's axis,
  # not its direction: see the README.
  c.train.num_steps = 2000
  c.train.eval_every_steps = 500
  c.checkpoint.every_steps = 500
  return c
