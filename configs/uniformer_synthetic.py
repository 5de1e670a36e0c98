"""A tiny UniFormer learning motion classes on `synthetic_motion` (CPU).

  python -m vst.main --config=configs/uniformer_synthetic.py --workdir=workdirs/uniformer

Measured 2026-11-30 (2 CPU cores, one job): test top-1 73.8 / 90.2 / 95.7%
at steps 1000 / 2000 / 3000, 181.4 train clips/s, 9 min 11 s. With the
depthwise convs' written-out gradient (`vst.layers.conv3d`; one job,
2026-12-05): 81.8 / 92.8 / 98.0%, 265.1 clips/s, 6 min 22 s.

The local MHRA kernel is 3×3×3 here, not the paper's 5×5×5. The paper's
kernel spans 5 of 8 frames and 5 of 56 positions per side at 16×224²; on
this 4×8×8 grid it would span more than every frame and most of the frame.
It is also what the CPU pays for: with 5×5×5 the same model trained at 34.3
clips/s and reached 53.5% at 600 steps (29.7% at 300) in 9 min 20 s (with
the new gradient `vst.bench` gives 111.5 clips/s for it, 255.6 for 3×3×3).
With the new gradient, 5×5×5 over 1800 steps
(`--config.model.local_kernel='(5,5,5)' --config.train.num_steps=1800
--config.train.eval_every_steps=600`, one job, 2026-12-05): 65.6 / 79.3 /
80.1% at 600 / 1200 / 1800, 107.8 clips/s, 9 min 27 s - below 90% in the
10-minute budget, where 3×3×3 is at 92.8% by step 2000.
"""

from vst.config_base import synthetic_config


def get_config():
  c = synthetic_config("uniformer", "tiny", num_steps=3000)
  c.model.drop_path_rate = 0.0
  c.model.local_kernel = (3, 3, 3)
  return c
