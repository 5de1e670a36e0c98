"""The pre-LN transformer encoder over a video token grid.

A block (`encoder_block`) is `vst.layers.blocks.Block` with one residual
attention sub-layer per stage of the pattern (`attention.get_pattern`), each
with its own LayerNorm, then the MLP. A stage the pattern marks
`blocks.without_class_token` (TimeSformer's temporal stage) runs without the
class token when the block is built with `class_token_skips`.
"""

from typing import Callable

import flax.linen as nn
import jax
import jax.numpy as jnp

from vst.layers import attention as attention_lib
from vst.layers import blocks
from vst.layers.attention import Tokens


def encoder_block(num_heads: int, mlp_dim: int, attention: str = "joint",
                  dropout_rate: float = 0.0, drop_path_rate: float = 0.0,
                  layer_norm_eps: float = 1e-6, gelu_approximate: bool = True,
                  dtype: str = "float32", class_token_skips: bool = False,
                  kernel_init: Callable = nn.initializers.xavier_uniform(), *,
                  remat: bool = False, name: str | None = None
                  ) -> blocks.Block:
  """A pre-LN block: one residual attention sub-layer per pattern stage, MLP.

  Parameters are named after the stage: `attention_norm`, `attention` for a
  single-stage pattern; `space_attention_norm`, `space_attention`,
  `time_attention_norm`, `time_attention` for "factorized_self"; then
  `mlp_norm`, `mlp`. Call it as `block(grid, cls, train)`.

  Args:
    num_heads: attention heads.
    mlp_dim: MLP hidden width.
    attention: pattern name, see `attention.pattern_names()`.
    dropout_rate: dropout on each sub-layer's output (and inside the MLP).
    drop_path_rate: probability of dropping each residual branch (train only).
    layer_norm_eps: LayerNorm epsilon (1e-6 in ViT, Scenic and HF ViViT).
    gelu_approximate: see `blocks.Mlp`.
    dtype: compute dtype.
    class_token_skips: run the stages marked `blocks.without_class_token` on
      the grid alone, leaving the class token as it is (TimeSformer); off, the class
      token takes part in every stage (ViViT).
    kernel_init: of the attention projections and MLP.
    remat: recompute the block's activations in the backward pass.
    name: the block's name.
  """
  stages = tuple(
      blocks.attention_sublayer(
          stage, f"{stage}_norm", num_heads, mix, dtype=dtype,
          kernel_init=kernel_init,
          skips_class_token=(class_token_skips and
                             blocks.skips_class_token(mix)))
      for stage, mix in attention_lib.get_pattern(attention))
  mlp = blocks.mlp_sublayer(mlp_dim, dropout_rate=dropout_rate,
                            gelu_approximate=gelu_approximate, dtype=dtype,
                            kernel_init=kernel_init)
  block_cls = nn.remat(blocks.Block, static_argnums=(3,)) if remat else (
      blocks.Block)
  return block_cls(stages + (mlp,), blocks.layer_norm(layer_norm_eps, dtype),
                   dropout_rate, drop_path_rate, name=name)


class Encoder(nn.Module):
  """`num_layers` encoder blocks (`encoderblock_{i}`) and a final LayerNorm
  (`encoder_norm`, unless `final_norm` is off).

  Drop-path rates rise linearly from 0 at the first block to
  `drop_path_rate` at the last, as in Scenic's ViViT.

  Attributes:
    num_layers: depth.
    num_heads: attention heads.
    mlp_dim: MLP hidden width.
    attention: pattern name of every block.
    dropout_rate: see `encoder_block`.
    drop_path_rate: the last block's drop-path rate.
    layer_norm_eps: LayerNorm epsilon.
    gelu_approximate: see `blocks.Mlp`.
    dtype: compute dtype.
    remat: recompute each block's activations in the backward pass.
    class_token_skips: see `encoder_block`.
    final_norm: end with the LayerNorm.
    kernel_init: of every block's Dense kernels.
  """
  num_layers: int
  num_heads: int
  mlp_dim: int
  attention: str = "joint"
  dropout_rate: float = 0.0
  drop_path_rate: float = 0.0
  layer_norm_eps: float = 1e-6
  gelu_approximate: bool = True
  dtype: str = "float32"
  remat: bool = False
  class_token_skips: bool = False
  final_norm: bool = True
  kernel_init: Callable = nn.initializers.xavier_uniform()

  @nn.compact
  def __call__(self, grid: jax.Array, cls: jax.Array | None, *,
               train: bool) -> tuple[jax.Array, jax.Array | None]:
    """(grid [B, T, H, W, D], cls [B, D] | None) -> the same shapes."""
    rates = blocks.drop_path_rates(self.drop_path_rate, self.num_layers)
    for i, rate in enumerate(rates):
      grid, cls = encoder_block(
          self.num_heads, self.mlp_dim, self.attention, self.dropout_rate,
          rate, self.layer_norm_eps, self.gelu_approximate, self.dtype,
          self.class_token_skips, self.kernel_init, remat=self.remat,
          name=f"encoderblock_{i}")(grid, cls, train)
    if not self.final_norm:
      return grid, cls
    norm = nn.LayerNorm(self.layer_norm_eps, dtype=jnp.dtype(self.dtype),
                        name="encoder_norm")
    return tuple(jax.tree.map(norm, Tokens(grid, cls)))
