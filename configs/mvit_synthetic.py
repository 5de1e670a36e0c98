"""A tiny MViT learning motion classes on `synthetic_motion` (CPU).

  python -m vst.main --config=configs/mvit_synthetic.py --workdir=workdirs/mvit

Measured 2026-11-30 (2 CPU cores, one job): the loss sits at ln 8 until
step ~225, then falls; test top-1 33.2% at step 300, 51.2% at 600, 61.0
train clips/s. The escape from ln 8 is fragile: 1000-step schedules (lr
1e-3 or 4e-4) and K/V stride 1×2×2 were still at ln 8 after 425–600 steps,
and torchvision's MViT at these sizes, on the same batches and recipe
(`python -m vst.tools.torch_control --config=configs/mvit_synthetic.py`),
stays there for all 600 steps (12.9%; 13.3% in an earlier run).
Nor is the class-token readout the cause (as a mean readout is for the tiny
Swin): read out by the max of the normalised last grid instead (a pooling
field tried and not kept), it stayed at ln 8 for all 600 steps, 12.7% test
top-1 at 58.7 clips/s (one job, 2026-11-30). Nor does the longer warm-up
that fixed X-ViT help: 1100 steps (the 10-minute budget) with
warmup_steps=300 stayed at ln 8, 14.6 / 10.7% at 550 / 1100 (61.1 clips/s).
Nor is the small official head (trunc normal σ 0.02; a small head passes
the backbone little gradient): with --config.model.head_init=
lecun_normal the loss was 2.16 / 2.11 / 2.10 at steps 200 / 300 / 400, at
ln 8 where the official head's run had left it (2026-12-01, stopped there).
Nor does Adam's β2 = 0.95 that sped X-ViT up: ln 8 for all 600 steps,
12.3% test top-1 (2026-12-01, two jobs on the cores).

2026-12-05, with the depthwise convs' written-out gradient
(`vst.layers.conv3d`): this config trains at 164.7 clips/s (61.0 before)
and gives 37.1 / 59.8% at 300 / 600. The time that frees does not help
yet: 2400 steps stayed at ln 8 to step 1175 (11.3% at 600), also without
the 0.5 head dropout (11.5% at 600, ln 8 at 1200); so did learning rate
3e-3 (to step 475) and a cube embedding of temporal stride 1 (to step 225);
runs stopped there. 1200 steps left ln 8 at step ~525 with seed 0 (31.3 /
48.2% at 600 / 1200) and not by step 600 with seed 1 (10.7%). 2400 steps
at learning rate 5e-4 left it at step ~1200: 12.3 / 59.4 / 61.5% at 800 /
1600 / 2400, 169 clips/s, 8 min 7 s (one job) - the best so far.
"""

from vst.config_base import synthetic_config


def get_config():
  c = synthetic_config("mvit", "tiny")
  c.model.drop_path_rate = 0.0
  return c
