"""DeepVideo (Karpathy et al. 2014): where to fuse time into an image network.

Every model here is the single-frame AlexNet-like tower of
`vst.layers.alexnet_tower` with time fused in at a different place (the
foundation's `single_frame` baseline, registered here too, is fusion
"single"). A clip [B, T, H, W, C] is cut into T / window
non-overlapping windows; each window gives one feature vector, and the clip's
prediction classifies the mean of its windows' features (the paper averages
clip predictions over a video; the classifier is linear, so averaging features
or logits is the same thing).

  fusion="single"  window 1: the frame tower on each frame.
  fusion="early"   the window's frames stacked on the channel axis, so conv1
                   is 11×11×3×T (T=10 in the paper) and sees pixel-level
                   motion; the rest of the tower is unchanged.
  fusion="late"    the first and last frame of the window (15 frames apart in
                   the paper: window 16) through one shared conv trunk, the
                   two conv5 maps concatenated before FC1, which alone can
                   compare them.
  fusion="slow"    the first convs are 3D with temporal extent/stride from
                   `slow_fusion` (paper: conv1 4/2 over 10 frames -> 4
                   responses, conv2 and conv3 2/2 -> 2 -> 1), so higher layers
                   see progressively more time; conv4-5 are 2D.

`multires=True` replaces the trunk by two streams with their own weights: the
fovea stream sees the centre crop at full resolution, the context stream the
whole frame at half resolution (178×178 frames: two 89×89 inputs), and their
flattened maps are concatenated before FC1. As in the paper the last pooling
layer of both streams is removed, since their inputs are half as large.
"""

import dataclasses
from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from vst.errors import ConfigError, check_choice
from vst.layers import alexnet_tower
from vst.layers import heads
from vst.models._variants import complete_variants
from vst.models.registry import register

FUSIONS = ("single", "early", "late", "slow")

# The paper's slow fusion: (temporal extent, temporal stride) of conv1..conv3.
PAPER_SLOW_FUSION = ((4, 2), (2, 2), (2, 2))


def slow_fusion_length(slow_fusion, frames: int) -> int:
  """Temporal length left after the slow-fusion convs (valid padding)."""
  for extent, stride in slow_fusion:
    frames = (frames - extent) // stride + 1 if frames >= extent else 0
  return frames


def _multires_spec(spec: alexnet_tower.TowerSpec) -> alexnet_tower.TowerSpec:
  """The tower spec without its last pooling layer (the multires streams)."""
  last = len(spec.convs) - 1 - next(
      i for i, layer in enumerate(reversed(spec.convs)) if layer.pool > 1)
  convs = list(spec.convs)
  convs[last] = dataclasses.replace(convs[last], pool=1)
  return dataclasses.replace(spec, convs=tuple(convs))


class SlowFusionConvs(nn.Module):
  """The leading convs of the tower made 3D: [N, T, H, W, C] -> [N, T', h, w, F].

  Each layer is `layers[i]` (filters, kernel, stride, padding, LRN, pool, all
  per frame) with temporal extent and stride `temporal[i]` and no temporal
  padding, so the clip shrinks in time layer by layer.
  """
  layers: Sequence[alexnet_tower.ConvLayer]
  temporal: Sequence[tuple[int, int]]
  dtype: str = "float32"

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    for i, (layer, (extent, stride)) in enumerate(
        zip(self.layers, self.temporal)):
      x = nn.Conv(layer.features, (extent, layer.kernel, layer.kernel),
                  strides=(stride, layer.stride, layer.stride),
                  padding=((0, 0), (layer.padding,) * 2, (layer.padding,) * 2),
                  kernel_init=nn.initializers.he_normal(),
                  dtype=jnp.dtype(self.dtype), name=f"conv{i + 1}")(x)
      x = nn.relu(x)
      if layer.lrn:
        x = alexnet_tower.local_response_norm(x)
      if layer.pool > 1:
        window = (1, layer.pool, layer.pool)
        x = nn.max_pool(x, window, strides=window)
    return x


class WindowConvFeatures(nn.Module):
  """Flat conv features of windows: [N, window, H, W, C] -> [N, D].

  Everything of one fusion up to FC1; the FC layers come after, shared by
  the multires streams.
  """
  fusion: str
  spec: alexnet_tower.TowerSpec
  slow_fusion: Sequence[tuple[int, int]] = PAPER_SLOW_FUSION
  dtype: str = "float32"
  remat: bool = False

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    n, window, height, width, channels = x.shape
    trunk_cls = nn.remat(alexnet_tower.ConvTrunk) if self.remat else (
        alexnet_tower.ConvTrunk)
    if self.fusion == "single":
      frames = x[:, 0]
    elif self.fusion == "early":
      # Channels ordered (t, c), so conv1's kernel reads [kh, kw, T·C].
      frames = jnp.moveaxis(x, 1, 3).reshape((n, height, width,
                                              window * channels))
    elif self.fusion == "late":
      # One trunk for both frames: a batch of 2N, split again after.
      frames = jnp.concatenate([x[:, 0], x[:, -1]])
    else:  # slow
      depth = len(self.slow_fusion)
      x = SlowFusionConvs(self.spec.convs[:depth], self.slow_fusion,
                          dtype=self.dtype, name="slow")(x)
      x = trunk_cls(self.spec.convs[depth:], dtype=self.dtype,
                    name="trunk")(x[:, 0])
      return x.reshape((n, -1))
    x = trunk_cls(self.spec.convs, dtype=self.dtype, name="trunk")(frames)
    if self.fusion == "late":
      return jnp.concatenate([x[:n].reshape((n, -1)),
                              x[n:].reshape((n, -1))], axis=-1)
    return x.reshape((n, -1))


class DeepVideo(nn.Module):
  """DeepVideo's fusion models; see the module docstring.

  Attributes:
    num_classes: size of the classifier.
    fusion: one of FUSIONS.
    window: frames per window: 1 for single; T of conv1 for early (10);
      the first and last frames, window - 1 apart, for late (16: 15 apart);
      the frames slow fusion reduces to one (10).
    slow_fusion: (temporal extent, temporal stride) of each leading conv.
    multires: fovea + context streams instead of one full-frame trunk.
    tower: a name in `alexnet_tower.TOWER_SPECS`.
    dropout_rate: dropout after each FC layer.
    dtype: compute dtype ("bfloat16" for mixed precision); params stay float32.
    remat: rematerialise the conv trunk in the backward pass.
  """
  num_classes: int
  fusion: str = "slow"
  window: int = 10
  slow_fusion: Sequence[tuple[int, int]] = PAPER_SLOW_FUSION
  multires: bool = False
  tower: str = "deepvideo"
  dropout_rate: float = 0.5
  dtype: str = "float32"
  remat: bool = False

  def _spec(self) -> alexnet_tower.TowerSpec:
    spec = alexnet_tower.get_tower_spec(self.tower)
    return _multires_spec(spec) if self.multires else spec

  def validate_config(self) -> None:
    check_choice("model.fusion", self.fusion, FUSIONS)
    if not isinstance(self.window, int) or self.window < 1:
      raise ConfigError(f"model.window={self.window!r} is not valid; allowed: "
                        "integers >= 1")
    needed = {"single": 1, "early": 1, "late": 2, "slow": 1}[self.fusion]
    if self.fusion == "single" and self.window != 1:
      raise ConfigError(f"model.window={self.window} is not valid for "
                        "fusion='single'; allowed: 1")
    if self.window < needed:
      raise ConfigError(f"model.window={self.window} is not valid for "
                        f"fusion='late'; allowed: >= 2 (first and last "
                        "frames are fused)")
    if self.fusion == "slow":
      depth = len(self.slow_fusion)
      if not 1 <= depth <= len(self._spec().convs) or any(
          len(pair) != 2 or min(pair) < 1 for pair in self.slow_fusion):
        raise ConfigError(
            f"model.slow_fusion={self.slow_fusion!r} is not valid for tower "
            f"{self.tower!r}; allowed: 1..{len(self._spec().convs)} "
            "(temporal extent, stride) pairs of positive integers")
      left = slow_fusion_length(self.slow_fusion, self.window)
      if left != 1:
        raise ConfigError(
            f"model.window={self.window} is not valid with model.slow_fusion="
            f"{tuple(map(tuple, self.slow_fusion))}: it leaves {left} "
            "temporal responses after the slow-fusion convs; allowed: a "
            "window they reduce to exactly 1")

  def validate_input(self, shape) -> None:
    """Raises ConfigError unless (T, H, W, C) clips fit the model."""
    self.validate_config()
    frames, height, width, _ = shape
    if frames % self.window:
      raise ConfigError(
          f"dataset.num_frames={frames} is not valid for deepvideo with "
          f"model.window={self.window}; allowed: multiples of {self.window}")
    spec = self._spec()
    smallest = spec.min_input_size() * (2 if self.multires else 1)
    if self.multires and (height % 2 or width % 2):
      raise ConfigError(
          f"dataset.crop_size={height} is not valid for multires deepvideo; "
          "allowed: even sizes (the context stream halves the frame)")
    if min(height, width) < smallest:
      raise ConfigError(
          f"dataset.crop_size: {height}×{width} frames are too small for the "
          f"{self.tower!r} tower of deepvideo, which needs at least "
          f"{smallest}×{smallest}")

  @nn.compact
  def __call__(self, inputs: jax.Array, *, train: bool) -> jax.Array:
    """Logits of a batch of clips.

    Args:
      inputs: [B, T, H, W, C] clips, T a multiple of `window`.
      train: enables dropout.

    Returns:
      [B, num_classes] float32 logits.
    """
    self.validate_input(inputs.shape[1:])
    batch, time, height, width, channels = inputs.shape
    windows = time // self.window
    x = inputs.astype(jnp.dtype(self.dtype)).reshape(
        (batch * windows, self.window, height, width, channels))
    spec = self._spec()
    encoder = lambda name: WindowConvFeatures(
        self.fusion, spec, tuple(map(tuple, self.slow_fusion)),
        dtype=self.dtype, remat=self.remat, name=name)
    if self.multires:
      fovea = x[:, :, height // 4:height // 4 + height // 2,
                width // 4:width // 4 + width // 2]
      context = nn.avg_pool(x, (1, 2, 2), strides=(1, 2, 2))
      features = jnp.concatenate([encoder("fovea")(fovea),
                                  encoder("context")(context)], axis=-1)
    else:
      features = encoder("encoder")(x)
    features = alexnet_tower.FCStack(spec.fc, self.dropout_rate,
                                     dtype=self.dtype, name="fc")(
                                         features, train=train)
    features = features.reshape((batch, windows, -1)).mean(axis=1)
    return heads.classify(features, self.num_classes, train=train,
                          dtype=self.dtype)


_PAPER = dict(tower="deepvideo", dropout_rate=0.5, multires=False,
              slow_fusion=PAPER_SLOW_FUSION)
# The tiny tower has three convs; two slow-fusion layers reduce 4 frames to 1.
_TINY = dict(tower="tiny", dropout_rate=0.0, multires=False,
             slow_fusion=((2, 2), (2, 2)))

VARIANTS = complete_variants(DeepVideo, {
    "single": dict(_PAPER, fusion="single", window=1),
    "early": dict(_PAPER, fusion="early", window=10),
    "late": dict(_PAPER, fusion="late", window=16),
    "slow": dict(_PAPER, fusion="slow", window=10),
    "multires": dict(_PAPER, fusion="single", window=1, multires=True),
    # The paper's slow-fusion multires network (its best Sports-1M model).
    "slow_multires": dict(_PAPER, fusion="slow", window=10, multires=True),
    # CPU sizes; switch fusion with --config.model.fusion (window 4 fits
    # early, late and slow; single needs --config.model.window=1).
    "tiny": dict(_TINY, fusion="slow", window=4),
})

register("deepvideo", DeepVideo, VARIANTS)

# The foundation's baseline is the same network: every frame through the
# tower on its own, frame predictions averaged (the classifier is linear, so
# averaging the FC features gives the mean of the frame logits). Blind to
# frame order, it stays at chance on synthetic_motion.
register("single_frame", DeepVideo, complete_variants(DeepVideo, {
    # The Sports-1M network: 170×170 frames, ≈60.3M parameters at 487 classes.
    "paper": dict(_PAPER, fusion="single", window=1),
    "tiny": dict(_TINY, fusion="single", window=1),
}))
