"""DeepVideo's AlexNet-like 2D frame tower, with its layer spec as data.

Karpathy et al. 2014 describe every Sports-1M network with one single-frame
tower, C(96,11,3)-N-P-C(256,5,1)-N-P-C(384,3,1)-C(384,3,1)-C(256,3,1)-P-
FC(4096)-FC(4096), where C(d,f,s) is a ReLU conv with d filters of f×f at
stride s, N is local response normalisation and P is a 2×2 non-overlapping max
pool. The fusion models reuse pieces of it, so the tower is split in two:

  ConvTrunk  frames [N, H, W, C] of any C -> feature map [N, h, w, F]
  FCStack    flat features [N, D] of any D -> [N, fc[-1]]

Early fusion feeds T×3 channels to the trunk; late fusion runs one trunk on two
frames and concatenates the flattened maps before FC1; slow fusion can run
`ConvTrunk(layers=spec.convs[k:])` after its own temporal convs.

The paper gives no padding. Conv1 unpadded and conv2–5 zero-padded to keep
their size ("same") turns 170×170 frames into a 6×6×256 map, 60,276,583
parameters with 487 classes and 1.129 GMACs per frame: REFERENCE.md's ≈60.3M
and ≈1.13G. Padding conv1 as well gives a 7×7 map and 73.9M; padding nothing,
2×2 and 26.7M.
"""

import dataclasses
from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from vst.errors import check_choice
from vst.layers import loop_conv


@dataclasses.dataclass(frozen=True)
class ConvLayer:
  """One C(features, kernel, stride) of the spec and what follows it."""
  features: int
  kernel: int
  stride: int = 1
  padding: int = 0  # Zeros added on each side of H and W.
  lrn: bool = False  # Local response normalisation after the ReLU.
  pool: int = 1  # Non-overlapping max-pool window after that; 1: none.

  def output_size(self, size: int) -> int:
    """Spatial size after conv and pool, for an input of `size` pixels."""
    conv = (size + 2 * self.padding - self.kernel) // self.stride + 1
    return max(conv, 0) // self.pool


@dataclasses.dataclass(frozen=True)
class TowerSpec:
  convs: tuple[ConvLayer, ...]
  fc: tuple[int, ...]  # Widths of the fully connected layers after the trunk.

  def trunk_output_size(self, size: int) -> int:
    """Spatial size of the trunk's feature map for `size`×`size` frames."""
    for layer in self.convs:
      size = layer.output_size(size)
    return size

  def min_input_size(self) -> int:
    """The smallest frame size whose feature map is at least 1×1."""
    size = 1
    while self.trunk_output_size(size) < 1:
      size += 1
    return size


TOWER_SPECS = {
    # Karpathy et al. 2014, Sec. 3.1, with the padding explained above.
    "deepvideo": TowerSpec(
        convs=(
            ConvLayer(96, 11, stride=3, padding=0, lrn=True, pool=2),
            ConvLayer(256, 5, padding=2, lrn=True, pool=2),
            ConvLayer(384, 3, padding=1),
            ConvLayer(384, 3, padding=1),
            ConvLayer(256, 3, padding=1, pool=2),
        ),
        fc=(4096, 4096)),
    # The same layout shrunk for 16×16 to 32×32 frames on a CPU.
    "tiny": TowerSpec(
        convs=(
            ConvLayer(16, 3, padding=1, lrn=True, pool=2),
            ConvLayer(32, 3, padding=1, lrn=True, pool=2),
            ConvLayer(64, 3, padding=1, pool=2),
        ),
        fc=(128, 128)),
}


def get_tower_spec(name: str) -> TowerSpec:
  check_choice("model.tower", name, TOWER_SPECS)
  return TOWER_SPECS[name]


def local_response_norm(x: jax.Array, size: int = 5, alpha: float = 1e-4,
                        beta: float = 0.75, k: float = 2.0) -> jax.Array:
  """AlexNet's LRN across channels: x / (k + alpha·Σ x²)^beta.

  Args:
    x: [..., C]; the sum runs over the `size` channels centred on each one
      (fewer at the edges). AlexNet's alpha multiplies the sum, not its mean.
    size, alpha, beta, k: AlexNet's constants by default.

  Returns:
    [..., C], in x's dtype.
  """
  # In bfloat16, k=2 would swallow alpha·Σx² (~1e-4) entirely.
  x32 = x.astype(jnp.float32)
  half = size // 2
  window = (1,) * (x.ndim - 1) + (size,)
  pads = ((0, 0),) * (x.ndim - 1) + ((half, size - 1 - half),)
  # reduce_window, not a conv with a ones kernel, so FLOP counters that count
  # convolutions see LRN as the cheap elementwise op it is.
  sum_sq = jax.lax.reduce_window(x32 * x32, 0.0, jax.lax.add, window,
                                 (1,) * x.ndim, pads)
  return (x32 / (k + alpha * sum_sq) ** beta).astype(x.dtype)


class ConvTrunk(nn.Module):
  """The tower's conv layers: [N, H, W, C] -> [N, h, w, layers[-1].features].

  Attributes:
    layers: the ConvLayers to apply, in order; C is whatever the input has.
    dtype: compute dtype; parameters stay float32.
    in_scan: the trunk is trained inside `nn.scan` (a recurrent step), so
      its kernel gradients use `loop_conv` (XLA:CPU's are ~25× slow there).
  """
  layers: Sequence[ConvLayer]
  dtype: str = "float32"
  in_scan: bool = False

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    conv = loop_conv.conv_general_dilated if self.in_scan else None
    for i, layer in enumerate(self.layers):
      x = nn.Conv(layer.features, (layer.kernel, layer.kernel),
                  strides=layer.stride, padding=layer.padding,
                  kernel_init=nn.initializers.he_normal(),
                  dtype=jnp.dtype(self.dtype), conv_general_dilated=conv,
                  name=f"conv{i + 1}")(x)
      x = nn.relu(x)
      if layer.lrn:
        x = local_response_norm(x)
      if layer.pool > 1:
        window = (layer.pool, layer.pool)
        x = nn.max_pool(x, window, strides=window)
    return x


class FCStack(nn.Module):
  """The tower's fully connected layers: [N, D] -> [N, features[-1]].

  Each layer is Dense, ReLU, then dropout (AlexNet's placement) when training.

  Attributes:
    features: widths of the layers.
    dropout_rate: dropout after each layer; 0 disables it.
    dtype: compute dtype; parameters stay float32.
  """
  features: Sequence[int]
  dropout_rate: float = 0.0
  dtype: str = "float32"

  @nn.compact
  def __call__(self, x: jax.Array, *, train: bool) -> jax.Array:
    for i, width in enumerate(self.features):
      x = nn.Dense(width, kernel_init=nn.initializers.he_normal(),
                   dtype=jnp.dtype(self.dtype), name=f"fc{i + 1}")(x)
      x = nn.relu(x)
      if self.dropout_rate > 0:
        x = nn.Dropout(self.dropout_rate, deterministic=not train)(x)
    return x


class AlexNetTower(nn.Module):
  """The whole single-frame tower: [N, H, W, C] -> features [N, spec.fc[-1]].

  Attributes:
    spec: the layer spec, usually `TOWER_SPECS[name]`.
    dropout_rate: dropout after each FC layer.
    dtype: compute dtype; parameters stay float32.
    remat: rematerialise the conv trunk's activations in the backward pass.
  """
  spec: TowerSpec
  dropout_rate: float = 0.0
  dtype: str = "float32"
  remat: bool = False

  @nn.compact
  def __call__(self, x: jax.Array, *, train: bool) -> jax.Array:
    trunk_cls = nn.remat(ConvTrunk) if self.remat else ConvTrunk
    x = trunk_cls(self.spec.convs, dtype=self.dtype, name="trunk")(x)
    x = x.reshape((x.shape[0], -1))
    return FCStack(self.spec.fc, self.dropout_rate, dtype=self.dtype,
                   name="fc")(x, train=train)
