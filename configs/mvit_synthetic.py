"""A tiny MViT learning motion classes on `synthetic_motion` (CPU).

  python -m vst.main --config=configs/mvit_synthetic.py --workdir=workdirs/mvit

Below 90%: 59.8% test top-1 after these 600 steps (37.1% at 300, 164.7
train clips/s, one job, 2026-12-05); the best run so far is 61.5% with
`--config.train.num_steps=2400 --config.train.eval_every_steps=800
--config.train.learning_rate=5e-4` (8 min 7 s, 169 clips/s).

What holds it back, measured (2 CPU cores; README "MViT tiny" has the list):
  - First a plateau at ln 8 that it leaves at a step set by the draw (225
    here, ~525 / never by 600 with seeds 0 / 1 at 1200 steps, ~1200 at lr
    5e-4). Not the readout (max of the last grid: stuck), the head's or the
    blocks' initialisation (LeCun normal: stuck), the warm-up, Adam's β2,
    head dropout or lr 3e-3 (all stuck); weight decay 0 left it at ~175,
    as the draw allows. 2 heads, K/V stride 1×1×1 and a 3×4×4 cube
    embedding stayed at ln 8 for 600 steps, width 64 with 2 heads to step
    300 (stopped), 3×11×11 and 3×15×15 cube embeddings in the 4×4 layout
    below for 600. torchvision's MViT at these sizes stays there too
    (`python -m vst.tools.torch_control --config=configs/mvit_synthetic.py`:
    12.9%).
  - Then a second plateau near 60% whose confusion matrix (`confusion.png`
    in the workdir) is the same in every run that left ln 8: the four
    translations are 96-100% right, and right / left / down / up are never
    confused with the rest, while clockwise, counterclockwise, expand and
    contract all go to two of those four columns at near-even odds. The
    model sees that an object turns or scales but not which way, or even
    which of the two it does. A layout with one 8×8 stage and three blocks
    at 4×4 instead of 2×2 (`--config.model.dim_mul_at='(1,)'
    --config.model.head_mul_at='(1,)' --config.model.q_pool_at='(1,)'
    --config.model.kv_stride='(1,2,2)'`: 63.9% at 600, escape at ~275) and
    the same at width 64 with 2 heads (61.9%) end on the same matrix.
"""

from vst.config_base import synthetic_config


def get_config():
  c = synthetic_config("mvit", "tiny")
  c.model.drop_path_rate = 0.0
  return c
