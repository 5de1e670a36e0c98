"""Layers of ViTs applied to frames: TimeSformer's encoder, frame positions.

TimeSformer (Bertasius et al. 2021) and X-ViT (Bulat et al. 2021) start from
an image ViT-B/16: each frame is cut into p×p patches, and the image model's
spatial position table is kept, with a separate table over time added to it.

`FramePositionEmbedding` adds those tables. `TimeSformerEncoder` is the
pre-LN encoder of `vst.layers.transformer` with one difference that TimeSformer
needs: a pattern stage marked `skips_class_token` (the temporal stage of
"divided" and "axial") runs on the grid alone and leaves the class token as
it is, as in the official code, where the class token never attends across
time. It also leaves the final LayerNorm to the caller, because the official
space-only model averages the frames *before* that norm.
"""

import flax.linen as nn
import jax
import jax.numpy as jnp

from vst.layers import attention as attention_lib
from vst.layers import patterns_timesformer
from vst.layers.attention import Tokens
from vst.layers.transformer import Mlp, drop_path


TIME_INITS = {
    "zeros": nn.initializers.zeros,
    "trunc_normal": nn.initializers.truncated_normal(0.02),
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
  """
  use_time: bool = True
  time_init: str = "zeros"

  @nn.compact
  def __call__(self, grid: jax.Array, cls: jax.Array | None = None
               ) -> tuple[jax.Array, jax.Array | None]:
    _, t, h, w, d = grid.shape
    init = nn.initializers.truncated_normal(0.02)
    space = self.param("pos_embedding", init, (h, w, d))
    grid = grid + space.astype(grid.dtype)
    time = None
    if self.use_time:
      time = self.param("time_embedding", TIME_INITS[self.time_init], (t, d))
      grid = grid + time[:, None, None].astype(grid.dtype)
    if cls is not None:
      cls = cls + self.param("cls_pos_embedding", init, (d,)).astype(cls.dtype)
      if time is not None and cls.ndim == 3:  # One class token per frame.
        cls = cls + time.astype(cls.dtype)
    return grid, cls


class TimeSformerBlock(nn.Module):
  """Pre-LN block: a residual attention sub-layer per pattern stage, an MLP.

  Parameters are named as in `transformer.EncoderBlock` (`<stage>_norm`,
  `<stage>`, `mlp_norm`, `mlp`), so the same pattern builds the same tree.

  Attributes: as `transformer.EncoderBlock`.
  """
  num_heads: int
  mlp_dim: int
  attention: str = "divided"
  dropout_rate: float = 0.0
  drop_path_rate: float = 0.0
  layer_norm_eps: float = 1e-6
  gelu_approximate: bool = False
  dtype: str = "float32"

  @nn.compact
  def __call__(self, grid: jax.Array, cls: jax.Array | None,
               train: bool) -> tuple[jax.Array, jax.Array | None]:
    """(grid [B, T, H, W, D], cls [B, D] | None) -> the same shapes.

    `train` is positional so that `nn.remat` can mark it static.
    """
    dtype = jnp.dtype(self.dtype)

    def residual(tokens, branch, name):
      norm = nn.LayerNorm(self.layer_norm_eps, dtype=dtype, name=f"{name}_norm")
      y = branch(jax.tree.map(norm, tokens))
      y = jax.tree.map(
          lambda x: nn.Dropout(self.dropout_rate)(x, deterministic=not train),
          y)
      if train and self.drop_path_rate > 0:
        y = drop_path(y, self.drop_path_rate, self.make_rng("dropout"))
      return jax.tree.map(jnp.add, tokens, y)

    for name, mix in attention_lib.get_pattern(self.attention):
      attend = attention_lib.MultiHeadAttention(
          self.num_heads, mix, dtype=self.dtype, name=name)
      if cls is not None and patterns_timesformer.skips_class_token(mix):
        grid = residual(Tokens(grid, None), attend, name).grid
      else:
        grid, cls = residual(Tokens(grid, cls), attend, name)
    mlp = Mlp(self.mlp_dim, self.dropout_rate, self.gelu_approximate,
              dtype=self.dtype, name="mlp")
    return tuple(residual(
        Tokens(grid, cls),
        lambda t: jax.tree.map(lambda x: mlp(x, train=train), t), "mlp"))


class TimeSformerEncoder(nn.Module):
  """`num_layers` TimeSformerBlocks (`encoderblock_{i}`), no final norm.

  Drop-path rates rise linearly from 0 to `drop_path_rate`, as in the
  official code.

  Attributes: as `transformer.Encoder`.
  """
  num_layers: int
  num_heads: int
  mlp_dim: int
  attention: str = "divided"
  dropout_rate: float = 0.0
  drop_path_rate: float = 0.0
  layer_norm_eps: float = 1e-6
  gelu_approximate: bool = False
  dtype: str = "float32"
  remat: bool = False

  @nn.compact
  def __call__(self, grid: jax.Array, cls: jax.Array | None, *,
               train: bool) -> tuple[jax.Array, jax.Array | None]:
    block_cls = (nn.remat(TimeSformerBlock, static_argnums=(3,))
                 if self.remat else TimeSformerBlock)
    for i in range(self.num_layers):
      rate = self.drop_path_rate * i / max(self.num_layers - 1, 1)
      grid, cls = block_cls(
          self.num_heads, self.mlp_dim, self.attention, self.dropout_rate,
          rate, self.layer_norm_eps, self.gelu_approximate, self.dtype,
          name=f"encoderblock_{i}")(grid, cls, train)
    return grid, cls
