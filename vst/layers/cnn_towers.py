"""2D image backbones of the two-stream era, their layouts as data.

  CNNM       CNN-M-2048 (Chatfield et al. 2014), the two-stream towers
             (Simonyan and Zisserman 2014).
  VGG        VGG-16 (Simonyan and Zisserman 2015), the towers of two-stream
             fusion (Feichtenhofer et al. 2016).
  BNInception  Inception with batch normalisation (Ioffe and Szegedy 2015) as
             in TSN's released Caffe models.
  ResNet     torchvision's ResNet-50 (stride in the 3×3 conv).

Every backbone maps frames [N, H, W, C] of any C (RGB 3, flow stack 2L, RGB
differences 3L) to a feature map [N, h, w, F] (`features`), or to named
intermediate maps (`endpoints`) for fusion at a chosen layer. Classifier
heads live in the models. Caffe pools with ceil rounding; `max_pool_ceil`
reproduces that, which is what gives CNN-M a 6×6 pool5 at 224² and
BN-Inception a 56×56 map after pool1.

`PartialBatchNorm` is batch normalisation that can be frozen: TSN's partial
BN keeps every BN layer but the first at its (pre-trained) statistics and
affine parameters while fine-tuning, since a few videos per class cannot
re-estimate them.
"""

import dataclasses
import math
from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from vst.errors import check_choice
from vst.layers.alexnet_tower import local_response_norm


def max_pool_ceil(x: jax.Array, window: int, stride: int,
                  padding: int = 0) -> jax.Array:
  """Caffe's max pool on [N, H, W, C]: output size ceil((n + 2p - k) / s) + 1."""
  pads = []
  for n in x.shape[1:3]:
    out = math.ceil((n + 2 * padding - window) / stride) + 1
    # Caffe drops a last window that would start in the right padding.
    if padding and (out - 1) * stride >= n + padding:
      out -= 1
    pads.append((padding, max((out - 1) * stride + window - n - padding, 0)))
  return nn.max_pool(x, (window, window), strides=(stride, stride),
                     padding=pads)


class PartialBatchNorm(nn.Module):
  """BatchNorm over all axes but the last, with a frozen mode.

  Attributes:
    frozen: use the running statistics even in training and pass no
      gradient to scale and bias (TSN's partial BN for all but the first BN).
    momentum, epsilon: running-average momentum and variance epsilon.
  """
  frozen: bool = False
  momentum: float = 0.9
  epsilon: float = 1e-5
  dtype: str = "float32"

  @nn.compact
  def __call__(self, x: jax.Array, *, train: bool) -> jax.Array:
    features = x.shape[-1]
    scale = self.param("scale", nn.initializers.ones, (features,))
    bias = self.param("bias", nn.initializers.zeros, (features,))
    mean = self.variable("batch_stats", "mean",
                         lambda: jnp.zeros((features,), jnp.float32))
    var = self.variable("batch_stats", "var",
                        lambda: jnp.ones((features,), jnp.float32))
    if self.frozen:
      scale, bias = jax.lax.stop_gradient(scale), jax.lax.stop_gradient(bias)
    x32 = x.astype(jnp.float32)
    if train and not self.frozen:
      axes = tuple(range(x.ndim - 1))
      batch_mean = x32.mean(axes)
      batch_var = jnp.maximum((x32 * x32).mean(axes) - batch_mean**2, 0.0)
      if not self.is_initializing():
        mean.value = self.momentum * mean.value + (1 - self.momentum) * batch_mean
        var.value = self.momentum * var.value + (1 - self.momentum) * batch_var
      use_mean, use_var = batch_mean, batch_var
    else:
      use_mean, use_var = mean.value, var.value
    y = (x32 - use_mean) * (scale * jax.lax.rsqrt(use_var + self.epsilon)) + bias
    return y.astype(jnp.dtype(self.dtype))


class ConvBN(nn.Module):
  """Conv, PartialBatchNorm, ReLU (the unit of BN-Inception and ResNet)."""
  features: int
  kernel: int
  stride: int = 1
  padding: int = 0
  use_bias: bool = False
  frozen_bn: bool = False
  relu: bool = True
  dtype: str = "float32"

  @nn.compact
  def __call__(self, x: jax.Array, *, train: bool) -> jax.Array:
    x = nn.Conv(self.features, (self.kernel, self.kernel), strides=self.stride,
                padding=self.padding, use_bias=self.use_bias,
                kernel_init=nn.initializers.he_normal(),
                dtype=jnp.dtype(self.dtype), name="conv")(x)
    x = PartialBatchNorm(frozen=self.frozen_bn, dtype=self.dtype,
                         name="bn")(x, train=train)
    return nn.relu(x) if self.relu else x


# ============================================================================
# CNN-M-2048 and VGG-16: plain conv stacks (no BN) with FC layers.
# ============================================================================

@dataclasses.dataclass(frozen=True)
class PlainConv:
  """Conv(features, kernel, stride, padding) + ReLU [+ LRN] [+ max pool]."""
  features: int
  kernel: int = 3
  stride: int = 1
  padding: int = 1
  lrn: bool = False
  pool: tuple[int, int] = (0, 0)  # (window, stride); (0, 0): none.


@dataclasses.dataclass(frozen=True)
class PlainSpec:
  convs: tuple[PlainConv, ...]
  fc: tuple[int, ...]
  # Named layer ends, for fusion: name -> index of the last conv it covers.
  endpoints: tuple[tuple[str, int], ...] = ()


def _vgg16() -> PlainSpec:
  convs, endpoints = [], []
  for stage, (width, depth) in enumerate(
      ((64, 2), (128, 2), (256, 3), (512, 3), (512, 3)), start=1):
    for i in range(1, depth + 1):
      pool = (2, 2) if i == depth else (0, 0)
      convs.append(PlainConv(width, 3, 1, 1, pool=pool))
      endpoints.append((f"conv{stage}_{i}", len(convs) - 1))
  return PlainSpec(tuple(convs), (4096, 4096), tuple(endpoints))


def _cnn_m(lrn2: bool) -> PlainSpec:
  convs = (
      PlainConv(96, 7, 2, 0, lrn=True, pool=(3, 2)),
      PlainConv(256, 5, 2, 1, lrn=lrn2, pool=(3, 2)),
      PlainConv(512, 3, 1, 1),
      PlainConv(512, 3, 1, 1),
      PlainConv(512, 3, 1, 1, pool=(3, 2)),
  )
  return PlainSpec(convs, (4096, 2048),
                   tuple((f"conv{i + 1}", i) for i in range(5)))


PLAIN_SPECS = {
    # Chatfield et al. 2014 Table 1; two-stream's spatial net.
    "cnn_m_2048": _cnn_m(lrn2=True),
    # Two-stream's temporal net drops conv2's normalisation (M).
    "cnn_m_2048_no_lrn2": _cnn_m(lrn2=False),
    "vgg16": _vgg16(),
    # A CPU-sized plain tower for tests and synthetic runs.
    "tiny_plain": PlainSpec(
        (PlainConv(16, 3, 1, 1, pool=(2, 2)), PlainConv(32, 3, 1, 1, pool=(2, 2)),
         PlainConv(64, 3, 1, 1, pool=(2, 2))),
        (128, 64), (("conv1", 0), ("conv2", 1), ("conv3", 2))),
}


def get_plain_spec(name: str, field: str = "model.tower") -> PlainSpec:
  check_choice(field, name, PLAIN_SPECS)
  return PLAIN_SPECS[name]


class PlainConvStack(nn.Module):
  """Convs `start`..`stop`-1 of a PlainSpec: [N, H, W, C] -> [N, h, w, F].

  Layer names are global (`conv{i+1}`), so a tower split at a fusion point
  keeps the parameter names of the whole tower.
  """
  spec: PlainSpec
  start: int = 0
  stop: int | None = None
  pool_last: bool = True  # False: stop at the last conv's ReLU (fusion point).
  dtype: str = "float32"

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    stop = len(self.spec.convs) if self.stop is None else self.stop
    for i in range(self.start, stop):
      layer = self.spec.convs[i]
      x = nn.Conv(layer.features, (layer.kernel, layer.kernel),
                  strides=layer.stride, padding=layer.padding,
                  kernel_init=nn.initializers.he_normal(),
                  dtype=jnp.dtype(self.dtype), name=f"conv{i + 1}")(x)
      x = nn.relu(x)
      if layer.lrn:
        x = local_response_norm(x)
      if layer.pool[0] and (self.pool_last or i < stop - 1):
        x = max_pool_ceil(x, *layer.pool)
    return x


class PlainFC(nn.Module):
  """FC layers (ReLU, dropout) of a PlainSpec on a flattened map."""
  features: Sequence[int]
  dropout_rate: float = 0.0
  dtype: str = "float32"

  @nn.compact
  def __call__(self, x: jax.Array, *, train: bool) -> jax.Array:
    x = x.reshape((x.shape[0], -1))
    for i, width in enumerate(self.features):
      x = nn.Dense(width, dtype=jnp.dtype(self.dtype), name=f"fc{i + 6}")(x)
      x = nn.relu(x)
      if self.dropout_rate > 0:
        x = nn.Dropout(self.dropout_rate, deterministic=not train)(x)
    return x


def plain_endpoint_index(spec: PlainSpec, name: str, field: str) -> int:
  """Index of the last conv of endpoint `name`, or ConfigError naming field."""
  names = dict(spec.endpoints)
  check_choice(field, name, names)
  return names[name]


# ============================================================================
# BN-Inception.
# ============================================================================

@dataclasses.dataclass(frozen=True)
class InceptionBlock:
  """Branch widths of one BN-Inception module (Ioffe and Szegedy 2015, Fig. 5).

  b1: 1×1 width (0: none); b3: (reduce, 3×3); b33: (reduce, 3×3, 3×3);
  pool: ("avg" | "max", projection width, 0 for none); stride 2 modules have
  no 1×1 branch and pass the max-pooled input through.
  """
  name: str
  b1: int
  b3: tuple[int, int]
  b33: tuple[int, int, int]
  pool: tuple[str, int]
  stride: int = 1


BN_INCEPTION_BLOCKS = (
    InceptionBlock("3a", 64, (64, 64), (64, 96, 96), ("avg", 32)),
    InceptionBlock("3b", 64, (64, 96), (64, 96, 96), ("avg", 64)),
    InceptionBlock("3c", 0, (128, 160), (64, 96, 96), ("max", 0), stride=2),
    InceptionBlock("4a", 224, (64, 96), (96, 128, 128), ("avg", 128)),
    InceptionBlock("4b", 192, (96, 128), (96, 128, 128), ("avg", 128)),
    InceptionBlock("4c", 160, (128, 160), (128, 160, 160), ("avg", 128)),
    InceptionBlock("4d", 96, (128, 192), (160, 192, 192), ("avg", 128)),
    InceptionBlock("4e", 0, (128, 192), (192, 256, 256), ("max", 0), stride=2),
    InceptionBlock("5a", 352, (192, 320), (160, 224, 224), ("avg", 128)),
    InceptionBlock("5b", 352, (192, 320), (192, 224, 224), ("max", 128)),
)


class InceptionModule(nn.Module):
  block: InceptionBlock
  frozen_bn: bool = False
  dtype: str = "float32"

  @nn.compact
  def __call__(self, x: jax.Array, *, train: bool) -> jax.Array:
    b, s = self.block, self.block.stride
    unit = lambda f, k, name, stride=1: ConvBN(
        f, k, stride, k // 2, use_bias=True, frozen_bn=self.frozen_bn,
        dtype=self.dtype, name=name)
    outs = []
    if b.b1:
      outs.append(unit(b.b1, 1, "1x1")(x, train=train))
    y = unit(b.b3[0], 1, "3x3_reduce")(x, train=train)
    outs.append(unit(b.b3[1], 3, "3x3", s)(y, train=train))
    y = unit(b.b33[0], 1, "double_3x3_reduce")(x, train=train)
    y = unit(b.b33[1], 3, "double_3x3_1")(y, train=train)
    outs.append(unit(b.b33[2], 3, "double_3x3_2", s)(y, train=train))
    kind, proj = b.pool
    if kind == "max":
      y = max_pool_ceil(x, 3, s, padding=1 if s == 1 else 0)
    else:
      # Caffe's padded average pool divides by the window, padding included.
      y = nn.avg_pool(x, (3, 3), strides=(1, 1), padding=((1, 1), (1, 1)),
                      count_include_pad=True)
    if proj:
      y = unit(proj, 1, "pool_proj")(y, train=train)
    outs.append(y)
    return jnp.concatenate(outs, axis=-1)


class BNInception(nn.Module):
  """BN-Inception to the last module: [N, 224, 224, C] -> [N, 7, 7, 1024].

  Attributes:
    width: channel multiplier (1: the paper; the tiny variant shrinks it).
    blocks: how many of `BN_INCEPTION_BLOCKS` to run (10: all).
    partial_bn: freeze every BN but conv1's (TSN).
  """
  width: float = 1.0
  blocks: int = len(BN_INCEPTION_BLOCKS)
  partial_bn: bool = False
  dtype: str = "float32"

  @nn.compact
  def __call__(self, x: jax.Array, *, train: bool) -> jax.Array:
    w = lambda f: max(int(round(f * self.width)), 1)
    unit = lambda f, k, s, name: ConvBN(
        w(f), k, s, k // 2, use_bias=True, frozen_bn=self.partial_bn and (
            name != "conv1"), dtype=self.dtype, name=name)
    x = unit(64, 7, 2, "conv1")(x, train=train)
    x = max_pool_ceil(x, 3, 2)
    x = unit(64, 1, 1, "conv2_reduce")(x, train=train)
    x = unit(192, 3, 1, "conv2")(x, train=train)
    x = max_pool_ceil(x, 3, 2)
    for block in BN_INCEPTION_BLOCKS[:self.blocks]:
      scaled = dataclasses.replace(
          block, b1=w(block.b1) if block.b1 else 0,
          b3=tuple(map(w, block.b3)), b33=tuple(map(w, block.b33)),
          pool=(block.pool[0], w(block.pool[1]) if block.pool[1] else 0))
      x = InceptionModule(scaled, frozen_bn=self.partial_bn, dtype=self.dtype,
                          name=f"inception_{block.name}")(x, train=train)
    return x


# ============================================================================
# ResNet (torchvision layout).
# ============================================================================

class Bottleneck(nn.Module):
  planes: int
  stride: int = 1
  frozen_bn: bool = False
  dtype: str = "float32"

  @nn.compact
  def __call__(self, x: jax.Array, *, train: bool) -> jax.Array:
    unit = lambda f, k, s, name, relu=True: ConvBN(
        f, k, s, k // 2, frozen_bn=self.frozen_bn, relu=relu,
        dtype=self.dtype, name=name)
    out = unit(self.planes, 1, 1, "conv1")(x, train=train)
    out = unit(self.planes, 3, self.stride, "conv2")(out, train=train)
    out = unit(4 * self.planes, 1, 1, "conv3", relu=False)(out, train=train)
    if self.stride != 1 or x.shape[-1] != 4 * self.planes:
      x = unit(4 * self.planes, 1, self.stride, "downsample",
               relu=False)(x, train=train)
    return nn.relu(out + x)


class ResNet(nn.Module):
  """Bottleneck ResNet to the last stage: [N, H, W, C] -> [N, H/32, W/32, F].

  Attributes:
    depths: blocks per stage ((3, 4, 6, 3): ResNet-50).
    width: planes of the first stage (64), doubled at each stage.
    stem_stride: stride of the 7×7 stem conv and its 3×3 max pool (2 and 2
      in ResNet-50; 1 shrinks the network for tiny inputs).
    partial_bn: freeze every BN but the stem's (TSN).
  """
  depths: Sequence[int] = (3, 4, 6, 3)
  width: int = 64
  stem_stride: int = 2
  partial_bn: bool = False
  dtype: str = "float32"

  @nn.compact
  def __call__(self, x: jax.Array, *, train: bool) -> jax.Array:
    x = ConvBN(self.width, 7, self.stem_stride, 3, dtype=self.dtype,
               name="conv1")(x, train=train)
    if self.stem_stride > 1:
      x = nn.max_pool(x, (3, 3), strides=(2, 2), padding=((1, 1), (1, 1)))
    for stage, depth in enumerate(self.depths):
      for i in range(depth):
        x = Bottleneck(self.width * 2**stage,
                       stride=2 if i == 0 and stage > 0 else 1,
                       frozen_bn=self.partial_bn, dtype=self.dtype,
                       name=f"layer{stage + 1}_{i}")(x, train=train)
    return x


# Backbones with BN, by name, as data for TSN.
BN_BACKBONES = {
    "bn_inception": (BNInception, {}),
    "resnet50": (ResNet, {}),
    # CPU sizes: an eighth-width BN-Inception to module 3c, a two-stage
    # ResNet with a stride-1 stem.
    "tiny_bn_inception": (BNInception, dict(width=0.125, blocks=3)),
    "tiny_resnet": (ResNet, dict(depths=(1, 1), width=8, stem_stride=1)),
}


def build_bn_backbone(name: str, partial_bn: bool, dtype: str,
                      module_name: str, field: str = "model.backbone"):
  check_choice(field, name, BN_BACKBONES)
  cls, kwargs = BN_BACKBONES[name]
  return cls(partial_bn=partial_bn, dtype=dtype, name=module_name, **kwargs)
