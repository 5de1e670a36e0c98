"""A tiny TimeSformer (divided attention) learning motion on `synthetic_motion`.

  python -m vst.main --config=configs/timesformer_synthetic.py --workdir=workdirs/timesformer

Other schemes by override: --config.model.attention=joint (or space,
sparse_local_global, axial). The paper's one-frame patches:
--config.model.tubelet_frames=1 (49.0% here, see below).
"""

from vst.config_base import synthetic_config


def get_config():
  c = synthetic_config("timesformer", "tiny", num_steps=3600)
  c.model.attention = "divided"
  # From scratch, a random head learns faster than a zero one (as for ViViT).
  c.model.head_init = "lecun_normal"
  # The official zero time embedding suits fine-tuning an image model; from
  # scratch, attention cannot tell frame order apart until it grows (these
  # notes up to the tubelets are with the paper's 1×8×8 patches): 29.5%
  # test top-1 after these 2000 steps with zeros, 49.0% with this (measured
  # 2026-11-30, official truncated-normal Dense init in both). Larger is
  # worse: a learnable table started at N(0, 0.2²), or at Transformer
  # sinusoids, kept the loss at ln 8 (10.9% / 10.7% after 1000 steps).
  c.model.time_init = "trunc_normal"
  # Like ViViT, a transformer without a conv's locality prior needs more
  # than the shared 600 steps. With one-frame patches, more does not help:
  # 3600 steps (10 min 29 s,
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
  # What does work is letting a token see motion before any attention:
  # ViViT's 2×8×8 tubelets instead of the paper's one-frame 1×8×8 patches
  # (half the tokens, 0.0203 GFLOPs a clip). 69.1 / 84.0 / 87.7 / 89.8% at
  # 500 / 1000 / 1500 / 2000 of 2000 steps (2026-12-01, several jobs on the
  # cores); with 3600 steps 75.8 / 89.1 / 92.4% at 1200 / 2400 / 3600, 304.6
  # train clips/s, 6 min 36 s (one job, 2026-12-05).
  c.model.tubelet_frames = 2
  return c
