"""The pieces of Video Swin around its window attention.

  PatchEmbedding3D  a t×p×p conv with stride = kernel, then LayerNorm; clips
                    that do not divide are zero-padded at the end first.
  swin_block        LN → (shifted) window attention → residual, LN → MLP →
                    residual, on a [B, T, H, W, C] grid (`blocks.Block`).
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
from vst.layers import blocks
from vst.layers import conv3d
from vst.layers import patterns_window3d as window3d
from vst.layers import torch_init
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


def window_attention_sublayer(num_heads: int, window_size, shift_size,
                               dtype: str) -> blocks.Sublayer:
  """(Shifted) window attention as a block branch named `attention`.

  The normalised grid is zero-padded to whole windows *before* the q/k/v
  projections, so padded tokens carry the projections' biases, as in the
  official code; the attention output is cropped back.
  """
  def build(name):
    def mixer(tokens: Tokens, train: bool) -> Tokens:
      del train
      t, h, w = tokens.grid.shape[1:4]
      window, _ = window3d.clip_window((t, h, w), window_size, shift_size)
      mix = functools.partial(window3d.shifted_window_attention,
                              window_size=tuple(window_size),
                              shift_size=tuple(shift_size),
                              valid_shape=(t, h, w))
      out = attention_lib.MultiHeadAttention(
          num_heads, mix, dtype=dtype, kernel_init=torch_init.DENSE,
          name=name)(Tokens(window3d.pad_to_windows(tokens.grid, window)))
      return Tokens(out.grid[:, :t, :h, :w])
    return mixer
  return blocks.Sublayer("attention", "norm1", build)


def swin_block(num_heads: int, window_size: tuple[int, int, int],
               shift_size: tuple[int, int, int] = (0, 0, 0),
               mlp_ratio: float = 4.0, dropout_rate: float = 0.0,
               drop_path_rate: float = 0.0, layer_norm_eps: float = 1e-5,
               dtype: str = "float32", *, width: int, remat: bool = False,
               name: str | None = None) -> blocks.Block:
  """One Video Swin block on a [B, T, H, W, C] grid: `block(x, None, train)`.

  Args:
    num_heads: attention heads.
    window_size: (wt, wh, ww) before clipping to the grid.
    shift_size: (0, 0, 0) for W-MSA, half the window for SW-MSA.
    mlp_ratio: MLP width / C.
    dropout_rate: dropout after the attention and in the MLP.
    drop_path_rate: stochastic depth of both residual branches.
    layer_norm_eps: LayerNorm epsilon (1e-5, PyTorch's default).
    dtype: compute dtype.
    width: C, the block's token width.
    remat: rematerialise the block in the backward pass.
    name: the block's name.
  """
  sublayers = (
      window_attention_sublayer(num_heads, window_size, shift_size, dtype),
      blocks.mlp_sublayer(int(width * mlp_ratio), dropout_rate=dropout_rate,
                          gelu_approximate=False, dtype=dtype,
                          kernel_init=torch_init.DENSE, norm_name="norm2"))
  block_cls = nn.remat(blocks.Block, static_argnums=(3,)) if remat else (
      blocks.Block)
  return block_cls(sublayers, blocks.layer_norm(layer_norm_eps, dtype),
                   dropout_rate, drop_path_rate, name=name)
