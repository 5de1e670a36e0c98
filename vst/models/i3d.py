"""I3D (Carreira & Zisserman 2017) and S3D (Xie et al. 2018): Inception-v1 in 3D.

One trunk, `InceptionTrunk`, following DeepMind's i3d.py:

  conv1a 7×7×7 s2 → pool2a 1×3×3 s(1,2,2) → conv2b 1×1×1 → conv2c 3×3×3 →
  pool3a 1×3×3 s(1,2,2) → mixed 3b, 3c → pool4a 3×3×3 s2 → mixed 4b–4f →
  pool5a 2×2×2 s2 → mixed 5b, 5c → avg pool 2×7×7 s1 → dropout → 1×1×1 conv
  logits → mean over the remaining time (and space) positions.

I3D: every conv full 3×3×3 (or 7×7×7), BatchNorm without scale (Sonnet's),
eps 1e-3. S3D: the same with every t×k×k conv separable (1×k×k → 3×1×1, each
with BN and ReLU), torchvision's BatchNorm (with scale, eps 1e-3, momentum
0.001). Pool windows, the final 2×7×7 average pool's included, are clipped
to the feature volume, so small clips (the synthetic dataset) still run.

`streams` makes the two-stream I3D: one trunk per modality, named by it,
inputs a dict {"rgb": [B,T,H,W,3], "flow": [B,T,H,W,2]}, logits summed.
A single stream takes the array. `temporal=False` is the 2D Inception-v1 (BN)
every I3D is inflated from (see vst.layers.inflate and tests/models/test_i3d).

Convs and pools pad symmetrically (PyTorch's, as torchvision's S3D, which
converts exactly); DeepMind's TF "SAME" pads stride-2 layers asymmetrically,
which changes values but, at the even sizes of 224² clips, not shapes or FLOPs.
"""

import flax.linen as nn
import jax
import jax.numpy as jnp

from vst.errors import ConfigError
from vst.layers import conv3d
from vst.layers.inception3d import MixedBlock3D, MixedWidths, UnitOptions
from vst.models._variants import complete_variants
from vst.models.registry import register

# GoogLeNet / I3D mixed blocks, and the max pools between them.
LAYOUT = (
    ("mixed_3b", MixedWidths(64, 96, 128, 16, 32, 32)),
    ("mixed_3c", MixedWidths(128, 128, 192, 32, 96, 64)),
    ("pool4a", ((3, 3, 3), (2, 2, 2))),
    ("mixed_4b", MixedWidths(192, 96, 208, 16, 48, 64)),
    ("mixed_4c", MixedWidths(160, 112, 224, 24, 64, 64)),
    ("mixed_4d", MixedWidths(128, 128, 256, 24, 64, 64)),
    ("mixed_4e", MixedWidths(112, 144, 288, 32, 64, 64)),
    ("mixed_4f", MixedWidths(256, 160, 320, 32, 128, 128)),
    ("pool5a", ((2, 2, 2), (2, 2, 2))),
    ("mixed_5b", MixedWidths(256, 160, 320, 32, 128, 128)),
    ("mixed_5c", MixedWidths(384, 192, 384, 48, 128, 128)),
)

_I3D = dict(separable=False, bn_scale=False, bn_momentum=0.9,
            dropout_rate=0.5)
_S3D = dict(separable=True, bn_scale=True, bn_momentum=0.999,
            dropout_rate=0.2)
I3D_VARIANTS = {
    "rgb": dict(_I3D, streams=("rgb",)),
    "flow": dict(_I3D, streams=("flow",)),
    "two_stream": dict(_I3D, streams=("rgb", "flow")),
    # 1/8 of every width, for 8×32×32 synthetic clips.
    "tiny": dict(_I3D, streams=("rgb",), width_divisor=8, dropout_rate=0.0),
}
S3D_VARIANTS = {
    "torchvision": dict(_S3D, streams=("rgb",)),
    # torchvision's BN momentum (0.001) leaves eval statistics near their
    # initial values after a short CPU run: the tiny model uses 0.1.
    "tiny": dict(_S3D, streams=("rgb",), width_divisor=8, dropout_rate=0.0,
                 bn_momentum=0.9),
}


def _scaled(widths: MixedWidths, divisor: int) -> MixedWidths:
  return MixedWidths(*(max(w // divisor, 1) for w in vars(widths).values()))


class InceptionTrunk(nn.Module):
  """One stream: clips [B, T, H, W, C] -> (logits [B, num_classes], pooled
  features [B, D])."""
  num_classes: int
  options: UnitOptions
  width_divisor: int = 1
  dropout_rate: float = 0.0

  @nn.compact
  def __call__(self, x: jax.Array, train: bool) -> jax.Array:
    o, d = self.options, self.width_divisor
    pool = conv3d.max_pool3d
    x = o.unit(64 // d, 7, 2, name="conv1a")(x, train=train)
    x = pool(x, (1, 3, 3), (1, 2, 2))
    x = o.unit(64 // d, 1, name="conv2b")(x, train=train)
    x = o.unit(192 // d, 3, name="conv2c")(x, train=train)
    x = pool(x, (1, 3, 3), (1, 2, 2))
    for name, spec in LAYOUT:
      if isinstance(spec, MixedWidths):
        x = MixedBlock3D(_scaled(spec, d), o, name=name)(x, train)
      else:
        window, strides = spec
        x = pool(x, (o.t(window[0]),) + window[1:],
                 (o.t(strides[0]),) + strides[1:])
    window = tuple(min(w, s) for w, s in zip((o.t(2), 7, 7), x.shape[1:4]))
    x = nn.avg_pool(x, window, (1, 1, 1))
    features = x.mean(axis=(1, 2, 3))
    x = nn.Dropout(self.dropout_rate)(x, deterministic=not train)
    logits = nn.Conv(self.num_classes, (1, 1, 1), dtype=jnp.dtype(o.dtype),
                     name="logits")(x)
    return logits.mean(axis=(1, 2, 3)), features


class Inception3D(nn.Module):
  """I3D / S3D, one stream or several with summed logits.

  Attributes:
    num_classes: size of the classifier.
    streams: modality names; one trunk each. One stream takes an array, more
      take a dict of arrays keyed by these names.
    separable: S3D's separable convs instead of I3D's full ones.
    temporal: False gives the 2D network (every temporal extent 1).
    width_divisor: divides every width (small variants).
    dropout_rate: before the logits.
    bn_momentum, bn_epsilon, bn_scale: of every BatchNorm (flax momentum).
    temporal_padding: "zeros" or "replicate" (conv3d).
    dtype: compute dtype; params stay float32.
  """
  num_classes: int
  streams: tuple[str, ...] = ("rgb",)
  separable: bool = False
  temporal: bool = True
  width_divisor: int = 1
  dropout_rate: float = 0.5
  bn_momentum: float = 0.9
  bn_epsilon: float = 1e-3
  bn_scale: bool = False
  temporal_padding: str = "zeros"
  dtype: str = "float32"

  def validate_input(self, shape) -> None:
    """Raises ConfigError unless the inputs match `streams`. Any clip size
    runs: pool windows are clipped to small feature volumes."""
    if len(self.streams) > 1 and (not isinstance(shape, dict)
                                  or set(shape) != set(self.streams)):
      raise ConfigError(
          f"model.streams={self.streams} takes a dict of clips keyed by "
          f"{', '.join(self.streams)}; the dataset gives {shape}")

  @nn.compact
  def __call__(self, inputs, *, train: bool) -> jax.Array:
    """Logits [B, num_classes] (float32) of clips [B, T, H, W, C] (or a dict)."""
    options = UnitOptions(self.separable, self.temporal, self.bn_momentum,
                          self.bn_epsilon, self.bn_scale,
                          self.temporal_padding, self.dtype)
    if len(self.streams) == 1:
      inputs = {self.streams[0]: inputs}
    logits, features = 0.0, []
    for stream in self.streams:
      stream_logits, stream_features = InceptionTrunk(
          self.num_classes, options, self.width_divisor, self.dropout_rate,
          name=stream)(inputs[stream].astype(jnp.dtype(self.dtype)), train)
      logits = logits + stream_logits
      features.append(stream_features)
    # Each stream's pooled Mixed_5c features (two-stream I3D: rgb, flow).
    self.sow("intermediates", "pre_logits", jnp.concatenate(features, -1))
    return logits.astype(jnp.float32)


register("i3d", Inception3D, complete_variants(Inception3D, I3D_VARIANTS))
register("s3d", Inception3D, complete_variants(Inception3D, S3D_VARIANTS))
