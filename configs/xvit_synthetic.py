"""A tiny X-ViT learning motion classes on `synthetic_motion` (CPU).

  python -m vst.main --config=configs/xvit_synthetic.py --workdir=workdirs/xvit

The paper's one-frame patches: --config.model.tubelet_frames=1 (88.3%, see
below).
"""

from vst.config_base import synthetic_config


def get_config():
  c = synthetic_config("xvit", "tiny", num_steps=3600)
  # From scratch, a random head learns faster than the fine-tuning one, and
  # the released 0.5 head dropout only slows a model this small.
  c.model.head_init = "lecun_normal"
  c.model.head_dropout_rate = 0.0
  # The shared 50-step warm-up left it at ln 8 for ~1100 steps: 54.1% after
  # 3600 (21.5 / 40.4% at 1200 / 2400; 228.6 clips/s). A 400-step warm-up
  # removes that stall: 59.4 / 86.3 / 87.5% at 1200 / 2400 / 3600, 232.6
  # train clips/s, 8 min 32 s (one job, 2026-11-30). 4200 steps gave 87.9%
  # in 10 min 38 s (216.6 clips/s), over the 10-minute budget, so 3600 stay.
  # A random time table (time_init="trunc_normal", so frames start apart for
  # the order-blind temporal head) is worse: 39.1 / 75.0 / 81.8% at 1200 /
  # 2400 / 3600, 221.8 clips/s (one job, 2026-12-01); the official zeros stay.
  # Learning rate 2e-3 is slower: 26.9% at step 1200 (59.4% at 1e-3), loss
  # still 1.59 at step 1925, where the run was stopped (2026-12-01).
  # (These notes up to the tubelets are with the paper's 1×8×8 patches,
  # which see one frame each; the shifted channels of the mixing attention
  # carry the motion.)
  c.train.warmup_steps = 400
  # Adam's β2 = 0.95 (a ~20-step memory of squared gradients instead of
  # ~1000) gets it off ln 8 sooner: 81.1 / 88.1 / 88.3% at 1200 / 2400 /
  # 3600 against 59.4 / 86.3 / 87.5% with 0.999 (two jobs on the cores,
  # 2026-12-01). Where it stops is the rotation pair: confusion.png shows
  # the six other motions right and clockwise / counterclockwise near chance
  # (7 of 8 classes = 87.5%). Measured the same day, not kept: t_w = 2 (76.8
  # / 85.9 / 87.9%), SHIFT_DIV 4 (still at ln 8 at step 800 with β2 0.95, at
  # step 1400 with 0.999; both experiment-only patterns), 6 layers (24.4 /
  # 60.4% at 1200 / 2400), and width 96 (78.3 / 88.9 / 89.5%, the rotation
  # pair a little above chance, but 0.065 GFLOPs a clip against 0.030, too
  # slow for 3600 steps in 10 minutes), learning rate 1.5e-3 (76.4 / 86.3 /
  # 89.5%), a 200-step warm-up (still at ln 8, 11.7%, at step 1200) and 2
  # heads (51.6% at 1200); several jobs on the cores.
  c.train.b2 = 0.95
  # ViViT's 2×8×8 tubelets (not a published X-ViT variant) let every token
  # see motion before the mixing: 81.1 / 87.9 / 92.0% at 1200 / 2400 / 3600,
  # with half the tokens (0.0158 GFLOPs a clip against 0.0304), 385.5 train
  # clips/s, 5 min 14 s (one job, 2026-12-05). The mixing then works on
  # pairs of frames, t_w = 1 pair each side.
  c.model.tubelet_frames = 2
  return c
