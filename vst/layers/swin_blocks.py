"""The pieces of Video Swin around its window attention.

  PatchEmbedding3D  a t×p×p conv with stride = kernel, then LayerNorm; clips
                    that do not divide are zero-padded at the end first.
  SwinBlock         LN → (shifted) window attention → residual, LN → MLP →
                    residual, on a [B, T, H, W, C] grid.
  PatchMerging      2×2 spatial neighbours concatenated (4C), LN, a linear
                    map to 2C: halves H and W, keeps T.

Names and orders follow torchvision's `swin3d_*` (and the official code), so
its weights convert one to one (`vst.models.convert.swin3d_torchvision`).
So does the initialisation (`vst.layers.torch_init`).
"""

import functools

import flax.linen as nn
import jax
import jax.numpy as jnp

from vst.layers import attention as attention_lib
from vst.layers import conv3d
from vst.layers import patterns_window3d as window3d
from vst.layers import torch_init
from vst.layers import transformer
from vst.layers.attention import Tokens


class PatchEmbedding3D(nn.Module):
  """[B, T, H, W, C] clips -> [B, T/t, H/p, W/p, D] normalised tokens.

  Attributes:
    features: D.
    patch_size: (t, p_h, p_w), kernel and stride.
    layer_norm_eps: of the LayerNorm after the conv.
    dtype: compute dtype.
  """
  features: int
  patch_size: tuple[int, int, int]
  layer_norm_eps: float = 1e-5
  dtype: str = "float32"

  @nn.compact
  def __call__(self, clips: jax.Array) -> jax.Array:
    clips = window3d.pad_to_windows(clips, self.patch_size)
    size = tuple(self.patch_size)
    tokens = conv3d.Conv3D(self.features, size, size, dtype=self.dtype,
                           kernel_init=torch_init.CONV, name="proj")(clips)
    return nn.LayerNorm(self.layer_norm_eps, dtype=jnp.dtype(self.dtype),
                        name="norm")(tokens)


class PatchMerging(nn.Module):
  """[B, T, H, W, C] -> [B, T, ⌈H/2⌉, ⌈W/2⌉, 2C] (odd H, W padded with zeros).

  Neighbours are concatenated in torchvision's order (h0w0, h1w0, h0w1,
  h1w1) before LayerNorm(4C) and a bias-free Dense to 2C.
  """
  layer_norm_eps: float = 1e-5
  dtype: str = "float32"

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    h, w = x.shape[2:4]
    x = jnp.pad(x, ((0, 0), (0, 0), (0, h % 2), (0, w % 2), (0, 0)))
    x = jnp.concatenate([x[:, :, 0::2, 0::2], x[:, :, 1::2, 0::2],
                         x[:, :, 0::2, 1::2], x[:, :, 1::2, 1::2]], axis=-1)
    x = nn.LayerNorm(self.layer_norm_eps, dtype=jnp.dtype(self.dtype),
                     name="norm")(x)
    return nn.Dense(2 * x.shape[-1] // 4, use_bias=False,
                    dtype=jnp.dtype(self.dtype), kernel_init=torch_init.DENSE,
                    name="reduction")(x)


class SwinBlock(nn.Module):
  """One Video Swin block on a [B, T, H, W, C] grid.

  The LayerNorm output is zero-padded to whole windows *before* the q/k/v
  projections, so padded tokens carry the projections' biases, as in the
  official code; the attention output is cropped back.

  Attributes:
    num_heads: attention heads.
    window_size: (wt, wh, ww) before clipping to the grid.
    shift_size: (0, 0, 0) for W-MSA, half the window for SW-MSA.
    mlp_ratio: MLP width / C.
    dropout_rate: dropout after the attention and in the MLP.
    drop_path_rate: stochastic depth of both residual branches.
    layer_norm_eps: LayerNorm epsilon (1e-5, PyTorch's default).
    dtype: compute dtype.
  """
  num_heads: int
  window_size: tuple[int, int, int]
  shift_size: tuple[int, int, int] = (0, 0, 0)
  mlp_ratio: float = 4.0
  dropout_rate: float = 0.0
  drop_path_rate: float = 0.0
  layer_norm_eps: float = 1e-5
  dtype: str = "float32"

  @nn.compact
  def __call__(self, x: jax.Array, train: bool) -> jax.Array:
    """`train` is positional so that `nn.remat` can mark it static."""
    dtype = jnp.dtype(self.dtype)
    t, h, w = x.shape[1:4]
    window, _ = window3d.clip_window((t, h, w), self.window_size,
                                     self.shift_size)

    def residual(x, y):
      y = nn.Dropout(self.dropout_rate)(y, deterministic=not train)
      if train and self.drop_path_rate > 0:
        y = transformer.drop_path(Tokens(y), self.drop_path_rate,
                                  self.make_rng("dropout")).grid
      return x + y

    y = nn.LayerNorm(self.layer_norm_eps, dtype=dtype, name="norm1")(x)
    mix = functools.partial(window3d.shifted_window_attention,
                            window_size=tuple(self.window_size),
                            shift_size=tuple(self.shift_size),
                            valid_shape=(t, h, w))
    y = attention_lib.MultiHeadAttention(
        self.num_heads, mix, dtype=self.dtype, kernel_init=torch_init.DENSE,
        name="attention")(
            Tokens(window3d.pad_to_windows(y, window))).grid
    x = residual(x, y[:, :t, :h, :w])
    y = nn.LayerNorm(self.layer_norm_eps, dtype=dtype, name="norm2")(x)
    y = transformer.Mlp(int(x.shape[-1] * self.mlp_ratio), self.dropout_rate,
                        gelu_approximate=False, dtype=self.dtype,
                        kernel_init=torch_init.DENSE, name="mlp")(y, train=train)
    return residual(x, y)
