"""Two-stream networks: Simonyan and Zisserman 2014, Feichtenhofer et al. 2016.

The spatial stream sees RGB frames, the temporal stream a stack of L optical
flows (2L channels: x1, y1, x2, y2, ...) starting at the same frame. Inputs
are {"rgb": [B, T, H, W, 3], "flow": [B, T·L, H, W, 2]}: T frames, each with
its flow stack (rgb may also have T·L frames from flow's clip sampler; each
stack's first frame is used) (T=1 in Simonyan's training; Feichtenhofer's 3D fusion uses
T=5 frames τ apart), or one array for a single-stream model.

  fusion="score"   (Simonyan) each stream is a whole network with its own
                   classifier, averaged over the T frames; the streams'
                   scores are fused by `score_fusion`: "average" of softmax
                   scores, or "linear", a learned layer on the L2-normalised
                   softmax scores (the paper's SVM fusion).
  fusion=sum|max|concat|conv|bilinear   (Feichtenhofer) both towers run to
                   `fusion_layer`'s ReLU, the maps are fused there
                   (`vst.layers.fusion`), and the spatial tower's remaining
                   layers continue on the fused map. With `fusion_3d` the T
                   fused maps are mixed by a 3×3×3 conv and 3D max-pooled over
                   time (replacing the pool after `fusion_layer`).
                   `keep_temporal` also keeps the temporal tower to its own
                   classifier and averages its softmax with the fused one, as
                   the paper's final architecture does.

Towers are data (`cnn_towers.PLAIN_SPECS`): CNN-M-2048 for Simonyan (the
temporal net without conv2's LRN), VGG-16 for Feichtenhofer.
"""

from typing import Mapping, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from vst.errors import ConfigError, check_choice
from vst.layers import cnn_towers
from vst.layers import fusion as fusion_lib
from vst.models._variants import complete_variants
from vst.models.registry import register

STREAMS = ("rgb", "flow")
FUSIONS = ("score",) + fusion_lib.FEATURE_FUSIONS


class TwoStream(nn.Module):
  """Spatial + temporal ConvNets and their fusion; see the module docstring.

  Attributes:
    num_classes: size of the classifier.
    spatial_tower, temporal_tower: names in `cnn_towers.PLAIN_SPECS`.
    streams: ("rgb", "flow"), or one of them for a single-stream network.
    new_length: L, flows per stack (10 in both papers).
    fusion: "score" or a feature fusion of `fusion.FEATURE_FUSIONS`.
    score_fusion: "average" or "linear" (fusion="score" only).
    fusion_layer: the tower endpoint whose ReLU output is fused, e.g.
      "conv5_3" (VGG-16) or "conv5" (CNN-M).
    fusion_3d: 3D conv + 3D pooling over the T fused frames.
    keep_temporal: also classify with the temporal tower, averaged in.
    dropout_rate: dropout after each FC layer.
    dtype: compute dtype; params stay float32.
  """
  num_classes: int
  spatial_tower: str = "cnn_m_2048"
  temporal_tower: str = "cnn_m_2048_no_lrn2"
  streams: Sequence[str] = STREAMS
  new_length: int = 10
  fusion: str = "score"
  score_fusion: str = "average"
  fusion_layer: str = "conv5"
  fusion_3d: bool = False
  keep_temporal: bool = True
  dropout_rate: float = 0.5
  dtype: str = "float32"

  def _specs(self):
    return (cnn_towers.get_plain_spec(self.spatial_tower, "model.spatial_tower"),
            cnn_towers.get_plain_spec(self.temporal_tower,
                                      "model.temporal_tower"))

  def validate_config(self) -> None:
    spatial, temporal = self._specs()
    streams = tuple(self.streams)
    if not streams or len(set(streams)) != len(streams) or any(
        s not in STREAMS for s in streams):
      raise ConfigError(f"model.streams={streams!r} is not valid; allowed: "
                        "('rgb', 'flow'), ('rgb',) or ('flow',)")
    check_choice("model.fusion", self.fusion, FUSIONS)
    check_choice("model.score_fusion", self.score_fusion,
                 fusion_lib.SCORE_FUSIONS)
    if not isinstance(self.new_length, int) or self.new_length < 1:
      raise ConfigError(f"model.new_length={self.new_length!r} is not valid; "
                        "allowed: integers >= 1")
    if self.fusion == "score":
      return
    if len(streams) != 2:
      raise ConfigError(f"model.fusion={self.fusion!r} fuses two towers; "
                        "model.streams must be ('rgb', 'flow')")
    index = cnn_towers.plain_endpoint_index(spatial, self.fusion_layer,
                                            "model.fusion_layer")
    other = cnn_towers.plain_endpoint_index(temporal, self.fusion_layer,
                                            "model.fusion_layer")
    if index != other or (spatial.convs[index].features !=
                          temporal.convs[index].features):
      raise ConfigError(
          f"model.fusion_layer={self.fusion_layer!r} differs between "
          f"{self.spatial_tower} and {self.temporal_tower}; fused maps need "
          "the same layer and width")
    if self.fusion_3d and self.fusion == "bilinear":
      raise ConfigError("model.fusion_3d needs maps; model.fusion='bilinear' "
                        "gives a vector; allowed: sum, max, concat, conv")
    if self.fusion_3d and not spatial.convs[index].pool[0]:
      raise ConfigError(
          f"model.fusion_3d replaces the pool after model.fusion_layer, but "
          f"{self.fusion_layer!r} has none; allowed: "
          + ", ".join(name for name, i in spatial.endpoints
                      if spatial.convs[i].pool[0]))

  def validate_input(self, shape) -> None:
    """Checks one example's (T, H, W, C) or {stream: (T, H, W, C)}."""
    self.validate_config()
    if not isinstance(shape, Mapping):
      if len(self.streams) != 1:
        raise ConfigError(
            f"model.streams={tuple(self.streams)} needs a dict of modalities "
            "but the dataset gives one array; use dataset.name="
            "synthetic_motion_streams (or another multi-modal dataset)")
      shape = {self.streams[0]: shape}
    missing = [s for s in self.streams if s not in shape]
    if missing:
      raise ConfigError(f"dataset.modalities lacks {', '.join(missing)} "
                        f"needed by model.streams={tuple(self.streams)}")
    if "flow" in self.streams and shape["flow"][0] % self.new_length:
      raise ConfigError(
          f"model.new_length={self.new_length} does not divide the "
          f"{shape['flow'][0]} flow frames of an input; set "
          "dataset.new_length and model.new_length alike")
    if len(self.streams) == 2 and shape["flow"][0] not in (
        shape["rgb"][0] * self.new_length, shape["rgb"][0]):
      raise ConfigError(
          f"rgb has {shape['rgb'][0]} frames and flow {shape['flow'][0]}; "
          f"each rgb frame needs one stack of model.new_length="
          f"{self.new_length} flows (or rgb as many frames as flow, from "
          "the same clip sampler)")

  def _frames(self, inputs) -> dict:
    """{stream: [B·T, H, W, C]} with flow stacks on channels, and B, T."""
    if not isinstance(inputs, Mapping):
      inputs = {self.streams[0]: inputs}
    self.validate_input({s: inputs[s].shape[1:] for s in self.streams})
    out = {}
    for stream in self.streams:
      x = inputs[stream].astype(jnp.dtype(self.dtype))
      if stream == "rgb" and "flow" in self.streams and (
          x.shape[1] == inputs["flow"].shape[1] and self.new_length > 1):
        # RGB from the flow's clip sampler: each stack's first frame.
        x = x[:, ::self.new_length]
      batch, frames, height, width, channels = x.shape
      per = self.new_length if stream == "flow" else 1
      x = x.reshape((batch, frames // per, per, height, width, channels))
      out[stream] = jnp.moveaxis(x, 2, 4).reshape(
          (-1, height, width, per * channels))
      time = frames // per
    return out, batch, time

  def _classify(self, x, spec, name, batch, time, train,
                features: list) -> jax.Array:
    """FC layers and classifier on maps [B·T', ...], averaged over T'; the
    FC output averaged over T' is appended to `features`."""
    x = cnn_towers.PlainFC(spec.fc, self.dropout_rate, dtype=self.dtype,
                           name=f"{name}_fc")(x, train=train)
    features.append(x.reshape((batch, time, -1)).mean(1))
    logits = nn.Dense(self.num_classes, dtype=jnp.dtype(self.dtype),
                      name=f"{name}_fc8")(x)
    return logits.astype(jnp.float32).reshape((batch, time, -1)).mean(1)

  @nn.compact
  def __call__(self, inputs, *, train: bool) -> jax.Array:
    """Logits [B, num_classes] (float32) of a batch; see the module doc."""
    frames, batch, time = self._frames(inputs)
    specs = dict(zip(("rgb", "flow"), self._specs()))
    names = {"rgb": "spatial", "flow": "temporal"}
    # The representation before the classifier(s): each classified path's
    # last FC output, concatenated (spatial or fused first, then temporal).
    features = []
    sow = lambda: self.sow("intermediates", "pre_logits",
                           jnp.concatenate(features, axis=-1))
    if self.fusion == "score":
      logits = []
      for stream in self.streams:
        x = cnn_towers.PlainConvStack(specs[stream], dtype=self.dtype,
                                      name=names[stream])(frames[stream])
        logits.append(self._classify(x, specs[stream], names[stream], batch,
                                     time, train, features))
      sow()
      if len(logits) == 1:
        return logits[0]
      return fusion_lib.ScoreFusion(self.score_fusion, dtype=self.dtype,
                                    name="score_fusion")(jnp.stack(logits))

    spatial, temporal = specs["rgb"], specs["flow"]
    index = cnn_towers.plain_endpoint_index(spatial, self.fusion_layer,
                                            "model.fusion_layer")
    towers = {
        stream: cnn_towers.PlainConvStack(
            specs[stream], stop=index + 1, pool_last=False, dtype=self.dtype,
            name=names[stream])(frames[stream]) for stream in self.streams}
    fused = fusion_lib.FeatureFusion(self.fusion, dtype=self.dtype,
                                     name="fusion")(towers["rgb"],
                                                    towers["flow"])
    pool = spatial.convs[index].pool
    if self.fusion == "bilinear":
      x, fused_time = fused, time
      features.append(x.reshape((batch, time, -1)).mean(1))
      if self.dropout_rate > 0:
        x = nn.Dropout(self.dropout_rate, deterministic=not train)(x)
      logits = nn.Dense(self.num_classes, dtype=jnp.dtype(self.dtype),
                        name="fused_fc8")(x).astype(jnp.float32)
      logits = logits.reshape((batch, time, -1)).mean(1)
    else:
      if self.fusion_3d:
        x = fused.reshape((batch, time) + fused.shape[1:])
        x = fusion_lib.Fusion3D(spatial.convs[index].features, pool[1],
                                dtype=self.dtype, name="fusion3d")(x)
        fused_time = 1
      else:
        x = cnn_towers.max_pool_ceil(fused, *pool) if pool[0] else fused
        fused_time = time
      x = cnn_towers.PlainConvStack(spatial, start=index + 1, dtype=self.dtype,
                                    name="spatial_top")(x)
      logits = self._classify(x, spatial, "fused", batch, fused_time, train,
                              features)
    if not self.keep_temporal:
      sow()
      return logits
    x = towers["flow"]
    x = cnn_towers.max_pool_ceil(x, *pool) if pool[0] else x
    x = cnn_towers.PlainConvStack(temporal, start=index + 1, dtype=self.dtype,
                                  name="temporal_top")(x)
    temporal_logits = self._classify(x, temporal, "temporal", batch, time,
                                     train, features)
    sow()
    return fusion_lib.ScoreFusion("average", name="final_fusion")(
        jnp.stack([logits, temporal_logits]))


_SIMONYAN = dict(spatial_tower="cnn_m_2048", temporal_tower="cnn_m_2048_no_lrn2",
                 streams=STREAMS, new_length=10, fusion="score",
                 fusion_layer="conv5", fusion_3d=False, keep_temporal=False,
                 dropout_rate=0.5)
_FEICHTENHOFER = dict(spatial_tower="vgg16", temporal_tower="vgg16",
                      streams=STREAMS, new_length=10, score_fusion="average",
                      fusion_layer="conv5_3", dropout_rate=0.5)

VARIANTS = complete_variants(TwoStream, {
    # Simonyan and Zisserman 2014: CNN-M-2048 streams, score fusion by
    # averaging or by a linear layer on the scores (their SVM).
    "cnn_m": dict(_SIMONYAN, score_fusion="average"),
    "cnn_m_svm": dict(_SIMONYAN, score_fusion="linear"),
    "cnn_m_spatial": dict(_SIMONYAN, streams=("rgb",),
                          score_fusion="average"),
    "cnn_m_temporal": dict(_SIMONYAN, streams=("flow",),
                           score_fusion="average"),
    # Feichtenhofer et al. 2016: VGG-16 towers; late score fusion baseline,
    # and the final model (conv fusion after ReLU5_3, 3D conv + 3D pooling
    # over T=5 frames, temporal tower kept).
    "vgg16": dict(_FEICHTENHOFER, fusion="score", fusion_3d=False,
                  keep_temporal=False),
    "vgg16_spatial": dict(_FEICHTENHOFER, streams=("rgb",), fusion="score",
                          fusion_3d=False, keep_temporal=False),
    "vgg16_conv_fusion": dict(_FEICHTENHOFER, fusion="conv", fusion_3d=False,
                              keep_temporal=True),
    # The 3×3×3 conv on the concatenated maps (1024 -> 512) is the
    # convolutional fusion here, so the 2D fusion is a plain concatenation.
    "vgg16_3d_fusion": dict(_FEICHTENHOFER, fusion="concat", fusion_3d=True,
                            keep_temporal=True),
    # CPU size.
    "tiny": dict(spatial_tower="tiny_plain", temporal_tower="tiny_plain",
                 streams=STREAMS, new_length=1, fusion="score",
                 score_fusion="average", fusion_layer="conv3",
                 fusion_3d=False, keep_temporal=False, dropout_rate=0.0),
})

register("two_stream", TwoStream, VARIANTS)
