"""The Inception-v1 mixed block in 3D, for I3D (full) and S3D (separable).

Four branches on [B, T, H, W, C], concatenated on channels:
  branch0          1×1×1 conv
  branch1_reduce   1×1×1 conv → branch1 3×3×3 conv
  branch2_reduce   1×1×1 conv → branch2 3×3×3 conv (I3D's 3×3×3 in place of
                   GoogLeNet's 5×5, as in DeepMind's i3d.py)
  branch3          3×3×3 max pool, stride 1 → 1×1×1 conv
Every conv is `conv3d.SpaceTimeConv` (conv → BN → ReLU); `separable` makes
the 3×3×3 convs S3D's 1×3×3 → BN → ReLU → 3×1×1 (mid width = out).
A `temporal=False` block is the 2D Inception block (every t = 1) that an I3D
is inflated from.
"""

import dataclasses

import flax.linen as nn
import jax
import jax.numpy as jnp

from vst.layers import conv3d


@dataclasses.dataclass(frozen=True)
class MixedWidths:
  """Output widths of one mixed block's branches (GoogLeNet's table)."""
  branch0: int
  branch1_reduce: int
  branch1: int
  branch2_reduce: int
  branch2: int
  branch3: int

  @property
  def out_features(self) -> int:
    return self.branch0 + self.branch1 + self.branch2 + self.branch3


@dataclasses.dataclass(frozen=True)
class UnitOptions:
  """How every conv unit of an Inception network is made."""
  separable: bool = False
  temporal: bool = True
  bn_momentum: float = 0.9
  bn_epsilon: float = 1e-3
  bn_scale: bool = True
  temporal_padding: str = "zeros"
  dtype: str = "float32"

  def t(self, size: int) -> int:
    """A temporal kernel size or stride; 1 in the 2D network."""
    return size if self.temporal else 1

  def unit(self, features: int, kernel: int, stride: int = 1, *, name: str,
           temporal_kernel: int | None = None):
    """A k×k×k (or 2D: 1×k×k) conv → BN → ReLU."""
    temporal_kernel = kernel if temporal_kernel is None else temporal_kernel
    kernel_size = (self.t(temporal_kernel), kernel, kernel)
    separable = self.separable and kernel > 1 and kernel_size[0] > 1
    return conv3d.SpaceTimeConv(
        features, kernel_size, (self.t(stride), stride, stride),
        factorization="r2plus1d" if separable else "full",
        mid_features=features if separable else None,
        bn_momentum=self.bn_momentum, bn_epsilon=self.bn_epsilon,
        bn_scale=self.bn_scale, temporal_padding=self.temporal_padding,
        dtype=self.dtype, name=name)


class MixedBlock3D(nn.Module):
  widths: MixedWidths
  options: UnitOptions

  @nn.compact
  def __call__(self, x: jax.Array, train: bool) -> jax.Array:
    w, unit = self.widths, self.options.unit
    b0 = unit(w.branch0, 1, name="branch0")(x, train=train)
    b1 = unit(w.branch1_reduce, 1, name="branch1_reduce")(x, train=train)
    b1 = unit(w.branch1, 3, name="branch1")(b1, train=train)
    b2 = unit(w.branch2_reduce, 1, name="branch2_reduce")(x, train=train)
    b2 = unit(w.branch2, 3, name="branch2")(b2, train=train)
    window = (self.options.t(3), 3, 3)
    b3 = nn.max_pool(x, window, (1, 1, 1), conv3d.pool_padding(window))
    b3 = unit(w.branch3, 1, name="branch3")(b3, train=train)
    return jnp.concatenate([b0, b1, b2, b3], axis=-1)
