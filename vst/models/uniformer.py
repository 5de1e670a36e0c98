"""UniFormer (Li et al. 2022): convolution-like local relation aggregators in
the shallow stages, global self-attention in the deep ones.

Four stages, each entered through a strided conv + LayerNorm (the stem
3×4×4 stride 2×4×4, then 1×2×2 stride 1×2×2 between stages), so the grid of a
16×224² clip is 8×56², 8×28², 8×14², 8×7². The first `local_stages` stages
are local blocks (DPE, local MHRA = depthwise 5×5×5 affinity, FFN, with
BatchNorm), the rest global blocks (DPE, joint self-attention, FFN, with
LayerNorm); see `vst.layers.mhra`. The head is BatchNorm, the mean over the
grid, and a linear classifier. Heads are width / head_dim (64 at full size).

Parameter names: `stem`, `downsample{i}` ({conv, norm}), `stage{i}_block{j}`,
`norm`, `head`; `vst.models.convert.uniformer_official` maps the official
checkpoints' (`patch_embed{i}`, `blocks{i}.{j}`, ...).
"""

import flax.linen as nn
import jax
import jax.numpy as jnp

from vst.errors import ConfigError
from vst.layers import blocks
from vst.layers import conv3d
from vst.layers import heads
from vst.layers import torch_init
from vst.layers import mhra
from vst.layers.attention import uses_attention_impl
from vst.models.registry import register

VARIANTS = {
    "S": dict(embed_dims=(64, 128, 320, 512), depths=(3, 4, 8, 3)),
    "B": dict(embed_dims=(64, 128, 320, 512), depths=(5, 8, 20, 7)),
    # For 8×32×32 synthetic clips: a 4×8×8 grid, two local stages and one
    # global, ~0.3M params.
    "tiny": dict(embed_dims=(32, 64, 128), depths=(1, 2, 1), head_dim=32),
}


class ConvEmbedding(nn.Module):
  """A strided 3D conv (with bias) then LayerNorm: stem and downsampling."""
  features: int
  kernel_size: tuple[int, int, int]
  strides: tuple[int, int, int]
  padding: tuple[int, int, int] = (0, 0, 0)
  dtype: str = "float32"

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    x = conv3d.Conv3D(self.features, tuple(self.kernel_size),
                      tuple(self.strides),
                      tuple((p, p) for p in self.padding), dtype=self.dtype,
                      kernel_init=torch_init.CONV, name="conv")(x)
    # nn.LayerNorm's default epsilon (1e-5) is also torch's, as used here.
    return nn.LayerNorm(1e-5, dtype=jnp.dtype(self.dtype), name="norm")(x)


class UniFormer(nn.Module):
  """UniFormer for video classification.

  Attributes:
    num_classes: size of the classifier.
    embed_dims: width of each stage.
    depths: blocks per stage.
    head_dim: attention head width of the global stages.
    local_stages: how many leading stages use local MHRA.
    mlp_ratio: FFN hidden width / stage width.
    stem_kernel, stem_stride, stem_padding: of the first conv embedding.
    downsample: kernel = stride of the conv between stages.
    local_kernel: neighbourhood of the local affinity.
    dropout_rate: dropout in the blocks.
    drop_path_rate: stochastic depth of the last block, linear from 0.
    head_dropout_rate: dropout before the classifier.
    bn_momentum: flax momentum of the BatchNorms (1 - PyTorch's).
    dtype: compute dtype ("bfloat16" for mixed precision); params float32.
    remat: rematerialise each block in the backward pass.
    attention_impl: the attention kernel's implementation, "auto", "xla",
      "blockwise", "cudnn" or "splash" (`vst.layers.attention_kernels`).
  """
  num_classes: int
  embed_dims: tuple[int, ...]
  depths: tuple[int, ...]
  head_dim: int = 64
  local_stages: int = 2
  mlp_ratio: float = 4.0
  stem_kernel: tuple[int, int, int] = (3, 4, 4)
  stem_stride: tuple[int, int, int] = (2, 4, 4)
  stem_padding: tuple[int, int, int] = (1, 0, 0)
  downsample: tuple[int, int, int] = (1, 2, 2)
  local_kernel: tuple[int, int, int] = (5, 5, 5)
  dropout_rate: float = 0.0
  drop_path_rate: float = 0.1
  head_dropout_rate: float = 0.0
  bn_momentum: float = 0.9
  dtype: str = "float32"
  remat: bool = False
  attention_impl: str = "auto"

  def _check(self) -> None:
    if len(self.embed_dims) != len(self.depths):
      raise ConfigError(
          f"model.embed_dims={tuple(self.embed_dims)} and model.depths="
          f"{tuple(self.depths)} must list one value per stage")
    if not 0 <= self.local_stages <= len(self.depths):
      raise ConfigError(f"model.local_stages={self.local_stages} must be in "
                        f"0..{len(self.depths)} (the number of stages)")
    for i, width in enumerate(self.embed_dims[self.local_stages:],
                              self.local_stages):
      if width % self.head_dim:
        raise ConfigError(
            f"model.head_dim={self.head_dim} does not divide the width "
            f"{width} of global stage {i} (model.embed_dims)")

  def grid_shapes(self, shape) -> list[tuple[int, int, int]]:
    """(T, H, W) of each stage's grid for clips of (T, H, W, C)."""
    grid = [(n + 2 * p - k) // s + 1 for n, k, s, p in zip(
        shape[:3], self.stem_kernel, self.stem_stride, self.stem_padding)]
    grids = [tuple(grid)]
    for _ in self.depths[1:]:
      grid = [(n - k) // k + 1 for n, k in zip(grid, self.downsample)]
      grids.append(tuple(grid))
    return grids

  def min_clip_size(self) -> tuple[int, int, int]:
    """The smallest (T, H, W) whose last stage still has a token."""
    stages = len(self.depths)
    return tuple(k - 2 * p + s * (d ** (stages - 1) - 1)
                 for k, s, p, d in zip(self.stem_kernel, self.stem_stride,
                                       self.stem_padding, self.downsample))

  def validate_input(self, shape) -> None:
    """Raises ConfigError if a stage's grid would be empty."""
    self._check()
    for i, grid in enumerate(self.grid_shapes(shape)):
      if min(grid) < 1:
        t, h, w = self.min_clip_size()
        raise ConfigError(
            f"dataset.num_frames / dataset.crop_size: {shape[0]}×{shape[1]}×"
            f"{shape[2]} clips leave stage {i} without tokens; the stem and "
            f"{len(self.depths) - 1} downsamplings (model.stem_*, "
            f"model.downsample) need at least {t}×{h}×{w}")

  @nn.compact
  @uses_attention_impl
  def __call__(self, inputs: jax.Array, *, train: bool) -> jax.Array:
    """[B, T, H, W, C] clips -> [B, num_classes] float32 logits."""
    self._check()
    dtype = jnp.dtype(self.dtype)
    x = ConvEmbedding(self.embed_dims[0], tuple(self.stem_kernel),
                      tuple(self.stem_stride), tuple(self.stem_padding),
                      self.dtype, name="stem")(inputs.astype(dtype))
    x = nn.Dropout(self.dropout_rate)(x, deterministic=not train)
    local_cls, global_cls = mhra.LocalBlock, mhra.GlobalBlock
    if self.remat:
      local_cls = nn.remat(local_cls, static_argnums=(2,))
      global_cls = nn.remat(global_cls, static_argnums=(2,))
    rates = iter(blocks.drop_path_rates(self.drop_path_rate, sum(self.depths)))
    for i, (width, depth) in enumerate(zip(self.embed_dims, self.depths)):
      if i:
        x = ConvEmbedding(width, tuple(self.downsample),
                          tuple(self.downsample), dtype=self.dtype,
                          name=f"downsample{i}")(x)
      for j in range(depth):
        rate, name = next(rates), f"stage{i}_block{j}"
        if i < self.local_stages:
          x = local_cls(self.mlp_ratio, tuple(self.local_kernel),
                        self.dropout_rate, rate, self.bn_momentum,
                        self.dtype, name=name)(x, train)
        else:
          x = global_cls(width // self.head_dim, self.mlp_ratio,
                         self.dropout_rate, rate, self.dtype,
                         name=name)(x, train)
    x = nn.BatchNorm(use_running_average=not train, momentum=self.bn_momentum,
                     epsilon=1e-5, dtype=dtype, name="norm")(x)
    return heads.classify(x.mean(axis=(1, 2, 3)), self.num_classes,
                          train=train, dropout_rate=self.head_dropout_rate,
                          kernel_init=torch_init.DENSE, dtype=self.dtype)


register("uniformer", UniFormer, VARIANTS)
