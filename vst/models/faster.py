"""FASTER (Zhu et al. 2020): expensive and cheap clips aggregated by FAST-GRU.

A video [B, T, H, W, C] is cut into N = T / clip_frames consecutive clips.
Clip i goes through the *expensive* 3D CNN when i % expensive_every == 0 and
through the *cheap* one otherwise: the expensive model captures motion in
detail, the cheap one (a 2D ResNet on every `cheap_frame_stride`-th frame)
follows scene changes at a fraction of the cost. Both backbones end at res5
without pooling; the cheap map is averaged over time to the expensive map's
temporal size and projected to its width if needed, so every clip gives a
feature map [B, t, h, w, D] of one shape. A `conv_recurrent.FastGRUCell`
aggregates the clip maps in order (keeping their spatio-temporal
resolution), and the hidden state after the last valid clip is pooled and
classified.

Backbones are the 3D ResNet family's stage specs (`vst.models.resnet3d`),
rebuilt here as trunks without their classifier. FASTER32 uses R(2+1)D-50 as
the expensive model on 32-frame clips and the 2D ResNet R2D-26 as the cheap
one; REFERENCE.md marks that pairing as unverified (M), and 67.7 GFLOPs per
clip is the number checked against (`tools/published/faster.json`).

At inference (and in the paper's setting of long videos), clips are
processed a group at a time: the scan's step runs the expensive backbone on
a group's first clip, the cheap one on the others, then FAST-GRU over them,
so memory does not grow with the number of clips. In training the backbones
run on all clips at once (backprop keeps every clip's activations anyway,
BatchNorm sees the whole batch of clips, and one batched pass is faster),
and only FAST-GRU is scanned; `scan_backbones=False` does the same at
inference. Padded videos: a dict {"rgb": ..., "lengths": int[B]} (in
frames); a clip is valid when its first frame is.
"""

import dataclasses

import flax.linen as nn
import jax
import jax.numpy as jnp

from vst.errors import ConfigError
from vst.layers import conv_recurrent
from vst.layers import heads
from vst.layers import recurrent
from vst.layers import residual3d
from vst.models import resnet3d
from vst.models.registry import register


@dataclasses.dataclass(frozen=True)
class Backbone:
  """The stage spec of a 3D ResNet trunk (fields as `resnet3d.ResNet3D`)."""
  depths: tuple[int, ...]
  block: str = "bottleneck"
  widths: tuple[int, ...] = (64, 128, 256, 512)
  expansion: int = 4
  stem: str = "r2plus1d"
  stem_features: int = 64
  factorization: str = "r2plus1d"
  temporal_kernels: tuple[int, ...] = (3, 3, 3, 3)
  temporal_strides: tuple[int, ...] = (1, 2, 2, 2)

  @property
  def out_features(self) -> int:
    return self.widths[-1] * self.expansion


BACKBONES = {
    # R(2+1)D-50: the ResNet-50 bottleneck layout with (2+1)D 3×3×3 convs.
    "r2plus1d_50": Backbone(depths=(3, 4, 6, 3)),
    # R2D-26: a 2D ResNet of bottlenecks [2, 2, 2, 2], applied frame-wise.
    "r2d_26": Backbone(depths=(2, 2, 2, 2), stem="r3d", factorization="full",
                       temporal_kernels=(1, 1, 1, 1),
                       temporal_strides=(1, 1, 1, 1)),
    # For 8-frame clips of 16×16 to 32×32 on a CPU.
    "tiny_r2plus1d": Backbone(depths=(1, 1, 1, 1), block="basic",
                              widths=(8, 16, 32, 32), expansion=1,
                              stem_features=8, temporal_strides=(1, 2, 2, 1)),
    "tiny_r2d": Backbone(depths=(1, 1, 1, 1), block="basic",
                         widths=(8, 16, 32, 32), expansion=1, stem="r3d",
                         stem_features=8, factorization="full",
                         temporal_kernels=(1, 1, 1, 1),
                         temporal_strides=(1, 1, 1, 1)),
}


def _backbone(field: str, name: str) -> Backbone:
  if name not in BACKBONES:
    raise ConfigError(f"model.{field}={name!r} is not valid; allowed: "
                      f"{', '.join(BACKBONES)}")
  return BACKBONES[name]


class ResNetTrunk(nn.Module):
  """A 3D ResNet up to res5: [B, T, H, W, C] -> [B, t, h, w, out_features].

  `resnet3d.residual_trunk`, the stem and stages of `resnet3d.ResNet3D`,
  without the pooling and classifier, because FAST-GRU needs the unpooled
  map.
  """
  spec: Backbone
  dtype: str = "float32"

  @nn.compact
  def __call__(self, x, train: bool):
    spec = self.spec
    return resnet3d.residual_trunk(
        x, stem=resnet3d.STEMS[spec.stem], stem_features=spec.stem_features,
        depths=spec.depths, block=spec.block, widths=spec.widths,
        expansion=spec.expansion, temporal_kernels=spec.temporal_kernels,
        temporal_strides=spec.temporal_strides,
        factorizations=spec.factorization,
        options=residual3d.ConvOptions(dtype=self.dtype), train=train,
        shortcut="B")


class _PooledGRUStep(nn.Module):
  """FAST-GRU step whose output is the hidden map's global average."""
  cell: nn.Module

  def __call__(self, h, x):
    h, _ = self.cell(h, x)
    return h, h.mean(axis=(1, 2, 3))


def _pool_cheap(cheap: jax.Array, expensive_shape: tuple, projection,
                names: tuple[str, str]) -> jax.Array:
  """Cheap maps [B, n, t', h, w, d'] averaged over time to the expensive
  maps' t and projected to their width: [B, n, t, h, w, D]."""
  t_exp, t_cheap = expensive_shape[2], cheap.shape[2]
  if t_cheap % t_exp or cheap.shape[3:5] != tuple(expensive_shape[3:5]):
    raise ConfigError(
        f"model.cheap={names[1]!r} gives {cheap.shape[2:5]} maps that do not "
        f"pool to model.expensive={names[0]!r}'s {tuple(expensive_shape[2:5])};"
        f" change model.cheap_frame_stride or the backbones")
  cheap = cheap.reshape(cheap.shape[:2] + (t_exp, t_cheap // t_exp)
                        + cheap.shape[3:]).mean(axis=3)
  if projection is not None:
    cheap = projection(cheap)
  return cheap


class _ClipGroupStep(nn.Module):
  """One group of clips [B, k, L, H, W, C] (clip 0 expensive, the others
  cheap) through the backbones, then FAST-GRU over its k clips in order,
  each masked by bool[B, k]. Output: the final hidden map's global average.
  """
  expensive: nn.Module
  cheap: nn.Module | None
  projection: nn.Module | None
  cell: nn.Module
  cheap_frame_stride: int
  names: tuple[str, str]

  def maps(self, clips: jax.Array) -> jax.Array:
    """Feature maps [B, k, t, h, w, D] of a group's clips."""
    first = self.expensive(clips[:, 0], False)[:, None]
    if clips.shape[1] == 1:
      return first
    rest = clips[:, 1:, ::self.cheap_frame_stride]
    batch, k = rest.shape[:2]
    cheap = self.cheap(rest.reshape((batch * k,) + rest.shape[2:]), False)
    cheap = _pool_cheap(cheap.reshape((batch, k) + cheap.shape[1:]),
                        first.shape, self.projection, self.names)
    return jnp.concatenate([first, cheap.astype(first.dtype)], axis=1)

  def recur(self, h, maps: jax.Array, mask: jax.Array):
    for i in range(maps.shape[1]):
      new, _ = self.cell(h, maps[:, i])
      h = jnp.where(mask[:, i].reshape((-1,) + (1,) * (h.ndim - 1)), new, h)
    return h

  def __call__(self, h, group):
    clips, mask = group
    h = self.recur(h, self.maps(clips), mask)
    return h, h.mean(axis=(1, 2, 3))


VARIANTS = {
    # FASTER32: R(2+1)D-50 on 32-frame clips alternating with R2D-26 on 8 of
    # a clip's 32 frames, at 112×112. The alternation and the cheap model's 8
    # frames are not from the paper's text: they are the setting whose cost
    # reproduces its 67.7 GFLOPs per clip (68.0 measured; every 4th clip
    # expensive would give 43.8).
    "32": dict(expensive="r2plus1d_50", cheap="r2d_26", clip_frames=32,
               expensive_every=2, cheap_frame_stride=4, gru_reduction=4,
               dropout_rate=0.5),
    "tiny": dict(expensive="tiny_r2plus1d", cheap="tiny_r2d", clip_frames=4,
                 expensive_every=2, cheap_frame_stride=2, gru_reduction=4,
                 dropout_rate=0.0),
}


class FASTER(nn.Module):
  """FASTER over videos [B, N·clip_frames, H, W, C].

  Attributes:
    num_classes: size of the classifier.
    expensive, cheap: backbone names, keys of `BACKBONES`.
    clip_frames: frames per clip.
    expensive_every: clip i is expensive when i % expensive_every == 0 (1:
      every clip expensive, FASTER's upper bound).
    cheap_frame_stride: the cheap model sees every k-th frame of its clip.
    gru_reduction: FAST-GRU's bottleneck ratio.
    dropout_rate: before the classifier.
    scan_backbones: at inference, run the backbones inside the scan over
      clip groups (memory flat in video length); False runs them on all
      clips at once, as in training.
    dtype: compute dtype; params stay float32.
  """
  num_classes: int
  expensive: str = "tiny_r2plus1d"
  cheap: str = "tiny_r2d"
  clip_frames: int = 4
  expensive_every: int = 2
  cheap_frame_stride: int = 2
  gru_reduction: int = 4
  dropout_rate: float = 0.0
  scan_backbones: bool = True
  dtype: str = "float32"

  def _specs(self):
    expensive = _backbone("expensive", self.expensive)
    cheap = _backbone("cheap", self.cheap)
    recurrent.check_positive("model.clip_frames", self.clip_frames)
    recurrent.check_positive("model.expensive_every", self.expensive_every)
    recurrent.check_positive("model.cheap_frame_stride",
                             self.cheap_frame_stride)
    recurrent.check_positive("model.gru_reduction", self.gru_reduction)
    if self.clip_frames % self.cheap_frame_stride:
      raise ConfigError(
          f"model.cheap_frame_stride={self.cheap_frame_stride} must divide "
          f"model.clip_frames={self.clip_frames}")
    return expensive, cheap

  def clip_plan(self, time: int) -> tuple[list[int], list[int]]:
    """(expensive clip indices, cheap clip indices) for `time` frames."""
    if time % self.clip_frames:
      raise ConfigError(
          f"dataset.num_frames={time} must be a multiple of "
          f"model.clip_frames={self.clip_frames}")
    clips = range(time // self.clip_frames)
    expensive = [i for i in clips if i % self.expensive_every == 0]
    return expensive, [i for i in clips if i % self.expensive_every]

  def validate_input(self, shape) -> None:
    self._specs()
    self.clip_plan(recurrent.stream_shapes(shape, ("rgb",))["rgb"][0])

  def _clip_features(self, backbone, x, idx, train, stride=1):
    """Backbone maps of clips `idx` of x [B, N, L, H, W, C]."""
    batch = x.shape[0]
    clips = x[:, jnp.array(idx), ::stride]
    flat = clips.reshape((batch * len(idx),) + clips.shape[2:])
    maps = backbone(flat, train)
    return maps.reshape((batch, len(idx)) + maps.shape[1:])

  @nn.compact
  def __call__(self, inputs, *, train: bool) -> jax.Array:
    """Logits [B, num_classes] of videos (or a dict with "lengths")."""
    expensive_spec, cheap_spec = self._specs()
    clips, lengths = recurrent.split_inputs(inputs, ("rgb",))
    video = clips["rgb"]
    batch, time = video.shape[:2]
    expensive_idx, cheap_idx = self.clip_plan(time)
    num_clips = time // self.clip_frames
    x = video.reshape((batch, num_clips, self.clip_frames) + video.shape[2:])
    if lengths is None:
      mask = jnp.ones((batch, num_clips), bool)
    else:
      starts = jnp.arange(num_clips) * self.clip_frames
      mask = starts[None, :] < jnp.asarray(lengths).astype(jnp.int32)[:, None]
    width = expensive_spec.out_features
    expensive = ResNetTrunk(expensive_spec, self.dtype, name="expensive")
    cheap = projection = None
    if cheap_idx:
      cheap = ResNetTrunk(cheap_spec, self.dtype, name="cheap")
      if cheap_spec.out_features != width:
        projection = nn.Dense(width, dtype=jnp.dtype(self.dtype),
                              name="cheap_projection")
    cell = conv_recurrent.FastGRUCell(width, self.gru_reduction,
                                      dtype=self.dtype, name="fast_gru")
    names = (self.expensive, self.cheap)
    if train or not self.scan_backbones:
      h = self._all_clips_at_once(x, mask, expensive, cheap, projection, cell,
                                  expensive_idx, cheap_idx, names, train)
    else:
      h = self._clip_groups_scanned(x, mask, expensive, cheap, projection,
                                    cell, names)
    pooled = h.mean(axis=(1, 2, 3))
    return heads.classify(pooled, self.num_classes, train=train,
                          dropout_rate=self.dropout_rate, dtype=self.dtype)

  def _all_clips_at_once(self, x, mask, expensive, cheap, projection, cell,
                         expensive_idx, cheap_idx, names, train):
    """Backbones on every clip in one batch; FAST-GRU scanned over them."""
    features = [self._clip_features(expensive, x, expensive_idx, train)]
    if cheap_idx:
      maps = self._clip_features(cheap, x, cheap_idx, train,
                                 self.cheap_frame_stride)
      features.append(_pool_cheap(maps, features[0].shape, projection,
                                  names).astype(features[0].dtype))
    order = expensive_idx + cheap_idx
    inverse = [order.index(i) for i in range(x.shape[1])]
    sequence = jnp.concatenate(features, axis=1)[:, jnp.array(inverse)]
    h, _, _ = recurrent.TimeScan(_PooledGRUStep(cell), name="time")(
        cell.initial_carry(sequence[:, 0]), sequence, mask,
        (cell.features,))
    return h

  def _clip_groups_scanned(self, x, mask, expensive, cheap, projection, cell,
                           names):
    """Groups of `expensive_every` clips, one per scan step; memory flat in
    the number of groups. The first group runs outside the scan, to size
    the carry; a last incomplete group runs after it."""
    batch, num_clips = x.shape[:2]
    every = self.expensive_every
    step = _ClipGroupStep(expensive, cheap, projection, cell,
                          self.cheap_frame_stride, names, name="clip_group")
    first = min(every, num_clips)
    maps = step.maps(x[:, :first])
    h = step.recur(cell.initial_carry(maps[:, 0]), maps, mask[:, :first])
    full = num_clips // every
    if full > 1:
      groups = x[:, :full * every].reshape(
          (batch, full, every) + x.shape[2:])
      group_masks = mask[:, :full * every].reshape((batch, full, every))
      h, _, _ = recurrent.TimeScan(step, name="time")(
          h, (groups, group_masks), group_masks[:, :, 0], (cell.features,),
          start=1)
    if num_clips > full * every and full >= 1:
      h, _ = step(h, (x[:, full * every:], mask[:, full * every:]))
    return h


register("faster", FASTER, VARIANTS)
