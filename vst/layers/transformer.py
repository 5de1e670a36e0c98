"""The pre-LN transformer encoder over a video token grid.

One block class serves every attention pattern: for each stage of the pattern
(`attention.get_pattern`) it applies LayerNorm → attention → dropout → drop
path → residual, then the same around the MLP. Tokens travel as
`attention.Tokens(grid [B, T, H, W, D], cls [B, D] | None)`, and every
per-token op is mapped over both, so class tokens never need splicing into the
grid.
"""

from typing import Callable

import flax.linen as nn
import jax
import jax.numpy as jnp

from vst.layers import attention as attention_lib
from vst.layers import patterns_timesformer
from vst.layers.attention import Tokens


def drop_path(tokens: Tokens, rate: float, rng: jax.Array) -> Tokens:
  """Stochastic depth: zeroes a residual branch per example, rescales the rest.

  One draw per example covers its grid and its class token, since they are
  one branch.
  """
  keep = jax.random.bernoulli(rng, 1.0 - rate, (tokens.grid.shape[0],))

  def apply(x):
    mask = keep.reshape((-1,) + (1,) * (x.ndim - 1))
    return jnp.where(mask, x / (1.0 - rate), jnp.zeros_like(x))

  return jax.tree.map(apply, tokens)


class Mlp(nn.Module):
  """Dense → GELU → dropout → Dense → dropout, token-wise.

  Attributes:
    mlp_dim: hidden width.
    dropout_rate: dropout after each Dense.
    gelu_approximate: tanh GELU (Scenic, big_vision, HF ViViT's "gelu_fast")
      or the exact erf GELU.
    dtype: compute dtype.
    kernel_init: of both Dense layers (Xavier uniform as in Scenic).
    out_features: output width; None keeps the input's (MViT's last block
      of a stage widens the channels here).
  """
  mlp_dim: int
  dropout_rate: float = 0.0
  gelu_approximate: bool = True
  dtype: str = "float32"
  kernel_init: Callable = nn.initializers.xavier_uniform()
  out_features: int | None = None

  @nn.compact
  def __call__(self, x: jax.Array, *, train: bool) -> jax.Array:
    dtype = jnp.dtype(self.dtype)
    dense = lambda features, name: nn.Dense(
        features, dtype=dtype, kernel_init=self.kernel_init, name=name)
    y = dense(self.mlp_dim, "fc1")(x)
    y = nn.gelu(y, approximate=self.gelu_approximate)
    y = nn.Dropout(self.dropout_rate)(y, deterministic=not train)
    y = dense(self.out_features or x.shape[-1], "fc2")(y)
    return nn.Dropout(self.dropout_rate)(y, deterministic=not train)


class EncoderBlock(nn.Module):
  """Pre-LN block: one residual attention sub-layer per pattern stage, an MLP.

  Parameters are named after the stage: `attention_norm`, `attention` for a
  single-stage pattern; `space_attention_norm`, `space_attention`,
  `time_attention_norm`, `time_attention` for "factorized_self"; then
  `mlp_norm`, `mlp`.

  Attributes:
    num_heads: attention heads.
    mlp_dim: MLP hidden width.
    attention: pattern name, see `attention.pattern_names()`.
    dropout_rate: dropout on each sub-layer's output.
    drop_path_rate: probability of dropping each residual branch (train only).
    layer_norm_eps: LayerNorm epsilon (1e-6 in ViT, Scenic and HF ViViT).
    gelu_approximate: see `Mlp`.
    dtype: compute dtype.
    class_token_skips: run the pattern stages marked `skips_class_token` on
      the grid alone, leaving the class token as it is (TimeSformer); off,
      the class token takes part in every stage (ViViT).
    kernel_init: of the attention projections and MLP (see `Mlp`).
  """
  num_heads: int
  mlp_dim: int
  attention: str = "joint"
  dropout_rate: float = 0.0
  drop_path_rate: float = 0.0
  layer_norm_eps: float = 1e-6
  gelu_approximate: bool = True
  dtype: str = "float32"
  class_token_skips: bool = False
  kernel_init: Callable = nn.initializers.xavier_uniform()

  @nn.compact
  def __call__(self, grid: jax.Array, cls: jax.Array | None,
               train: bool) -> tuple[jax.Array, jax.Array | None]:
    """Applies the block.

    `train` is positional (not keyword-only) so that `nn.remat` can mark it
    static.

    Args:
      grid: [B, T, H, W, D] tokens.
      cls: [B, D] class tokens, or None.
      train: enables dropout and drop path (rng collection "dropout").

    Returns:
      (grid, cls) of the same shapes.
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
          self.num_heads, mix, dtype=self.dtype,
          kernel_init=self.kernel_init, name=name)
      if (self.class_token_skips and cls is not None and
          patterns_timesformer.skips_class_token(mix)):
        grid = residual(Tokens(grid, None), attend, name).grid
      else:
        grid, cls = residual(Tokens(grid, cls), attend, name)
    mlp = Mlp(self.mlp_dim, self.dropout_rate, self.gelu_approximate,
              dtype=self.dtype, kernel_init=self.kernel_init, name="mlp")
    return tuple(residual(
        Tokens(grid, cls),
        lambda t: jax.tree.map(lambda x: mlp(x, train=train), t), "mlp"))


class Encoder(nn.Module):
  """`num_layers` EncoderBlocks (`encoderblock_{i}`) and a final LayerNorm
  (`encoder_norm`, unless `final_norm` is off).

  Drop-path rates rise linearly from 0 at the first block to
  `drop_path_rate` at the last, as in Scenic's ViViT.

  Attributes:
    num_layers: depth.
    num_heads: attention heads.
    mlp_dim: MLP hidden width.
    attention: pattern name of every block.
    dropout_rate: see `EncoderBlock`.
    drop_path_rate: the last block's drop-path rate.
    layer_norm_eps: LayerNorm epsilon.
    gelu_approximate: see `Mlp`.
    dtype: compute dtype.
    remat: recompute each block's activations in the backward pass.
    class_token_skips: see `EncoderBlock`.
    final_norm: end with the LayerNorm.
    kernel_init: of every block's Dense kernels (see `Mlp`).
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
    block_cls = (nn.remat(EncoderBlock, static_argnums=(3,)) if self.remat
                 else EncoderBlock)
    for i in range(self.num_layers):
      rate = self.drop_path_rate * i / max(self.num_layers - 1, 1)
      grid, cls = block_cls(
          self.num_heads, self.mlp_dim, self.attention, self.dropout_rate,
          rate, self.layer_norm_eps, self.gelu_approximate, self.dtype,
          self.class_token_skips, self.kernel_init,
          name=f"encoderblock_{i}")(grid, cls, train)
    if not self.final_norm:
      return grid, cls
    norm = nn.LayerNorm(self.layer_norm_eps, dtype=jnp.dtype(self.dtype),
                        name="encoder_norm")
    return tuple(jax.tree.map(norm, Tokens(grid, cls)))
