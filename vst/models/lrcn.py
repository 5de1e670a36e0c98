"""LRCN (Donahue et al. 2015): per-frame CNN features into an LSTM.

Every frame goes through a 2D CNN up to fc6; an LSTM reads the fc6 features
in order and a classifier predicts the action at every step; the clip's
prediction is the average of the per-step class probabilities. RGB and flow
are separate networks whose averaged probabilities are fused with fixed
weights (the paper weights flow above RGB; 1/3 RGB, 2/3 flow).

At inference the frame encoder, LSTM and classifier of one stream form one
step of a `recurrent.TimeScan`, so the network compiles once for any number
of frames and a frame's activations live for one step: inference memory does
not grow with T. In training the encoder runs on all frames at once (same
parameters, same result) because that is much faster and backprop stores
every frame's activations anyway. Inputs may be padded: pass {"rgb": [B, T, H, W, 3], "flow":
[B, T, H, W, 2], "lengths": int[B]}; steps past a clip's length neither move
the LSTM nor count in the average.

CNN: LRCN uses CaffeNet (AlexNet with 227×227 inputs). `caffenet` below has
its layer sizes: conv1 96@11×11/4, conv2 256@5×5, conv3/4 384@3×3, conv5
256@3×3, each pool leaving 27, 13 and 6 pixels, and fc6 4096 on the 6×6×256
map. Two simplifications of `alexnet_tower`'s shared trunk: the pools are
2×2 non-overlapping rather than 3×3 with stride 2 (same output sizes), and
conv2/4/5 are not split into CaffeNet's two groups (2.3M more weights). The
paper reports no parameter count, so no published row is gated on them.

Returns logits = log(mean_t p_t) (fused over streams), whose softmax is the
averaged prediction, so the trainer's cross-entropy trains the average.
"""

import dataclasses

import flax.linen as nn
import jax
import jax.numpy as jnp

from vst.errors import ConfigError, check_choice
from vst.layers import alexnet_tower
from vst.layers import recurrent
from vst.models.registry import register

TOWERS = {
    **alexnet_tower.TOWER_SPECS,
    "caffenet": alexnet_tower.TowerSpec(
        convs=(
            alexnet_tower.ConvLayer(96, 11, stride=4, lrn=True, pool=2),
            alexnet_tower.ConvLayer(256, 5, padding=2, lrn=True, pool=2),
            alexnet_tower.ConvLayer(384, 3, padding=1),
            alexnet_tower.ConvLayer(384, 3, padding=1),
            alexnet_tower.ConvLayer(256, 3, padding=1, pool=2),
        ),
        fc=(4096, 4096)),
}


def tower_spec(name: str, fc_layers: int) -> alexnet_tower.TowerSpec:
  """`TOWERS[name]` cut after its first `fc_layers` FC layers."""
  check_choice("model.tower", name, TOWERS)
  spec = TOWERS[name]
  if not 0 <= fc_layers <= len(spec.fc):
    raise ConfigError(f"model.fc_layers={fc_layers} is not valid for tower "
                      f"{name!r}; allowed: 0 to {len(spec.fc)}")
  return dataclasses.replace(spec, fc=spec.fc[:fc_layers])


def check_frame_size(model_name: str, spec, tower: str, shape) -> None:
  """Raises ConfigError naming dataset.crop_size if frames are too small."""
  _, height, width, _ = shape
  smallest = spec.min_input_size()
  if min(height, width) < smallest:
    raise ConfigError(
        f"dataset.crop_size: {height}×{width} frames are too small for the "
        f"{tower!r} tower of {model_name}, which needs at least "
        f"{smallest}×{smallest}")


class FrameFeatures(nn.Module):
  """The 2D tower on one frame per example: [B, H, W, C] -> [B, D].

  Attributes:
    spec: the tower's layers (`tower_spec`).
    dropout_rate: after each FC layer when training.
    train: enables dropout (a field: it runs inside scanned steps).
    dtype: compute dtype; params stay float32.
  """
  spec: alexnet_tower.TowerSpec
  dropout_rate: float = 0.0
  train: bool = False
  dtype: str = "float32"

  @nn.compact
  def __call__(self, x):
    x = alexnet_tower.ConvTrunk(self.spec.convs, dtype=self.dtype,
                                name="trunk")(x.astype(jnp.dtype(self.dtype)))
    x = x.reshape((x.shape[0], -1))
    return alexnet_tower.FCStack(self.spec.fc, self.dropout_rate,
                                 dtype=self.dtype, name="fc")(x, train=self.train)


class FrameRNN(nn.Module):
  """One stream: frame CNN → stacked LSTM → per-step softmax, averaged.

  Shared by LRCN (one LSTM layer) and Beyond Short Snippets' deep LSTM (five
  layers, linearly growing step weights).

  Attributes:
    num_classes, tower, fc_layers, lstm_features, tower_dropout,
    lstm_dropout, forget_bias, step_weighting, dtype: see `LRCN`.
    emit_steps: also return the per-step probabilities [B, T, K].

  Returns (mean probabilities [B, K], per-step ones or None, the top LSTM
  layer's hidden state after each clip's last valid frame [B, D]).
  """
  num_classes: int
  tower: str
  fc_layers: int
  lstm_features: tuple[int, ...]
  tower_dropout: float = 0.0
  lstm_dropout: float = 0.0
  forget_bias: float = 0.0
  step_weighting: str = "uniform"
  emit_steps: bool = False
  dtype: str = "float32"

  @nn.compact
  def __call__(self, clips, mask, *, train: bool):
    batch, time = clips.shape[:2]
    spec = tower_spec(self.tower, self.fc_layers)
    cells = [recurrent.LSTMCell(n, forget_bias=self.forget_bias,
                                dtype=self.dtype, name=f"lstm{k}")
             for k, n in enumerate(self.lstm_features)]
    cell = recurrent.StackedCells(cells, self.lstm_dropout, train=train,
                                  name="lstm")
    encoder = FrameFeatures(spec, self.tower_dropout, train=train,
                            dtype=self.dtype, name="frame")
    if train:
      # Backprop keeps every frame's activations anyway, and one batched
      # pass over B·T frames is ~8× faster on CPU than the CNN scanned frame
      # by frame (8.5 s against 1.1 s per step for the tiny config).
      frames = clips.reshape((batch * time,) + clips.shape[2:])
      xs, step_encoder = encoder(frames).reshape((batch, time, -1)), None
    else:
      xs, step_encoder = clips, encoder
    step = recurrent.EncodeRecurClassify(
        cell, self.num_classes, encoder=step_encoder,
        dropout_rate=self.lstm_dropout, train=train, dtype=self.dtype,
        name="step")
    carry = cell.initial_carry(jnp.zeros((batch, 1)))
    weights = step_weights(self.step_weighting, time)
    carry, probs, steps = recurrent.TimeScan(step, emit=self.emit_steps,
                                             name="time")(
        carry, xs, mask, (self.num_classes,), weights)
    _, hidden = carry[-1]
    return probs, steps, hidden


STEP_WEIGHTINGS = ("uniform", "linear")


def step_weights(name: str, time: int):
  check_choice("model.step_weighting", name, STEP_WEIGHTINGS)
  return None if name == "uniform" else recurrent.linear_step_weights(time)


VARIANTS = {
    # LRCN-fc6 (the paper's best activity model): CaffeNet to fc6, one LSTM
    # layer of 256 units, dropout 0.5 on fc6 (as in CaffeNet) and 0.5 before
    # the classifier.
    "fc6": dict(tower="caffenet", fc_layers=1, lstm_features=(256,),
                tower_dropout=0.5, lstm_dropout=0.5, streams=("rgb",),
                fusion_weights=(1.0,)),
    "fc6_two_stream": dict(tower="caffenet", fc_layers=1,
                           lstm_features=(256,), tower_dropout=0.5,
                           lstm_dropout=0.5, streams=("rgb", "flow"),
                           fusion_weights=(1.0, 2.0)),
    # For 16×16 to 32×32 frames on a CPU.
    "tiny": dict(tower="tiny", fc_layers=1, lstm_features=(64,),
                 tower_dropout=0.0, lstm_dropout=0.0, streams=("rgb",),
                 fusion_weights=(1.0,)),
}


class LRCN(nn.Module):
  """Long-term recurrent convolutional network for clips [B, T, H, W, C].

  Attributes:
    num_classes: size of the classifier.
    tower: frame CNN, a key of `TOWERS` ("caffenet" is LRCN's).
    fc_layers: FC layers of the tower kept before the LSTM (1: LRCN-fc6).
    lstm_features: width of each stacked LSTM layer, bottom first.
    tower_dropout: dropout after the tower's FC layers.
    lstm_dropout: dropout between LSTM layers and before the classifier.
    forget_bias: added to the LSTM forget gate (0 in Caffe's LSTM).
    streams: modalities, each with its own network: ("rgb",), ("flow",) or
      ("rgb", "flow"); inputs are a dict of them (a bare array is "rgb").
    fusion_weights: late-fusion weight of each stream's averaged
      probabilities, normalised to sum to one.
    dtype: compute dtype; params stay float32.
  """
  num_classes: int
  tower: str = "tiny"
  fc_layers: int = 1
  lstm_features: tuple[int, ...] = (256,)
  tower_dropout: float = 0.0
  lstm_dropout: float = 0.0
  forget_bias: float = 0.0
  streams: tuple[str, ...] = ("rgb",)
  fusion_weights: tuple[float, ...] = (1.0,)
  dtype: str = "float32"

  def validate_input(self, shape) -> None:
    recurrent.check_streams("streams", self.streams, self.fusion_weights)
    recurrent.check_positive("model.lstm_features", self.lstm_features)
    spec = tower_spec(self.tower, self.fc_layers)
    for stream_shape in recurrent.stream_shapes(shape, self.streams).values():
      check_frame_size("lrcn", spec, self.tower, stream_shape)

  @nn.compact
  def __call__(self, inputs, *, train: bool) -> jax.Array:
    """Logits [B, num_classes], log of the fused averaged probabilities.

    Args:
      inputs: [B, T, H, W, C] RGB clips, or a dict with one [B, T, H, W, C]
        array per stream and optionally "lengths" int[B].
      train: enables dropout.
    """
    recurrent.check_streams("streams", self.streams, self.fusion_weights)
    clips, lengths = recurrent.split_inputs(inputs, self.streams)
    batch, time = next(iter(clips.values())).shape[:2]
    mask = recurrent.lengths_to_mask(lengths, batch, time)
    probs, hidden = [], []
    for stream in self.streams:
      p, _, h = FrameRNN(self.num_classes, self.tower, self.fc_layers,
                      tuple(self.lstm_features), self.tower_dropout,
                      self.lstm_dropout, self.forget_bias, dtype=self.dtype,
                      name=stream)(clips[stream], mask, train=train)
      probs.append(p)
      hidden.append(h)
    # The video's representation: each stream's last hidden state.
    self.sow("intermediates", "pre_logits", jnp.concatenate(hidden, -1))
    return recurrent.late_fusion_logits(probs, self.fusion_weights)


register("lrcn", LRCN, VARIANTS)
