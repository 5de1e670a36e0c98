"""Beyond Short Snippets (Ng et al. 2015): pooling or a deep LSTM over frames.

A 2D CNN (AlexNet, or GoogLeNet in the paper) sees every frame, sampled at
about 1 fps over 30 to 120 frames; `aggregation` picks how frames combine:

  conv_pooling   max over time of the last conv layer's maps, then the FCs
                 (the paper's best pooling model, 88.2% UCF101 with flow).
  late_pooling   the FCs on every frame, then max over time.
  slow_pooling   max over `pool_window` frames every `pool_stride` frames of
                 the conv maps, the first FC on each window, max over windows,
                 then the other FCs.
  local_pooling  the same windows, all FCs on each, and one larger classifier
                 over the concatenated windows.
  time_conv      a conv across `pool_window` frames (3×3 in space, frame
                 stride `pool_stride`, 256 filters), max over time, the FCs.
  lstm           five stacked LSTM layers of 512 cells on the frame
                 features, a softmax at every step; steps are weighted by
                 g = t/T, growing linearly to 1 at the last frame (our reading
                 of the paper's linear weighting of each frame's loss).

Image and flow networks are separate streams fused late by weighted
averaging of their class probabilities (`streams`, `fusion_weights`).

Per-frame loss weighting. The foundation's trainer computes one
cross-entropy on the returned logits. For `lstm` they are log Σ_t g_t p_t /
Σ_t g_t, so the trained prediction is the g-weighted one; the exact paper
loss Σ_t g_t · CE(p_t) needs the per-step probabilities, which the model sows
as `intermediates/frame_probs` [B, T, K] (with `intermediates/step_weights`
[T]) when applied with `mutable=["intermediates"]` and `train=True`;
`frame_weighted_loss` computes it. A trainer that ignores them trains the
weighted average instead.

Pooling runs the CNN on all frames at once; `lstm` scans the CNN and the LSTM
frame by frame (`recurrent.TimeScan`), so its memory is flat in T at
inference. Inputs: [B, T, H, W, C] RGB, or a dict of streams with an optional
"lengths" int[B] for padded clips.
"""

import flax.linen as nn
import jax
import jax.numpy as jnp

from vst.errors import ConfigError, check_choice
from vst.layers import alexnet_tower
from vst.layers import recurrent
from vst.layers import temporal_pooling
from vst.models import lrcn
from vst.models._variants import complete_variants
from vst.models.registry import register

AGGREGATIONS = ("conv_pooling", "late_pooling", "slow_pooling",
                "local_pooling", "time_conv", "lstm")

_PAPER = dict(tower="caffenet", fc_layers=2, dropout_rate=0.5,
              pool_window=10, pool_stride=5)
_TINY = dict(tower="tiny", fc_layers=2, dropout_rate=0.0, pool_window=4,
             pool_stride=2, time_conv_features=32, lstm_features=(64, 64))


def frame_weighted_loss(frame_probs: jax.Array, step_weights: jax.Array,
                        labels: jax.Array, mask: jax.Array) -> jax.Array:
  """Σ_t g_t CE(p_t, y) / Σ_t g_t per clip, float32[B]: the paper's loss.

  Args:
    frame_probs: [B, T, K] per-step class probabilities (zeros at padding).
    step_weights: [T] weights g_t.
    labels: int[B].
    mask: bool[B, T] valid steps.
  """
  log_p = jnp.log(jnp.maximum(frame_probs, 1e-30))
  nll = -jnp.take_along_axis(log_p, labels[:, None, None], axis=-1)[..., 0]
  g = jnp.where(mask, step_weights[None, :], 0.0)
  return (g * nll).sum(1) / jnp.maximum(g.sum(1), 1e-9)


class _PoolingStream(nn.Module):
  """One stream of a pooling model: frames [B, T, H, W, C] -> logits."""
  num_classes: int
  aggregation: str
  spec: alexnet_tower.TowerSpec
  dropout_rate: float
  pool_window: int
  pool_stride: int
  time_conv_features: int
  dtype: str

  @nn.compact
  def __call__(self, clips, mask, *, train: bool):
    batch, time = clips.shape[:2]
    frames = clips.reshape((batch * time,) + clips.shape[2:])
    maps = alexnet_tower.ConvTrunk(self.spec.convs, dtype=self.dtype,
                                   name="trunk")(
        frames.astype(jnp.dtype(self.dtype)))
    maps = maps.reshape((batch, time) + maps.shape[1:])
    fc = self.spec.fc

    def fcs(x, widths, name):
      x = x.reshape(x.shape[:-3] + (-1,)) if x.ndim >= 4 else x
      return alexnet_tower.FCStack(widths, self.dropout_rate, dtype=self.dtype,
                                   name=name)(x, train=train)

    windows = (self.pool_window, self.pool_stride)
    if self.aggregation == "conv_pooling":
      features = fcs(temporal_pooling.max_over_time(maps, mask), fc, "fc")
    elif self.aggregation == "late_pooling":
      features = temporal_pooling.max_over_time(fcs(maps, fc, "fc"), mask)
    elif self.aggregation == "time_conv":
      conv, valid = temporal_pooling.TimeDomainConv(
          self.time_conv_features, *windows, dtype=self.dtype,
          name="time_conv")(maps, mask)
      features = fcs(temporal_pooling.max_over_time(conv, valid), fc, "fc")
    else:
      pooled, valid = temporal_pooling.window_max(maps, mask, *windows)
      if self.aggregation == "slow_pooling":
        first = fcs(pooled, fc[:1], "fc_window")
        features = fcs(temporal_pooling.max_over_time(first, valid), fc[1:],
                       "fc")
      else:  # local_pooling
        per_window = fcs(pooled, fc, "fc")
        per_window = jnp.where(valid[..., None], per_window, 0)
        features = per_window.reshape((batch, -1))
    logits = nn.Dense(self.num_classes, dtype=jnp.dtype(self.dtype),
                      name="head")(features).astype(jnp.float32)
    return logits, features


class BeyondShortSnippets(nn.Module):
  """Ng et al.'s feature-pooling and deep-LSTM video classifiers.

  Attributes:
    num_classes: size of the classifier.
    aggregation: a name in `AGGREGATIONS`.
    tower: frame CNN, a key of `lrcn.TOWERS`.
    fc_layers: FC layers of the tower used (the paper's AlexNet: 2).
    dropout_rate: after each FC layer (and between LSTM layers).
    pool_window, pool_stride: frames per window and between windows of
      slow/local pooling and the time-domain conv (10 and 5 in the paper).
    time_conv_features: filters of the time-domain conv (256).
    lstm_features: widths of the stacked LSTM layers (5 × 512).
    step_weighting: "linear" (g = t/T) or "uniform" for `lstm`.
    streams, fusion_weights: modalities and their late-fusion weights.
    dtype: compute dtype; params stay float32.
  """
  num_classes: int
  aggregation: str = "conv_pooling"
  tower: str = "tiny"
  fc_layers: int = 2
  dropout_rate: float = 0.0
  pool_window: int = 10
  pool_stride: int = 5
  time_conv_features: int = 256
  lstm_features: tuple[int, ...] = (512,) * 5
  step_weighting: str = "linear"
  streams: tuple[str, ...] = ("rgb",)
  fusion_weights: tuple[float, ...] = (1.0,)
  dtype: str = "float32"

  def _check(self):
    check_choice("model.aggregation", self.aggregation, AGGREGATIONS)
    check_choice("model.step_weighting", self.step_weighting,
                 lrcn.STEP_WEIGHTINGS)
    recurrent.check_streams("streams", self.streams, self.fusion_weights)
    recurrent.check_positive("model.lstm_features", self.lstm_features)
    spec = lrcn.tower_spec(self.tower, self.fc_layers)
    if self.aggregation == "slow_pooling" and len(spec.fc) < 1:
      raise ConfigError("model.fc_layers must be at least 1 for slow_pooling")
    return spec

  def validate_input(self, shape) -> None:
    spec = self._check()
    for stream_shape in recurrent.stream_shapes(shape, self.streams).values():
      lrcn.check_frame_size("snippets_lstm", spec, self.tower, stream_shape)
      if self.aggregation in ("slow_pooling", "local_pooling", "time_conv"):
        temporal_pooling.check_windows(stream_shape[0], self.pool_window,
                                       self.pool_stride)

  @nn.compact
  def __call__(self, inputs, *, train: bool) -> jax.Array:
    """Logits [B, num_classes]: log of the late-fused stream probabilities."""
    spec = self._check()
    clips, lengths = recurrent.split_inputs(inputs, self.streams)
    batch, time = next(iter(clips.values())).shape[:2]
    mask = recurrent.lengths_to_mask(lengths, batch, time)
    probs, features = [], []
    for stream in self.streams:
      if self.aggregation == "lstm":
        p, steps, f = lrcn.FrameRNN(
            self.num_classes, self.tower, self.fc_layers,
            tuple(self.lstm_features), self.dropout_rate, self.dropout_rate,
            step_weighting=self.step_weighting, emit_steps=train,
            dtype=self.dtype, name=stream)(clips[stream], mask, train=train)
        if steps is not None:
          self.sow("intermediates", "frame_probs", steps)
          weights = lrcn.step_weights(self.step_weighting, time)
          self.sow("intermediates", "step_weights",
                   jnp.ones((time,)) if weights is None else weights)
      else:
        logits, f = _PoolingStream(
            self.num_classes, self.aggregation, spec, self.dropout_rate,
            self.pool_window, self.pool_stride, self.time_conv_features,
            self.dtype, name=stream)(clips[stream], mask, train=train)
        p = jax.nn.softmax(logits, -1)
      probs.append(p)
      features.append(f)
    # The pooled features (or last LSTM hidden state) of each stream.
    self.sow("intermediates", "pre_logits", jnp.concatenate(features, -1))
    return recurrent.late_fusion_logits(probs, self.fusion_weights)


VARIANTS = complete_variants(BeyondShortSnippets, {
    # Max conv pooling over 120 frames of AlexNet (220×220 frames).
    "conv_pooling": dict(_PAPER, aggregation="conv_pooling"),
    # The deep LSTM unrolled over 30 frames: 5 layers of 512 cells.
    "lstm": dict(_PAPER, aggregation="lstm", lstm_features=(512,) * 5,
                 step_weighting="linear"),
    # Both with image + flow networks, fused late.
    "conv_pooling_two_stream": dict(_PAPER, aggregation="conv_pooling",
                                    streams=("rgb", "flow"),
                                    fusion_weights=(1.0, 1.0)),
    "lstm_two_stream": dict(_PAPER, aggregation="lstm",
                            lstm_features=(512,) * 5, step_weighting="linear",
                            streams=("rgb", "flow"),
                            fusion_weights=(1.0, 1.0)),
    # For 8 frames of 16×16 to 32×32 on a CPU; any aggregation by override.
    "tiny": dict(_TINY, aggregation="lstm"),
})

register("snippets_lstm", BeyondShortSnippets, VARIANTS)
