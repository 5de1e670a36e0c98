"""Multiscale Vision Transformer, MViTv1 (Fan et al. 2021).

A cube embedding (a 3D conv, 3×7×7 stride 2×4×4 in MViT-B) makes a dense,
narrow token grid; then 16 blocks of multi-head pooling attention
(`vst.layers.patterns_pooling`) shrink it in stages while the width grows:
at the first block of each stage Q is pooled by 1×2×2 (the grid shrinks) and
at the last block before it the MLP doubles the width (and heads double with
the next stage). K and V are pooled in every block with an "adaptive" stride
that keeps the keys at the same resolution throughout (1×8×8 on the 56²
grid, then 1×4×4, 1×2×2, 1×1×1). A class token and separable space/time
position embeddings (`vst.layers.space_time_pos_embed`) are added after the
embedding; the head is LayerNorm → class token → dropout → linear.

The stage layout is data, as in SlowFast's configs: `dim_mul_at`,
`head_mul_at` and `q_pool_at` list the blocks where width and heads double
and where Q is pooled; `block_settings` derives each block's widths, heads
and pooling from them (and reproduces torchvision's `mvit_v1_b` table).

Parameter names: `patch_embed`, `cls`, `pos_embed`, `block{i}/{norm1,
attention/{query,key,value,out,pool_q,pool_k,pool_v},norm2,mlp,project}`,
`norm`, `head`; `vst.models.convert.mvit_torchvision` maps torchvision's.
"""

import dataclasses

import flax.linen as nn
import jax
import jax.numpy as jnp

from vst.errors import ConfigError, check_choice
from vst.layers import blocks
from vst.layers import conv3d
from vst.layers import heads
from vst.layers import torch_init
from vst.layers import multiscale_block
from vst.layers import space_time_pos_embed
from vst.layers.attention import uses_attention_impl
from vst.layers.head_init import HEAD_INITS
from vst.models.registry import register


def _mvit_b() -> dict:
  return dict(embed_dim=96, depth=16, num_heads=1, patch_kernel=(3, 7, 7),
              patch_stride=(2, 4, 4), patch_padding=(1, 3, 3),
              dim_mul_at=(1, 3, 14), head_mul_at=(1, 3, 14),
              q_pool_at=(1, 3, 14), kv_stride=(1, 8, 8))


VARIANTS = {
    # MViT-B 16×4 and 32×3 are one network; they differ in the clip (16
    # frames at stride 4, or 32 at stride 3), i.e. in the dataset config.
    "B": _mvit_b(),
    "B-16x4": _mvit_b(),
    "B-32x3": _mvit_b(),
    # MViT-S (paper Tab. 3c): 3×8×8 cubes with stride 2×8×8 give a 8×28×28
    # grid; stages of 3, 7 and 6 blocks at 128/256/512 with 1/2/4 heads. K/V
    # strides adapt from 1×4×4, i.e. 7×7 keys per frame as in MViT-B.
    "S": dict(embed_dim=128, depth=16, num_heads=1, patch_kernel=(3, 8, 8),
              patch_stride=(2, 8, 8), patch_padding=(1, 0, 0),
              dim_mul_at=(3, 10), head_mul_at=(3, 10), q_pool_at=(3, 10),
              kv_stride=(1, 4, 4)),
    # For 8×32×32 synthetic clips: a 4×8×8 grid, 4 blocks in 3 stages
    # (32, 64, 128 wide), ~0.4M params.
    "tiny": dict(embed_dim=32, depth=4, num_heads=1, patch_kernel=(3, 7, 7),
                 patch_stride=(2, 4, 4), patch_padding=(1, 3, 3),
                 dim_mul_at=(1, 3), head_mul_at=(1, 3), q_pool_at=(1, 3),
                 kv_stride=(1, 4, 4)),
}


@dataclasses.dataclass(frozen=True)
class BlockSetting:
  """One block's widths, heads and pooling (torchvision's MSBlockConfig)."""
  num_heads: int
  in_features: int
  out_features: int
  kernel_q: tuple[int, int, int]
  stride_q: tuple[int, int, int]
  kernel_kv: tuple[int, int, int]
  stride_kv: tuple[int, int, int]


def block_settings(depth: int, embed_dim: int, num_heads: int, dim_mul_at,
                   head_mul_at, q_pool_at, q_stride, pool_kernel,
                   kv_stride) -> list[BlockSetting]:
  """Per-block settings from the stage layout, as SlowFast derives them.

  Block i works at the width and heads doubled at every index ≤ i in
  `dim_mul_at` / `head_mul_at`; its output width is block i+1's width (the
  widening happens in the MLP of the block before a stage). Q is pooled by
  `q_stride` at the `q_pool_at` blocks, and the K/V stride starts at
  `kv_stride` and is divided by `q_stride` from each of them on.
  """
  widths, heads = [], []
  width, head = embed_dim, num_heads
  for i in range(depth + 1):
    width *= 2 if i in dim_mul_at else 1
    head *= 2 if i in head_mul_at else 1
    widths.append(width)
    heads.append(head)
  settings, stride_kv = [], tuple(kv_stride)
  no_pool = (1, 1, 1)
  for i in range(depth):
    pooled = i in q_pool_at
    if pooled:
      stride_kv = tuple(max(s // q, 1) for s, q in zip(stride_kv, q_stride))
    settings.append(BlockSetting(
        num_heads=heads[i], in_features=widths[i],
        out_features=widths[i + 1] if i + 1 < depth else widths[i],
        kernel_q=tuple(pool_kernel) if pooled else no_pool,
        stride_q=tuple(q_stride) if pooled else no_pool,
        kernel_kv=tuple(pool_kernel), stride_kv=stride_kv))
  return settings


class MViT(nn.Module):
  """Multiscale Vision Transformer (v1).

  Attributes:
    num_classes: size of the classifier.
    embed_dim: width of the first stage.
    depth: number of blocks.
    num_heads: heads of the first stage.
    patch_kernel, patch_stride, patch_padding: of the cube embedding conv.
    dim_mul_at: blocks from which the width doubles.
    head_mul_at: blocks from which the heads double.
    q_pool_at: blocks whose queries (and residual path) are pooled.
    q_stride: the Q pooling stride at those blocks.
    pool_kernel: kernel of every Q and K/V pooling conv.
    kv_stride: K/V pooling stride of the first stage ("adaptive": divided
      by q_stride at each Q-pooled block).
    mlp_ratio: MLP hidden width / block width.
    dropout_rate: dropout inside the blocks' MLPs.
    drop_path_rate: stochastic depth of the last block, linear from 0.
    head_dropout_rate: dropout before the classifier (0.5 in the paper).
    layer_norm_eps: of every LayerNorm.
    head_init: the classifier's kernel (`vst.layers.head_init`):
      "trunc_normal" (official and torchvision) or "lecun_normal" (from
      scratch).
    dtype: compute dtype ("bfloat16" for mixed precision); params float32.
    remat: rematerialise each block in the backward pass.
    attention_impl: the attention kernel's implementation, "auto", "xla",
      "blockwise", "cudnn" or "splash" (`vst.layers.attention_kernels`).
  """
  num_classes: int
  embed_dim: int
  depth: int
  num_heads: int
  patch_kernel: tuple[int, int, int]
  patch_stride: tuple[int, int, int]
  patch_padding: tuple[int, int, int]
  dim_mul_at: tuple[int, ...]
  head_mul_at: tuple[int, ...]
  q_pool_at: tuple[int, ...]
  q_stride: tuple[int, int, int] = (1, 2, 2)
  pool_kernel: tuple[int, int, int] = (3, 3, 3)
  kv_stride: tuple[int, int, int] = (1, 8, 8)
  mlp_ratio: float = 4.0
  dropout_rate: float = 0.0
  drop_path_rate: float = 0.2
  head_dropout_rate: float = 0.5
  layer_norm_eps: float = 1e-6
  head_init: str = "trunc_normal"
  dtype: str = "float32"
  remat: bool = False
  attention_impl: str = "auto"

  def settings(self) -> list[BlockSetting]:
    """The checked per-block settings."""
    check_choice("model.head_init", self.head_init, HEAD_INITS)
    for field in ("dim_mul_at", "head_mul_at", "q_pool_at"):
      bad = [i for i in getattr(self, field) if not 0 <= i < self.depth]
      if bad:
        raise ConfigError(f"model.{field} lists blocks {bad} outside "
                          f"0..{self.depth - 1} (model.depth={self.depth})")
    for field in ("patch_kernel", "patch_stride", "patch_padding",
                  "q_stride", "pool_kernel", "kv_stride"):
      if len(tuple(getattr(self, field))) != 3:
        raise ConfigError(f"model.{field}={tuple(getattr(self, field))} "
                          "must have three entries (t, h, w)")
    settings = block_settings(
        self.depth, self.embed_dim, self.num_heads, self.dim_mul_at,
        self.head_mul_at, self.q_pool_at, self.q_stride, self.pool_kernel,
        self.kv_stride)
    for i, s in enumerate(settings):
      if s.in_features % s.num_heads:
        raise ConfigError(
            f"block {i} is {s.in_features} wide with {s.num_heads} heads: "
            "model.embed_dim must be divisible by model.num_heads at every "
            "stage (see model.dim_mul_at, model.head_mul_at)")
    return settings

  def validate_input(self, shape) -> None:
    """Raises ConfigError if clips of (T, H, W, C) give an empty grid."""
    self.settings()
    names = ("dataset.num_frames", "dataset.crop_size", "dataset.crop_size")
    for name, size, k, s, p in zip(names, shape[:3], self.patch_kernel,
                                   self.patch_stride, self.patch_padding):
      if size + 2 * p < k:
        raise ConfigError(
            f"{name}={size} is smaller than the cube embedding's kernel "
            f"{k} (model.patch_kernel, padding {p}): no token would remain")

  @nn.compact
  @uses_attention_impl
  def __call__(self, inputs: jax.Array, *, train: bool) -> jax.Array:
    """[B, T, H, W, C] clips -> [B, num_classes] float32 logits."""
    settings = self.settings()
    dtype = jnp.dtype(self.dtype)
    grid = conv3d.Conv3D(
        self.embed_dim, tuple(self.patch_kernel), tuple(self.patch_stride),
        tuple((p, p) for p in self.patch_padding), dtype=self.dtype,
        kernel_init=torch_init.CONV, name="patch_embed")(inputs.astype(dtype))
    cls = jnp.broadcast_to(
        self.param("cls", torch_init.TABLE,
                   (self.embed_dim,)).astype(dtype),
        (grid.shape[0], self.embed_dim))
    grid, cls = space_time_pos_embed.SpaceTimePositionEmbedding(
        name="pos_embed")(grid, cls)
    rates = blocks.drop_path_rates(self.drop_path_rate, self.depth)
    for i, (s, rate) in enumerate(zip(settings, rates)):
      grid, cls = multiscale_block.multiscale_block(
          s.num_heads, s.in_features, s.out_features, s.kernel_q, s.stride_q,
          s.kernel_kv, s.stride_kv, self.mlp_ratio, self.dropout_rate, rate,
          self.layer_norm_eps, self.dtype, remat=self.remat,
          name=f"block{i}")(grid, cls, train)
    features = nn.LayerNorm(self.layer_norm_eps, dtype=dtype,
                            name="norm")(cls)
    return heads.classify(features, self.num_classes, train=train,
                          dropout_rate=self.head_dropout_rate,
                          kernel_init=HEAD_INITS[self.head_init],
                          dtype=self.dtype)


register("mvit", MViT, VARIANTS)
