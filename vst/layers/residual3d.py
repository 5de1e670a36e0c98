"""Residual blocks of the 3D ResNet family, over one factorised conv layer.

A block is the ResNet basic block (two t×3×3 convs) or bottleneck (1×1×1 →
t×3×3 → 1×1×1), each t×3×3 conv a `conv3d.SpaceTimeConv` whose factorisation
names the network: full (R3D, MC3, ResNeXt with groups), r2plus1d, p3d_a|b|c,
csn_ip|ir. The block's stride sits on its (first) t×3×3 conv, as in
torchvision, Hara et al. and VMZ.

Shortcuts when the shape changes (Hara et al. 2018, after He et al. 2016):
  A  parameter-free: subsample by the stride, zero-pad the new channels.
  B  1×1×1 conv with the stride → norm.
Channel attention (SE / STC) recalibrates the residual branch before the sum.
"""

import dataclasses

import flax.linen as nn
import jax
import jax.numpy as jnp

from vst.errors import check_choice
from vst.layers import channel_attention
from vst.layers import conv3d

SHORTCUTS = ("A", "B")
BLOCKS = ("basic", "bottleneck")
# Which (2+1)D intermediate width: the paper's per conv (its input and output
# widths), or torchvision's one width per block from the block's input width
# and its planes (31.5M parameters for R(2+1)D-18 instead of 33.3M).
MID_WIDTH_RULES = ("paper", "torchvision")


@dataclasses.dataclass(frozen=True)
class ConvOptions:
  """What every conv of a network shares (norm, padding, dtype)."""
  bn_momentum: float = 0.9
  bn_epsilon: float = 1e-5
  temporal_padding: str = "zeros"
  dtype: str = "float32"

  def conv(self, features, kernel_size, strides=(1, 1, 1), **kwargs):
    return conv3d.SpaceTimeConv(
        features, tuple(kernel_size), tuple(strides),
        bn_momentum=self.bn_momentum, bn_epsilon=self.bn_epsilon,
        temporal_padding=self.temporal_padding, dtype=self.dtype, **kwargs)


class ResidualBlock3D(nn.Module):
  """A basic or bottleneck block on [B, T, H, W, C].

  Attributes:
    block: "basic" or "bottleneck".
    planes: width of the block's t×3×3 convs (its bottleneck width).
    out_features: output channels (planes · expansion).
    strides: (s_t, s_s, s_s) of the first t×3×3 conv and of the shortcut.
    temporal_kernel: t of the t×3×3 convs (1: MC3's 2D stages).
    factorization: of the t×3×3 convs, a `conv3d.FACTORIZATIONS` name.
    groups: group count of `full` t×3×3 convs (ResNeXt cardinality).
    mid_width_rule: `MID_WIDTH_RULES`, for r2plus1d.
    shortcut: "A" or "B".
    attention: a `channel_attention.ATTENTIONS` name.
    attention_reduction: its r.
    options: norm, padding and dtype shared by every conv.
  """
  block: str
  planes: int
  out_features: int
  strides: tuple[int, int, int] = (1, 1, 1)
  temporal_kernel: int = 3
  factorization: str = "full"
  groups: int = 1
  mid_width_rule: str = "paper"
  shortcut: str = "B"
  attention: str = "none"
  attention_reduction: int = 16
  options: ConvOptions = ConvOptions()

  @nn.compact
  def __call__(self, x: jax.Array, train: bool) -> jax.Array:
    # `train` is positional so that `nn.remat` can mark it static.
    check_choice("model.block", self.block, BLOCKS)
    check_choice("model.mid_width_rule", self.mid_width_rule, MID_WIDTH_RULES)
    in_features = x.shape[-1]
    kernel = (self.temporal_kernel, 3, 3)
    conv = self.options.conv
    mid = None
    if self.factorization == "r2plus1d" and self.mid_width_rule == "torchvision":
      mid = conv3d.r2plus1d_mid_features(in_features, self.planes, kernel)
    spacetime = dict(factorization=self.factorization, groups=self.groups,
                     mid_features=mid)
    if self.block == "basic":
      y = conv(self.planes, kernel, self.strides, name="conv1", **spacetime)(
          x, train=train)
      y = conv(self.out_features, kernel, activate=False, name="conv2",
               **spacetime)(y, train=train)
    else:
      y = conv(self.planes, (1, 1, 1), name="conv1")(x, train=train)
      y = conv(self.planes, kernel, self.strides, name="conv2", **spacetime)(
          y, train=train)
      y = conv(self.out_features, (1, 1, 1), activate=False, name="conv3")(
          y, train=train)
    attention = channel_attention.channel_attention(
        self.attention, self.attention_reduction, self.options.dtype,
        name="attention")
    if attention is not None:
      y = attention(y)
    return nn.relu(y + self._shortcut(x, train))

  def _shortcut(self, x, train):
    check_choice("model.shortcut", self.shortcut, SHORTCUTS)
    if self.strides == (1, 1, 1) and x.shape[-1] == self.out_features:
      return x
    if self.shortcut == "B":
      return self.options.conv(self.out_features, (1, 1, 1), self.strides,
                               activate=False, name="shortcut")(x, train=train)
    s_t, s_h, s_w = self.strides
    x = x[:, ::s_t, ::s_h, ::s_w]
    extra = self.out_features - x.shape[-1]
    return jnp.pad(x, ((0, 0),) * 4 + ((0, extra),))
