"""Multi-head pooling attention (MViT, Fan et al. 2021).

Before attending, the projected queries, keys and values of each head are
pooled over the token grid: pooling Q with a stride reduces the output
resolution (how MViT builds its stages), pooling K and V reduces the cost of
attention (T·H·W queries against T·H·W / s keys). The pooling is "conv"
pooling as in the released models: a depthwise 3D conv over the head
dimension Dh, shared by all heads, without bias, padding k//2, followed by a
LayerNorm over Dh. The class token is not pooled (it skips the conv) but is
normalised with the pooled tokens, as in SlowFast, pytorchvideo and
torchvision.

The output grid has the pooled query's shape, so a pattern with a Q stride
changes the grid; the residual path must be pooled to match (see
`vst.layers.multiscale_block`). `pooling` registers a single-stage pattern
with K/V pooled by 1×2×2 and no Q stride, usable in any encoder.
"""

import functools
import math

import flax.linen as nn
import jax
import jax.numpy as jnp

from vst.layers import conv3d
from vst.layers import torch_init
from vst.layers.attention import Tokens, attend_within, register_pattern


class HeadSharedDepthwiseConv(nn.Module):
  """[B, T, H, W, N, Dh] -> the same conv of every head's Dh channels.

  Param "kernel" [kt, kh, kw, 1, Dh]: one depthwise kernel shared by the
  heads, as torchvision's per-head pooling conv (a Conv3d over Dh applied to
  each head). It is tiled over the heads so that the conv runs on the grid's
  own layout: folding the heads into the batch instead costs a transpose each
  way, and with it XLA:CPU took twice as long for the MViT tiny train step
  (1104 → 531 ms for the parameter gradient at batch 32, forward 57 → 27 ms).
  """
  kernel_size: tuple[int, int, int]
  strides: tuple[int, int, int]

  @nn.compact
  def __call__(self, grid: jax.Array) -> jax.Array:
    heads, head_dim = grid.shape[4], grid.shape[5]
    kernel = self.param("kernel", torch_init.CONV,
                        tuple(self.kernel_size) + (1, head_dim), jnp.float32)
    padding = tuple((k // 2, k // 2) for k in self.kernel_size)
    x = conv3d.spacetime_conv(
        grid.reshape(grid.shape[:4] + (heads * head_dim,)),
        jnp.tile(kernel, (1, 1, 1, 1, heads)).astype(grid.dtype),
        tuple(self.strides), padding, groups=heads * head_dim)
    return x.reshape(x.shape[:4] + (heads, head_dim))


class AttentionPool(nn.Module):
  """Depthwise conv pooling of per-head tokens, then LayerNorm over Dh.

  Attributes:
    kernel_size: (kt, kh, kw) of the conv.
    strides: (st, sh, sw).
    layer_norm_eps: of the LayerNorm after pooling.
  """
  kernel_size: tuple[int, int, int]
  strides: tuple[int, int, int]
  layer_norm_eps: float = 1e-6

  @nn.compact
  def __call__(self, tokens: Tokens) -> Tokens:
    """Tokens (grid [B, T, H, W, N, Dh], cls [B, N, Dh] | None) -> pooled."""
    x = HeadSharedDepthwiseConv(tuple(self.kernel_size), tuple(self.strides),
                                name="conv")(tokens.grid)
    norm = nn.LayerNorm(self.layer_norm_eps, dtype=x.dtype, name="norm")
    return jax.tree.map(norm, Tokens(x, tokens.cls))


def pools(kernel_size, strides) -> bool:
  """Whether a (kernel, stride) pair pools at all (torchvision's rule)."""
  return math.prod(kernel_size) > 1 or math.prod(strides) > 1


def pooled_shape(grid_shape, kernel_size, strides) -> tuple[int, ...]:
  """(T, H, W) after a pool with padding k//2."""
  if not pools(kernel_size, strides):
    return tuple(grid_shape)
  return tuple((n + 2 * (k // 2) - k) // s + 1
               for n, k, s in zip(grid_shape, kernel_size, strides))


def pooling_attention(query: Tokens, key: Tokens, value: Tokens, *,
                      kernel_q=(1, 1, 1), stride_q=(1, 1, 1),
                      kernel_kv=(3, 3, 3), stride_kv=(1, 2, 2),
                      layer_norm_eps: float = 1e-6) -> Tokens:
  """Joint attention of pooled queries over pooled keys and values.

  Creates the submodules `pool_q`, `pool_k`, `pool_v` (where they pool) of
  the calling `MultiHeadAttention`.

  Args:
    query: Tokens with grid [B, T, H, W, N, Dh] and cls [B, N, Dh] or None.
    key: like `query`.
    value: like `query`.
    kernel_q: Q pooling kernel.
    stride_q: Q pooling stride: the output grid's reduction.
    kernel_kv: K and V pooling kernel.
    stride_kv: K and V pooling stride.
    layer_norm_eps: of the LayerNorm after each pool.

  Returns:
    Tokens with grid [B, T', H', W', N, Dh] (the pooled query's grid).
  """
  def pool(tokens, kernel, stride, name):
    if not pools(kernel, stride):
      return tokens
    return AttentionPool(tuple(kernel), tuple(stride), layer_norm_eps,
                         name=name)(tokens)

  key = pool(key, kernel_kv, stride_kv, "pool_k")
  value = pool(value, kernel_kv, stride_kv, "pool_v")
  query = pool(query, kernel_q, stride_q, "pool_q")
  # The map lies on the pooled key grid; queries and keys are different
  # token sets, so there is no matrix to roll out.
  return attend_within(query, key, value, axes=(1, 2, 3), pattern="pooling",
                       has_matrix=False)


register_pattern("pooling", (("attention", functools.partial(
    pooling_attention, kernel_kv=(3, 3, 3), stride_kv=(1, 2, 2))),))
