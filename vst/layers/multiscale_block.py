"""MViT's multiscale transformer block: pooling attention, pooled residual.

  x ─ LN ─ pooling attention (Q stride s) ─┐
  └──────── max pool (stride s) ──────────(+)─ y
  y ─ LN ─┬─ MLP (D → 4D → D_out) ────────┐
          └─ Dense(D_out) if D_out ≠ D, else y ─(+)─ out

A block whose Q is pooled pools its residual path by a max pool with kernel
s+1 (where s > 1) to the same grid; a block that widens the channels (the
last of a stage) does so in its MLP, with a linear projection of the
normalised tokens on the residual path. This is MViTv1 as released in
SlowFast, pytorchvideo and torchvision (`MultiscaleBlock`, whose parameters
map one to one: `norm1`, `attention`, `norm2`, `mlp/{fc1,fc2}`, `project`).
"""

import functools

import flax.linen as nn
import jax
import jax.numpy as jnp

from vst.layers import attention as attention_lib
from vst.layers import patterns_pooling
from vst.layers import torch_init
from vst.layers import transformer
from vst.layers.attention import Tokens


def skip_pool(grid: jax.Array, strides) -> jax.Array:
  """The residual path's max pool: kernel s+1 (s > 1), padding k//2."""
  kernel = tuple(s + 1 if s > 1 else s for s in strides)
  padding = tuple((k // 2, k // 2) for k in kernel)
  return nn.max_pool(grid, kernel, tuple(strides), padding)


class MultiscaleBlock(nn.Module):
  """One MViT block on (grid [B, T, H, W, D], cls [B, D] | None).

  Attributes:
    num_heads: attention heads (head width D / num_heads).
    out_features: D_out, the width after the MLP.
    kernel_q, stride_q: Q pooling (a stride > 1 shrinks the grid).
    kernel_kv, stride_kv: K/V pooling.
    mlp_ratio: MLP hidden width / D.
    dropout_rate: dropout in the MLP.
    drop_path_rate: stochastic depth of both residual branches.
    layer_norm_eps: of every LayerNorm (1e-6).
    dtype: compute dtype.
  """
  num_heads: int
  out_features: int
  kernel_q: tuple[int, int, int] = (1, 1, 1)
  stride_q: tuple[int, int, int] = (1, 1, 1)
  kernel_kv: tuple[int, int, int] = (3, 3, 3)
  stride_kv: tuple[int, int, int] = (1, 1, 1)
  mlp_ratio: float = 4.0
  dropout_rate: float = 0.0
  drop_path_rate: float = 0.0
  layer_norm_eps: float = 1e-6
  dtype: str = "float32"

  @nn.compact
  def __call__(self, grid: jax.Array, cls: jax.Array | None,
               train: bool) -> tuple[jax.Array, jax.Array | None]:
    """`train` is positional so that `nn.remat` can mark it static."""
    dtype = jnp.dtype(self.dtype)
    width = grid.shape[-1]
    tokens = Tokens(grid, cls)

    def branch(y):
      y = jax.tree.map(
          lambda x: nn.Dropout(self.dropout_rate)(x, deterministic=not train),
          y)
      if train and self.drop_path_rate > 0:
        y = transformer.drop_path(y, self.drop_path_rate,
                                  self.make_rng("dropout"))
      return y

    norm1 = nn.LayerNorm(self.layer_norm_eps, dtype=dtype, name="norm1")
    mix = functools.partial(
        patterns_pooling.pooling_attention, kernel_q=tuple(self.kernel_q),
        stride_q=tuple(self.stride_q), kernel_kv=tuple(self.kernel_kv),
        stride_kv=tuple(self.stride_kv), layer_norm_eps=self.layer_norm_eps)
    attended = attention_lib.MultiHeadAttention(
        self.num_heads, mix, dtype=self.dtype, kernel_init=torch_init.DENSE,
        name="attention")(
            jax.tree.map(norm1, tokens))
    if patterns_pooling.pools(self.kernel_q, self.stride_q):
      tokens = Tokens(skip_pool(tokens.grid, self.stride_q), tokens.cls)
    tokens = jax.tree.map(jnp.add, tokens, branch(attended))

    normed = jax.tree.map(
        nn.LayerNorm(self.layer_norm_eps, dtype=dtype, name="norm2"), tokens)
    mlp = transformer.Mlp(
        int(width * self.mlp_ratio), self.dropout_rate,
        gelu_approximate=False, dtype=self.dtype,
        kernel_init=torch_init.DENSE, out_features=self.out_features,
        name="mlp")
    if self.out_features != width:
      tokens = jax.tree.map(
          nn.Dense(self.out_features, dtype=dtype,
                   kernel_init=torch_init.DENSE, name="project"), normed)
    mlped = jax.tree.map(lambda x: mlp(x, train=train), normed)
    out = jax.tree.map(jnp.add, tokens, branch(mlped))
    return tuple(out)
