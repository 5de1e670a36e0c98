"""Video Swin Transformer (Liu et al. 2022): shifted 3D windows in 4 stages.

A clip [B, T, H, W, C] becomes a [B, T/2, H/4, W/4, D] grid by a 2×4×4 patch
embedding. Each stage is `depths[i]` Swin blocks at width D·2^i that attend
within 8×7×7 windows, every second block with the windows shifted by half a
window (`vst.layers.patterns_window3d`); patch merging between stages halves
H and W and doubles the width (T is never merged). The head is LayerNorm,
the mean over the grid (or the max: `pooling`), and a linear classifier.

Parameter names follow torchvision's `swin3d_*` so its weights convert one to
one: `patch_embed/{proj,norm}`, `stage{i}_block{j}/{norm1,attention,norm2,
mlp}`, `stage{i}_merging/{norm,reduction}`, `norm`, `head`.

Other input sizes work as in the official code: the clip is padded to whole
patches, windows longer than the grid are clipped to it (unshifted along that
axis), and the grid is padded to whole windows.
"""

import flax.linen as nn
import jax
import jax.numpy as jnp

from vst.errors import ConfigError, check_choice
from vst.layers import blocks, grid_pooling, heads, swin_blocks, torch_init
from vst.layers.attention import uses_attention_impl
from vst.models.registry import register


def _variant(embed_dim: int, depths, num_heads) -> dict:
  return dict(embed_dim=embed_dim, depths=tuple(depths),
              num_heads=tuple(num_heads), window_size=(8, 7, 7),
              patch_size=(2, 4, 4))


VARIANTS = {
    "T": _variant(96, (2, 2, 6, 2), (3, 6, 12, 24)),
    "S": _variant(96, (2, 2, 18, 2), (3, 6, 12, 24)),
    "B": _variant(128, (2, 2, 18, 2), (4, 8, 16, 32)),
    "L": _variant(192, (2, 2, 18, 2), (6, 12, 24, 48)),
    # For 8×32×32 synthetic clips: a 4×8×8 grid, 3 stages, 2×4×4 windows
    # (4 windows per frame pair, shifted by 1×2×2), ~0.2M params.
    "tiny": dict(embed_dim=32, depths=(2, 2, 2), num_heads=(2, 4, 8),
                 window_size=(2, 4, 4), patch_size=(2, 4, 4)),
}


class VideoSwin(nn.Module):
  """Video Swin Transformer.

  Attributes:
    num_classes: size of the classifier.
    embed_dim: width D of the first stage; stage i has D·2^i.
    depths: blocks per stage.
    num_heads: attention heads per stage.
    window_size: (wt, wh, ww) attention window, in tokens.
    patch_size: (t, p, p) of the patch embedding.
    mlp_ratio: MLP width / block width.
    dropout_rate: dropout after the embedding and in every block.
    drop_path_rate: stochastic depth of the last block, linear from 0.
    head_dropout_rate: dropout before the classifier (0.5 in the official
      K400 configs' I3D head).
    layer_norm_eps: LayerNorm epsilon.
    pooling: "mean" over the grid (the paper's) or "max"
      (`vst.layers.grid_pooling`: what the tiny synthetic config needs).
    dtype: compute dtype ("bfloat16" for mixed precision); params float32.
    remat: rematerialise each block in the backward pass.
    attention_impl: the attention kernel's implementation, "auto", "xla",
      "blockwise", "cudnn" or "splash" (`vst.layers.attention_kernels`).
  """
  num_classes: int
  embed_dim: int
  depths: tuple[int, ...]
  num_heads: tuple[int, ...]
  window_size: tuple[int, int, int] = (8, 7, 7)
  patch_size: tuple[int, int, int] = (2, 4, 4)
  mlp_ratio: float = 4.0
  dropout_rate: float = 0.0
  drop_path_rate: float = 0.1
  head_dropout_rate: float = 0.0
  layer_norm_eps: float = 1e-5
  pooling: str = "mean"
  dtype: str = "float32"
  remat: bool = False
  attention_impl: str = "auto"

  def _check(self) -> None:
    check_choice("model.pooling", self.pooling, grid_pooling.POOLINGS)
    if len(self.depths) != len(self.num_heads):
      raise ConfigError(
          f"model.depths={tuple(self.depths)} and model.num_heads="
          f"{tuple(self.num_heads)} must list one value per stage")
    for i, heads in enumerate(self.num_heads):
      width = self.embed_dim * 2**i
      if width % heads:
        raise ConfigError(
            f"model.num_heads[{i}]={heads} does not divide stage {i}'s width "
            f"{width} (model.embed_dim·2^{i})")
    for field in ("window_size", "patch_size"):
      value = tuple(getattr(self, field))
      if len(value) != 3 or min(value) < 1:
        raise ConfigError(f"model.{field}={value} must be three positive "
                          "sizes (t, h, w)")

  def validate_input(self, shape) -> None:
    """Any clip size works (padding, window clipping); fields are checked."""
    self._check()
    frames, height, width, _ = shape
    if min(frames, height, width) < 1:
      raise ConfigError(f"dataset.num_frames / crop_size must be positive, "
                        f"got {frames}×{height}×{width}")

  @nn.compact
  @uses_attention_impl
  def __call__(self, inputs: jax.Array, *, train: bool) -> jax.Array:
    """[B, T, H, W, C] clips -> [B, num_classes] float32 logits."""
    self._check()
    dtype = jnp.dtype(self.dtype)
    x = swin_blocks.PatchEmbedding3D(
        self.embed_dim, tuple(self.patch_size), self.layer_norm_eps,
        dtype=self.dtype, name="patch_embed")(inputs.astype(dtype))
    x = nn.Dropout(self.dropout_rate)(x, deterministic=not train)
    rates = iter(blocks.drop_path_rates(self.drop_path_rate, sum(self.depths)))
    shift = tuple(w // 2 for w in self.window_size)
    for i, (depth, num_heads) in enumerate(zip(self.depths, self.num_heads)):
      if i:
        x = swin_blocks.PatchMerging(self.layer_norm_eps, self.dtype,
                                     name=f"stage{i - 1}_merging")(x)
      for j in range(depth):
        x, _ = swin_blocks.swin_block(
            num_heads, tuple(self.window_size),
            shift if j % 2 else (0, 0, 0), self.mlp_ratio, self.dropout_rate,
            next(rates), self.layer_norm_eps, self.dtype, width=x.shape[-1],
            remat=self.remat, name=f"stage{i}_block{j}")(x, None, train)
    x = nn.LayerNorm(self.layer_norm_eps, dtype=dtype, name="norm")(x)
    return heads.classify(grid_pooling.pool_grid(x, self.pooling),
                          self.num_classes, train=train,
                          dropout_rate=self.head_dropout_rate,
                          kernel_init=torch_init.DENSE, dtype=self.dtype)


register("swin3d", VideoSwin, VARIANTS)
