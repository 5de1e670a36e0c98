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
map one to one: `norm1`, `attention`, `norm2`, `mlp/{fc1,fc2}`, `project`),
written as a `vst.layers.blocks.Block` whose shortcuts pool and project.
"""

import functools

import flax.linen as nn
import jax
import jax.numpy as jnp

from vst.layers import blocks
from vst.layers import patterns_pooling
from vst.layers import torch_init
from vst.layers.attention import Tokens


def skip_pool(grid: jax.Array, strides) -> jax.Array:
  """The residual path's max pool: kernel s+1 (s > 1), padding k//2."""
  kernel = tuple(s + 1 if s > 1 else s for s in strides)
  padding = tuple((k // 2, k // 2) for k in kernel)
  return nn.max_pool(grid, kernel, tuple(strides), padding)


def multiscale_block(num_heads: int, in_features: int, out_features: int,
                     kernel_q=(1, 1, 1), stride_q=(1, 1, 1),
                     kernel_kv=(3, 3, 3), stride_kv=(1, 1, 1),
                     mlp_ratio: float = 4.0, dropout_rate: float = 0.0,
                     drop_path_rate: float = 0.0, layer_norm_eps: float = 1e-6,
                     dtype: str = "float32", *, remat: bool = False,
                     name: str | None = None) -> blocks.Block:
  """One MViT block on (grid [B, T, H, W, D], cls [B, D] | None).

  Call it as `block(grid, cls, train)`.

  Args:
    num_heads: attention heads (head width D / num_heads).
    in_features: D, the width of the incoming tokens.
    out_features: D_out, the width after the MLP.
    kernel_q, stride_q: Q pooling (a stride > 1 shrinks the grid).
    kernel_kv, stride_kv: K/V pooling.
    mlp_ratio: MLP hidden width / D.
    dropout_rate: dropout in the MLP and on both branches.
    drop_path_rate: stochastic depth of both residual branches.
    layer_norm_eps: of every LayerNorm (1e-6).
    dtype: compute dtype.
    remat: rematerialise the block in the backward pass.
    name: the block's name.
  """
  mix = functools.partial(
      patterns_pooling.pooling_attention, kernel_q=tuple(kernel_q),
      stride_q=tuple(stride_q), kernel_kv=tuple(kernel_kv),
      stride_kv=tuple(stride_kv), layer_norm_eps=layer_norm_eps)
  pooled_skip = None
  if patterns_pooling.pools(kernel_q, stride_q):
    pooled_skip = lambda tokens, normed: Tokens(
        skip_pool(tokens.grid, stride_q), tokens.cls)
  attention = blocks.attention_sublayer(
      "attention", "norm1", num_heads, mix, dtype=dtype,
      kernel_init=torch_init.DENSE, shortcut=pooled_skip)

  def project(tokens: Tokens, normed: Tokens) -> Tokens:
    """The widening block's residual: a linear map of the normed tokens."""
    del tokens
    dense = nn.Dense(out_features, dtype=jnp.dtype(dtype),
                     kernel_init=torch_init.DENSE, name="project")
    return jax.tree.map(dense, normed)

  mlp = blocks.mlp_sublayer(
      int(in_features * mlp_ratio), dropout_rate=dropout_rate,
      gelu_approximate=False, dtype=dtype, kernel_init=torch_init.DENSE,
      out_features=out_features, norm_name="norm2",
      shortcut=project if out_features != in_features else None)
  block_cls = nn.remat(blocks.Block, static_argnums=(3,)) if remat else (
      blocks.Block)
  return block_cls((attention, mlp), blocks.layer_norm(layer_norm_eps, dtype),
                   dropout_rate, drop_path_rate, name=name)
