"""Temporal Segment Networks (Wang et al. 2016), with TRN and TLE consensus.

A video is split into K segments and one snippet is taken from each (the
dataset does this: `vst.data.synthetic_streams`, real datasets' segment
sampling). Every modality has one backbone shared by its K snippets, and a
segmental consensus turns the K snippet predictions into the video's:

  modality     snippet input                 backbone input channels
  rgb          1 frame   [B, K, H, W, 3]     3
  flow         L flows   [B, K·L, H, W, 2]   2L (x1, y1, x2, y2, ...)
  warped_flow  as flow, camera motion removed
  rgb_diff     L frame differences [B, K·L, H, W, 3]  3L

  consensus="avg" | "max"   TSN: the segments' class scores averaged or
                            max-pooled (after the FC layer).
  consensus="trn"           TRN: segment features (FC to `trn_feature_dim`)
                            through multi-scale temporal relations.
  consensus="tle"           TLE: segment feature maps multiplied, then compact
                            bilinear encoding and the classifier.

Several modalities are fused as TSN does at test time: a weighted average of
their scores (`modality_weights`, TSN's 1 : 1.5 for RGB : flow).

TSN's training tricks: `partial_bn` freezes every BN layer but the first,
`dropout_rate` (0.8 RGB, 0.7 flow in TSN) sits before the classifier, and
`cross_modality_init` initialises a flow / RGB-difference backbone from an
RGB one, averaging conv1's kernels over the colour channels and replicating
the mean over the 2L (3L) input channels.

Inputs: a dict of modalities, or a plain array when the model has exactly
one modality (single-stream configs, the model table).
"""

from typing import Mapping, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from vst.errors import ConfigError, check_choice
from vst.layers import cnn_towers
from vst.layers import consensus as consensus_lib
from vst.models._variants import complete_variants
from vst.models.registry import register

MODALITIES = ("rgb", "flow", "warped_flow", "rgb_diff")
# Frames of one snippet: rgb is one frame, the others a stack of new_length.
_STACKED = ("flow", "warped_flow", "rgb_diff")


def as_modality_dict(inputs, modalities: Sequence[str]) -> dict:
  """`inputs` as {modality: array}; a bare array is the only modality."""
  if isinstance(inputs, Mapping):
    missing = [m for m in modalities if m not in inputs]
    if missing:
      raise ConfigError(
          f"dataset.modalities lacks {', '.join(missing)} needed by "
          f"model.modalities={tuple(modalities)}; the inputs have "
          f"{', '.join(sorted(inputs))}")
    return {m: inputs[m] for m in modalities}
  if len(modalities) != 1:
    raise ConfigError(
        f"model.modalities={tuple(modalities)} needs a dict of modalities, "
        "but the dataset gives one array; use dataset.name="
        "synthetic_motion_streams (or another multi-modal dataset)")
  return {modalities[0]: inputs}


def cross_modality_kernel(kernel, in_channels: int):
  """TSN's cross-modality init of a first conv [kh, kw, 3, F]: the mean over
  the RGB channels, replicated over `in_channels`."""
  mean = jnp.asarray(kernel).mean(axis=2, keepdims=True)
  return jnp.repeat(mean, in_channels, axis=2)


def cross_modality_init(variables, source: str = "rgb",
                        target: str = "flow") -> dict:
  """`variables` with the `target` backbone initialised from `source`'s.

  Every backbone weight and BN statistic is copied; conv1's kernel becomes
  `cross_modality_kernel` of the source's, for the target's input channels.
  """
  out = jax.tree_util.tree_map(lambda x: x, dict(variables))
  for collection, tree in variables.items():
    src, dst = f"{source}_backbone", f"{target}_backbone"
    if src not in tree or dst not in tree:
      raise ValueError(f"cross_modality_init needs {src!r} and {dst!r} in "
                       f"{collection!r}; it has {', '.join(sorted(tree))}")
    copied = jax.tree_util.tree_map(jnp.asarray, tree[src])
    if collection == "params":
      target_kernel = tree[dst]["conv1"]["conv"]["kernel"]
      copied = dict(copied)
      conv1 = dict(copied["conv1"])
      conv1["conv"] = {**conv1["conv"], "kernel": cross_modality_kernel(
          copied["conv1"]["conv"]["kernel"], target_kernel.shape[2])}
      copied["conv1"] = conv1
    out[collection] = {**tree, dst: copied}
  return out


class TSN(nn.Module):
  """TSN / TRN / TLE over one or more modalities; see the module docstring.

  Attributes:
    num_classes: size of the classifier.
    backbone: a name in `cnn_towers.BN_BACKBONES`.
    modalities: names from MODALITIES, one backbone each.
    new_length: L, frames of a flow or RGB-difference snippet.
    consensus: one of `consensus.CONSENSUS`.
    dropout_rate: dropout before the classifier (or TRN's feature FC).
    partial_bn: freeze all BN layers but the first (TSN).
    modality_weights: score weights per modality; () for equal weights.
    trn_feature_dim, trn_bottleneck, trn_subsample: TRN's segment feature
      width (256), g_d hidden width (256) and tuples per scale (3).
    tle_dim: compact bilinear dimension of TLE.
    dtype: compute dtype; params stay float32.
  """
  num_classes: int
  backbone: str = "bn_inception"
  modalities: Sequence[str] = ("rgb",)
  new_length: int = 5
  consensus: str = "avg"
  dropout_rate: float = 0.8
  partial_bn: bool = True
  modality_weights: Sequence[float] = ()
  trn_feature_dim: int = 256
  trn_bottleneck: int = 256
  trn_subsample: int = 3
  tle_dim: int = 8192
  dtype: str = "float32"

  def validate_config(self) -> None:
    check_choice("model.backbone", self.backbone, cnn_towers.BN_BACKBONES)
    check_choice("model.consensus", self.consensus, consensus_lib.CONSENSUS)
    modalities = tuple(self.modalities)
    if not modalities or len(set(modalities)) != len(modalities) or any(
        m not in MODALITIES for m in modalities):
      raise ConfigError(f"model.modalities={modalities!r} is not valid; "
                        f"allowed: distinct names from {', '.join(MODALITIES)}")
    if self.modality_weights and (
        len(self.modality_weights) != len(modalities) or
        min(self.modality_weights) < 0 or sum(self.modality_weights) <= 0):
      raise ConfigError(
          f"model.modality_weights={tuple(self.modality_weights)!r} is not "
          f"valid; allowed: () or {len(modalities)} non-negative weights "
          "with a positive sum, one per model.modalities entry")
    if not isinstance(self.new_length, int) or self.new_length < 1:
      raise ConfigError(f"model.new_length={self.new_length!r} is not valid; "
                        "allowed: integers >= 1")

  def num_segments(self, shapes: Mapping[str, Sequence[int]]) -> int:
    """K from the modalities' frame counts; ConfigError if they disagree.

    Stacked modalities have K·L frames. RGB has K frames, or K·L when it
    comes from the same clip sampler as flow (real datasets); then each
    snippet's first frame is its RGB input.
    """
    stacked = {m: s[0] for m, s in shapes.items() if m in _STACKED}
    for modality, frames in stacked.items():
      if frames % self.new_length:
        raise ConfigError(
            f"model.new_length={self.new_length} does not divide the "
            f"{frames} {modality} frames of an input; set the dataset's "
            "snippet length (dataset.new_length or dataset.segment_length) "
            "and model.new_length alike")
    counts = {m: f // self.new_length for m, f in stacked.items()}
    if "rgb" in shapes:
      frames = shapes["rgb"][0]
      k = next(iter(counts.values()), frames)
      if frames not in (k, k * self.new_length):
        raise ConfigError(
            f"rgb has {frames} frames but the stacked modalities have "
            f"{k} segments of model.new_length={self.new_length}; allowed: "
            f"{k} or {k * self.new_length} rgb frames")
      counts["rgb"] = k
    if len(set(counts.values())) > 1:
      raise ConfigError(f"the modalities have different segment counts "
                        f"{counts}; check dataset.num_segments and "
                        "dataset.new_length")
    return next(iter(counts.values()))

  def validate_input(self, shape) -> None:
    """Checks one example's (T, H, W, C), or a dict of them per modality."""
    self.validate_config()
    shapes = shape if isinstance(shape, Mapping) else None
    if shapes is None:
      as_modality_dict(np.zeros(1), self.modalities)
      shapes = {self.modalities[0]: shape}
    else:
      as_modality_dict(shapes, self.modalities)
    self.num_segments({m: shapes[m] for m in self.modalities})

  def _weights(self) -> np.ndarray:
    weights = np.asarray(self.modality_weights or
                         [1.0] * len(self.modalities), np.float32)
    return weights / weights.sum()

  @nn.compact
  def __call__(self, inputs, *, train: bool) -> jax.Array:
    """Logits of a batch of videos.

    Args:
      inputs: {modality: [B, T_m, H, W, C_m]} with T_m = K (rgb) or K·L, or
        one such array for a single-modality model.
      train: enables dropout, batch statistics and TRN's random tuples.

    Returns:
      [B, num_classes] float32 logits.
    """
    inputs = as_modality_dict(inputs, self.modalities)
    shapes = {m: x.shape[1:] for m, x in inputs.items()}
    self.validate_input(shapes)
    k = self.num_segments(shapes)
    dtype = jnp.dtype(self.dtype)
    fused, features = 0.0, []
    for modality, weight in zip(self.modalities, self._weights()):
      x = inputs[modality]
      if modality == "rgb":
        x = x[:, ::x.shape[1] // k]
      batch, frames, height, width, channels = x.shape
      per = frames // k
      # A snippet's frames on the channel axis, frame-major: x1 y1 x2 y2 ...
      x = x.reshape((batch, k, per, height, width, channels))
      x = jnp.moveaxis(x, 2, 4).reshape((batch * k, height, width,
                                         per * channels)).astype(dtype)
      maps = cnn_towers.build_bn_backbone(
          self.backbone, self.partial_bn, self.dtype,
          f"{modality}_backbone")(x, train=train)
      # The video's representation whatever the consensus: the backbone's
      # pooled features averaged over segments, per modality.
      features.append(maps.mean(axis=(1, 2)).reshape((batch, k, -1)).mean(1))
      logits = self._consensus_head(modality, maps, batch, k, train)
      fused = fused + float(weight) * logits
    self.sow("intermediates", "pre_logits", jnp.concatenate(features, -1))
    return fused

  def _consensus_head(self, modality, maps, batch, k, train) -> jax.Array:
    dtype = jnp.dtype(self.dtype)
    if self.consensus == "tle":
      maps = maps.reshape((batch, k) + maps.shape[1:])
      return consensus_lib.TemporalLinearEncoding(
          self.num_classes, self.tle_dim, self.dropout_rate, dtype=self.dtype,
          name=f"{modality}_tle")(maps, train=train)
    pooled = maps.mean(axis=(1, 2))
    if self.dropout_rate > 0:
      pooled = nn.Dropout(self.dropout_rate, deterministic=not train)(pooled)
    if self.consensus == "trn":
      features = nn.Dense(self.trn_feature_dim, dtype=dtype,
                          name=f"{modality}_feature")(pooled)
      return consensus_lib.TemporalRelation(
          self.num_classes, self.trn_bottleneck, self.trn_subsample,
          dtype=self.dtype, name=f"{modality}_trn")(
              features.reshape((batch, k, -1)), train=train)
    scores = nn.Dense(self.num_classes, dtype=dtype,
                      name=f"{modality}_fc")(pooled)
    scores = scores.astype(jnp.float32).reshape((batch, k, -1))
    return consensus_lib.segment_consensus(scores, self.consensus)


_BN_INCEPTION = dict(backbone="bn_inception", consensus="avg",
                     partial_bn=True, new_length=5, modality_weights=())
VARIANTS = complete_variants(TSN, {
    # TSN's released BN-Inception models (official deploy prototxt): 10.37M
    # RGB / 10.40M flow at 101 classes; dropout 0.8 RGB, 0.7 flow.
    "bn_inception": dict(_BN_INCEPTION, modalities=("rgb",), dropout_rate=0.8),
    "bn_inception_flow": dict(_BN_INCEPTION, modalities=("flow",),
                              dropout_rate=0.7),
    "bn_inception_warped_flow": dict(_BN_INCEPTION,
                                     modalities=("warped_flow",),
                                     dropout_rate=0.7),
    "bn_inception_rgb_diff": dict(_BN_INCEPTION, modalities=("rgb_diff",),
                                  dropout_rate=0.8),
    # Two modalities fused 1 : 1.5 (RGB : flow), as TSN's paper does.
    "bn_inception_two_stream": dict(_BN_INCEPTION, modalities=("rgb", "flow"),
                                    dropout_rate=0.8,
                                    modality_weights=(1.0, 1.5)),
    "resnet50": dict(_BN_INCEPTION, backbone="resnet50", modalities=("rgb",),
                     dropout_rate=0.8),
    # TRN on TSN's BN-Inception: 8 segments, 256-d features, g bottleneck 256.
    "trn_bn_inception": dict(_BN_INCEPTION, modalities=("rgb",),
                             consensus="trn", dropout_rate=0.8),
    "tle_bn_inception": dict(_BN_INCEPTION, modalities=("rgb",),
                             consensus="tle", dropout_rate=0.8),
    # CPU size: RGB + flow, 2 segments of 1 frame / 2 flows in unit tests.
    "tiny": dict(backbone="tiny_resnet", modalities=("rgb", "flow"),
                 consensus="avg", partial_bn=False, new_length=1,
                 dropout_rate=0.0, modality_weights=()),
})

register("tsn", TSN, VARIANTS)
