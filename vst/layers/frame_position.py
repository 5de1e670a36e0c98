"""Position embeddings of ViTs applied to frames (TimeSformer, X-ViT).

TimeSformer (Bertasius et al. 2021) and X-ViT (Bulat et al. 2021) start from
an image ViT-B/16: each frame is cut into p×p patches, and the image model's
spatial position table is kept, with a separate table over time added to it.
`FramePositionEmbedding` adds those tables.
"""

import flax.linen as nn
import jax

from vst.layers import embed
from vst.layers import torch_init


TIME_INITS = {
    "zeros": nn.initializers.zeros,
    "trunc_normal": torch_init.TABLE,
}


class FramePositionEmbedding(nn.Module):
  """grid [B, T, H, W, D] + space[h, w] (+ time[t]); class tokens + positions.

  Params: `pos_embedding` [H, W, D] and `cls_pos_embedding` [D] (the image
  ViT's table, row 0 for the class token), `time_embedding` [T, D] when
  `use_time` (zero-initialised, as in both official codes, so that at
  initialisation every frame looks like an image to the image model). Tables
  are sized by the first call.

  A class token [B, D] gets its position only; per-frame class tokens
  [B, T, D] (X-ViT runs the image model on every frame, each with its class
  token) also get their frame's time embedding, as in the official X-ViT.

  Attributes:
    use_time: add the time table (off for TimeSformer's space-only model).
    time_init: a `TIME_INITS` name: "zeros" (official, for fine-tuning an
      image model) or "trunc_normal" (from scratch: frames start apart, so
      attention can tell their order, e.g. left from right motion).
    table_grid: (h, w) of the spatial table, resized bicubically to other
      frame grids (Motionformer's 14×14 at 336²); () sizes it by the grid.
    time_name: the time table's parameter name (Motionformer's
      `temporal_embedding`).
  """
  use_time: bool = True
  time_init: str = "zeros"
  table_grid: tuple[int, ...] = ()
  time_name: str = "time_embedding"

  @nn.compact
  def __call__(self, grid: jax.Array, cls: jax.Array | None = None
               ) -> tuple[jax.Array, jax.Array | None]:
    _, t, h, w, d = grid.shape
    init = torch_init.TABLE
    space = self.param("pos_embedding", init,
                       (tuple(self.table_grid) or (h, w)) + (d,))
    space = embed.resize_position_embedding(space[None], (1, h, w),
                                            "cubic")[0]
    grid = grid + space.astype(grid.dtype)
    time = None
    if self.use_time:
      time = self.param(self.time_name, TIME_INITS[self.time_init], (t, d))
      grid = grid + time[:, None, None].astype(grid.dtype)
    if cls is not None:
      cls = cls + self.param("cls_pos_embedding", init, (d,)).astype(cls.dtype)
      if time is not None and cls.ndim == 3:  # One class token per frame.
        cls = cls + time.astype(cls.dtype)
    return grid, cls
