"""UniFormer's blocks: dynamic position embedding and relation aggregators.

Li et al. 2022 write every block as DPE → MHRA → FFN, where the multi-head
relation aggregator (MHRA) mixes tokens with an affinity A:

  local MHRA   A is a learned function of the *relative position* only,
               non-zero within a t×k×k neighbourhood. That is a depthwise
               3D conv (5×5×5), between a 1×1×1 "value" projection and a
               1×1×1 output projection; BatchNorm before it, as in the
               official code. Used in the shallow stages, where tokens are
               many and redundant.
  global MHRA  A is content similarity over all tokens: standard joint
               self-attention (`vst.layers.attention`, the "joint" pattern),
               LayerNorm before it. Used in the deep stages.

The DPE is x + depthwise 3×3×3 conv(x) in every block: position information
that adapts to any clip size, so there are no position tables to resize.
1×1×1 convs are written as Dense layers (the same map and MACs, faster on
CPU); `vst.models.convert.uniformer_official` reshapes their kernels.
"""

import flax.linen as nn
import jax
import jax.numpy as jnp

from vst.layers import blocks
from vst.layers import conv3d
from vst.layers import scope
from vst.layers import torch_init
from vst.layers import transformer
from vst.layers.attention import Tokens


def _same(kernel_size) -> tuple[tuple[int, int], ...]:
  return tuple((k // 2, k // 2) for k in kernel_size)


class DynamicPositionEmbedding(nn.Module):
  """[B, T, H, W, C] -> x + depthwise conv(x) (with bias), same shape."""
  kernel_size: tuple[int, int, int] = (3, 3, 3)
  dtype: str = "float32"

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    channels = x.shape[-1]
    return x + conv3d.Conv3D(channels, tuple(self.kernel_size),
                             padding=_same(self.kernel_size), groups=channels,
                             dtype=self.dtype, kernel_init=torch_init.CONV,
                             name="conv")(x)


class LocalMHRA(nn.Module):
  """1×1×1 value projection → depthwise t×k×k affinity → 1×1×1 projection."""
  kernel_size: tuple[int, int, int] = (5, 5, 5)
  dtype: str = "float32"

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    dtype, channels = jnp.dtype(self.dtype), x.shape[-1]
    dense = lambda name: nn.Dense(channels, dtype=dtype,
                                  kernel_init=torch_init.DENSE, name=name)
    x = dense("value")(x)
    x = conv3d.Conv3D(channels, tuple(self.kernel_size),
                      padding=_same(self.kernel_size), groups=channels,
                      dtype=self.dtype, kernel_init=torch_init.CONV,
                      name="affinity")(x)
    return dense("proj")(x)


class LocalBlock(nn.Module):
  """DPE; x + local MHRA(BN(x)); x + FFN(BN(x)) — UniFormer's CBlock.

  The two residual branches are a `blocks.Block` sharing this module's scope
  (parameters `dpe`, `norm1`, `mhra`, `norm2`, `mlp`, as in the official
  code), with no dropout on the branches' outputs.

  Attributes:
    mlp_ratio: FFN hidden width / C.
    kernel_size: local affinity neighbourhood.
    dropout_rate: dropout in the FFN.
    drop_path_rate: stochastic depth of both residual branches.
    bn_momentum: flax BatchNorm momentum (1 - PyTorch's 0.1).
    dtype: compute dtype.
  """
  mlp_ratio: float = 4.0
  kernel_size: tuple[int, int, int] = (5, 5, 5)
  dropout_rate: float = 0.0
  drop_path_rate: float = 0.0
  bn_momentum: float = 0.9
  dtype: str = "float32"

  @nn.compact
  def __call__(self, x: jax.Array, train: bool) -> jax.Array:
    """`train` is positional so that `nn.remat` can mark it static."""
    norm = lambda name: nn.BatchNorm(
        use_running_average=not train, momentum=self.bn_momentum,
        epsilon=1e-5, dtype=jnp.dtype(self.dtype), name=name)
    x = DynamicPositionEmbedding(dtype=self.dtype, name="dpe")(x)
    block = blocks.Block(
        (local_mhra_sublayer(self.kernel_size, self.dtype),
         blocks.mlp_sublayer(
             int(x.shape[-1] * self.mlp_ratio),
             dropout_rate=self.dropout_rate, gelu_approximate=False,
             dtype=self.dtype, kernel_init=torch_init.DENSE,
             norm_name="norm2")),
        norm, drop_path_rate=self.drop_path_rate)
    x, _ = scope.inline(block)(x, None, train)
    return x


def local_mhra_sublayer(kernel_size=(5, 5, 5), dtype: str = "float32"
                        ) -> blocks.Sublayer:
  """Local MHRA as a block branch (`mhra`, after `norm1`)."""
  def build(name):
    mhra = LocalMHRA(tuple(kernel_size), dtype, name=name)
    return lambda tokens, train: Tokens(mhra(tokens.grid))
  return blocks.Sublayer("mhra", "norm1", build)


class GlobalBlock(nn.Module):
  """DPE, then a pre-LN transformer block of joint attention — SABlock.

  The transformer block is `vst.layers.transformer.encoder_block` (LayerNorm
  eps 1e-6, exact GELU, q/k/v with bias), so global MHRA is the shared
  attention kernel, not a copy.

  Attributes:
    num_heads: attention heads (C / head_dim).
    mlp_ratio: FFN hidden width / C.
    dropout_rate: dropout after attention and in the FFN.
    drop_path_rate: stochastic depth of both residual branches.
    dtype: compute dtype.
  """
  num_heads: int
  mlp_ratio: float = 4.0
  dropout_rate: float = 0.0
  drop_path_rate: float = 0.0
  dtype: str = "float32"

  @nn.compact
  def __call__(self, x: jax.Array, train: bool) -> jax.Array:
    x = DynamicPositionEmbedding(dtype=self.dtype, name="dpe")(x)
    x, _ = transformer.encoder_block(
        self.num_heads, int(x.shape[-1] * self.mlp_ratio), "joint",
        self.dropout_rate, self.drop_path_rate, layer_norm_eps=1e-6,
        gelu_approximate=False, dtype=self.dtype,
        kernel_init=torch_init.DENSE, name="transformer")(
            x, None, train)
    return x
