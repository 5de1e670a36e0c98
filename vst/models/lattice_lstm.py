"""Lattice-LSTM (L²STM, Sun et al. 2017) on a two-stream frame CNN.

Each frame's RGB image and optical flow go through their own 2D conv trunk
to feature maps; a `conv_recurrent.LatticeLSTMCell` per stream advances over
time. Its memory transitions use locally varying weights, a separate
recurrent kernel at every spatial position, so different parts of the frame
can follow different, non-stationary motion; its input and forget gates read
both modalities (the paper's multi-modal training of the two streams' gates),
while each cell's content comes from its own stream. Every step classifies
the pooled hidden state of each stream; per-stream probabilities are averaged
over valid steps and fused late with `fusion_weights`.

Frame CNNs: the paper builds on a TSN-style two-stream network; here the
trunk is an AlexNet-like one from `lrcn.TOWERS` (conv layers only). Its
parameter and FLOP counts are not published (REFERENCE.md: n/p).

The trunks, cells and classifiers form one scanned step, so memory is flat in
T at inference. Inputs: [B, T, H, W, 3] RGB (one stream, gates driven by
RGB alone) or {"rgb": ..., "flow": [B, T, H, W, 2], "lengths": int[B]}.
"""

import flax.linen as nn
import jax
import jax.numpy as jnp

from vst.errors import check_choice
from vst.layers import alexnet_tower
from vst.layers import conv_recurrent
from vst.layers import recurrent
from vst.models import lrcn
from vst.models.registry import register

VARIANTS = {
    "alexnet_two_stream": dict(tower="caffenet", features=256,
                               kernel_size=(3, 3), dropout_rate=0.5,
                               streams=("rgb", "flow"),
                               fusion_weights=(1.0, 1.0)),
    "tiny": dict(tower="tiny", features=32, kernel_size=(3, 3),
                 dropout_rate=0.0, streams=("rgb",), fusion_weights=(1.0,)),
}


class _LatticeStep(nn.Module):
  """Trunks, one lattice cell per stream and per-stream classifiers."""
  spec: alexnet_tower.TowerSpec
  streams: tuple[str, ...]
  features: int
  kernel_size: tuple[int, int]
  num_classes: int
  dropout_rate: float
  train: bool
  dtype: str

  def setup(self):
    self.trunks = {s: alexnet_tower.ConvTrunk(self.spec.convs, self.dtype,
                                              in_scan=True, name=f"{s}_trunk")
                   for s in self.streams}
    self.cells = {s: conv_recurrent.LatticeLSTMCell(
        self.features, tuple(self.kernel_size), self.dtype,
        name=f"{s}_lattice") for s in self.streams}
    self.heads = {s: nn.Dense(self.num_classes, dtype=jnp.dtype(self.dtype),
                              name=f"{s}_head") for s in self.streams}
    self.dropout = nn.Dropout(self.dropout_rate)

  def __call__(self, carry, frames):
    maps = {s: self.trunks[s](frames[s].astype(jnp.dtype(self.dtype)))
            for s in self.streams}
    new_carry, probs = {}, []
    for s in self.streams:
      # The other modality drives the gates; a lone stream gates itself.
      other = next((o for o in self.streams if o != s), s)
      new_carry[s], h = self.cells[s](carry[s], (maps[s], maps[other]))
      h = self.dropout(h.mean(axis=(1, 2)), deterministic=not self.train)
      probs.append(jax.nn.softmax(
          self.heads[s](h).astype(jnp.float32), axis=-1))
    return new_carry, jnp.stack(probs, axis=1)


class LatticeLSTM(nn.Module):
  """L²STM video classifier.

  Attributes:
    num_classes: size of the classifier.
    tower: frame trunk, a key of `lrcn.TOWERS` (its conv layers).
    features: channels of each lattice cell's state.
    kernel_size: (k_h, k_w) of the cell's transforms.
    dropout_rate: on the pooled hidden state before each classifier.
    streams: ("rgb",) or ("rgb", "flow").
    fusion_weights: late-fusion weights of the streams' averaged
      probabilities.
    dtype: compute dtype; params stay float32.
  """
  num_classes: int
  tower: str = "tiny"
  features: int = 32
  kernel_size: tuple[int, int] = (3, 3)
  dropout_rate: float = 0.0
  streams: tuple[str, ...] = ("rgb",)
  fusion_weights: tuple[float, ...] = (1.0,)
  dtype: str = "float32"

  def _check(self):
    check_choice("model.tower", self.tower, lrcn.TOWERS)
    recurrent.check_streams("streams", self.streams, self.fusion_weights)
    recurrent.check_positive("model.features", self.features)
    return lrcn.tower_spec(self.tower, 0)

  def validate_input(self, shape) -> None:
    spec = self._check()
    for stream_shape in recurrent.stream_shapes(shape, self.streams).values():
      lrcn.check_frame_size("lattice_lstm", spec, self.tower, stream_shape)

  @nn.compact
  def __call__(self, inputs, *, train: bool) -> jax.Array:
    """Logits [B, num_classes]: log of the fused averaged probabilities."""
    spec = self._check()
    clips, lengths = recurrent.split_inputs(inputs, self.streams)
    batch, time, height, width, _ = next(iter(clips.values())).shape
    mask = recurrent.lengths_to_mask(lengths, batch, time)
    map_h, map_w = spec.trunk_output_size(height), spec.trunk_output_size(width)
    zeros = jnp.zeros((batch, map_h, map_w, self.features), jnp.float32)
    carry = {s: (zeros, zeros) for s in self.streams}
    step = _LatticeStep(spec, tuple(self.streams), self.features,
                        tuple(self.kernel_size), self.num_classes,
                        self.dropout_rate, train, self.dtype, name="step")
    carry, probs, _ = recurrent.TimeScan(step, name="time")(
        carry, clips, mask, (len(self.streams), self.num_classes))
    # Each stream's last hidden map, pooled over space as its head sees it.
    self.sow("intermediates", "pre_logits", jnp.concatenate(
        [carry[s][1].mean(axis=(1, 2)) for s in self.streams], -1))
    return recurrent.late_fusion_logits(
        [probs[:, k] for k in range(len(self.streams))], self.fusion_weights)


register("lattice_lstm", LatticeLSTM, VARIANTS)
