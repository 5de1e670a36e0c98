"""Recurrent cells and the one masked time scan every recurrent model runs.

A cell is a Module `cell(carry, x) -> (carry, y)` with a
`initial_carry(x)` method giving the zero carry for one step's input x. Cells
here: `LSTMCell` (optional peepholes), `GRUCell`, and `StackedCells` (a deep
LSTM: layer k's output is layer k+1's input). Convolutional cells (ConvLSTM,
FAST-GRU, lattice LSTM) live in `vst.layers.conv_recurrent` and follow the
same protocol.

`TimeScan` runs a step Module over the time axis with `nn.scan`, so a
sequence of any length compiles to one loop body: compile time and the
recurrent part's memory do not grow with T. Padding is a mask [B, T]: at a
masked step the carry is left unchanged and the step's output is excluded
from the running (weighted) mean of outputs that the scan returns. That mean
is accumulated in the carry rather than stacked, so inference memory stays
flat in T unless the caller asks for the per-step outputs.
"""

from typing import Any, Mapping, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from vst.errors import ConfigError


def lengths_to_mask(lengths: jax.Array | None, batch: int, time: int) -> jax.Array:
  """bool[B, T]: True at the first `lengths[b]` steps (all True if None)."""
  if lengths is None:
    return jnp.ones((batch, time), bool)
  lengths = jnp.asarray(lengths).astype(jnp.int32).reshape((batch,))
  return jnp.arange(time)[None, :] < lengths[:, None]


def linear_step_weights(time: int) -> jax.Array:
  """float32[T]: t/T for t = 1..T, Ng et al.'s linearly growing step weight.

  Beyond Short Snippets weights the loss (and the prediction) at step t by
  g = t/T, so early steps, which have seen little of the video, count least.
  """
  return jnp.arange(1, time + 1, dtype=jnp.float32) / time


def _where_tree(mask: jax.Array, new: Any, old: Any) -> Any:
  """Per example: `new` where mask[b], else `old`, for every leaf [B, ...]."""
  def select(n, o):
    return jnp.where(mask.reshape(mask.shape + (1,) * (n.ndim - 1)), n, o)
  return jax.tree_util.tree_map(select, new, old)


class LSTMCell(nn.Module):
  """An LSTM cell (Hochreiter & Schmidhuber; forget gate of Gers et al.).

  i, f, o = σ(W x + U h (+ p ⊙ c)), g = tanh(W x + U h), c' = f c + i g,
  h' = o tanh(c'). The four input transforms are one Dense (one matmul), the
  four recurrent ones another without bias.

  Attributes:
    features: hidden width.
    peephole: add the diagonal peephole terms p_i ⊙ c, p_f ⊙ c, p_o ⊙ c'
      (Gers & Schmidhuber 2000, used by Shi et al.'s FC-LSTM baseline).
    forget_bias: added to the forget gate's pre-activation so that a fresh
      cell remembers (Jozefowicz et al. 2015); 0 is Caffe's (LRCN's) choice.
    dtype: compute dtype; params and the carry stay float32.
  """
  features: int
  peephole: bool = False
  forget_bias: float = 0.0
  dtype: str = "float32"

  def initial_carry(self, x: jax.Array) -> tuple[jax.Array, jax.Array]:
    shape = x.shape[:-1] + (self.features,)
    return jnp.zeros(shape, jnp.float32), jnp.zeros(shape, jnp.float32)

  @nn.compact
  def __call__(self, carry, x):
    c, h = carry
    dtype = jnp.dtype(self.dtype)
    z = (nn.Dense(4 * self.features, dtype=dtype, name="input")(x)
         + nn.Dense(4 * self.features, use_bias=False, dtype=dtype,
                    kernel_init=nn.initializers.orthogonal(),
                    name="recurrent")(h)).astype(jnp.float32)
    i, f, g, o = jnp.split(z, 4, axis=-1)
    if self.peephole:
      p = self.param("peephole", nn.initializers.zeros, (3, self.features))
      i, f = i + p[0] * c, f + p[1] * c
    c = jax.nn.sigmoid(f + self.forget_bias) * c + jax.nn.sigmoid(i) * jnp.tanh(g)
    if self.peephole:
      o = o + p[2] * c
    h = jax.nn.sigmoid(o) * jnp.tanh(c)
    return (c, h), h


class GRUCell(nn.Module):
  """A GRU cell (Cho et al. 2014): z, r = σ(W x + U h),
  h̃ = tanh(W x + U (r ⊙ h)), h' = (1 - z) h + z h̃.

  Attributes:
    features: hidden width.
    dtype: compute dtype; params and the carry stay float32.
  """
  features: int
  dtype: str = "float32"

  def initial_carry(self, x: jax.Array) -> jax.Array:
    return jnp.zeros(x.shape[:-1] + (self.features,), jnp.float32)

  @nn.compact
  def __call__(self, h, x):
    dtype = jnp.dtype(self.dtype)
    gates = (nn.Dense(2 * self.features, dtype=dtype, name="gates_input")(x)
             + nn.Dense(2 * self.features, use_bias=False, dtype=dtype,
                        name="gates_recurrent")(h)).astype(jnp.float32)
    z, r = jnp.split(jax.nn.sigmoid(gates), 2, axis=-1)
    candidate = jnp.tanh(
        (nn.Dense(self.features, dtype=dtype, name="candidate_input")(x)
         + nn.Dense(self.features, use_bias=False, dtype=dtype,
                    name="candidate_recurrent")(r * h)).astype(jnp.float32))
    h = (1.0 - z) * h + z * candidate
    return h, h


class StackedCells(nn.Module):
  """Cells applied in depth at each step: a deep (stacked) RNN.

  Attributes:
    cells: the layers, bottom first; layer k+1 reads layer k's output.
    dropout_rate: dropout between layers (Zaremba et al.).
    train: enables that dropout (a field, as scanned steps take no flags).
  """
  cells: Sequence[nn.Module]
  dropout_rate: float = 0.0
  train: bool = False

  def initial_carry(self, x: jax.Array) -> tuple:
    carries = []
    for cell in self.cells:
      carries.append(cell.initial_carry(x))
      x = jnp.zeros(x.shape[:-1] + (cell.features,), x.dtype)
    return tuple(carries)

  @nn.compact
  def __call__(self, carry, x):
    new = []
    for k, (cell, c) in enumerate(zip(self.cells, carry)):
      if k and self.dropout_rate > 0:
        x = nn.Dropout(self.dropout_rate, deterministic=not self.train)(x)
      c, x = cell(c, x)
      new.append(c)
    return tuple(new), x


class _MaskedStep(nn.Module):
  """One scanned step: the step Module, then masking and the running mean.

  The step reads x_t by indexing the whole sequence with a counter kept in
  the carry, rather than having `scan` slice a time-major copy of the inputs:
  that copy would cost memory proportional to T.
  """
  step: nn.Module
  emit: bool

  @nn.compact
  def __call__(self, carry, sequence):
    t, state, total, weight = carry
    xs, mask, step_weights = sequence
    x = jax.tree_util.tree_map(
        lambda a: jax.lax.dynamic_index_in_dim(a, t, axis=1, keepdims=False),
        xs)
    m = jax.lax.dynamic_index_in_dim(mask, t, axis=1, keepdims=False)
    new_state, y = self.step(state, x)
    state = _where_tree(m, new_state, state)
    w = jnp.where(m, step_weights[t], 0.0).astype(jnp.float32)
    y32 = y.astype(jnp.float32)
    expand = lambda a: a.reshape(a.shape + (1,) * (y.ndim - 1))
    total = total + expand(w) * y32
    out = jnp.where(expand(m), y32, 0.0) if self.emit else None
    return (t + 1, state, total, weight + w), out


class TimeScan(nn.Module):
  """Runs `step(carry, x_t) -> (carry, y_t)` over axis 1 of `xs`, masked.

  Attributes:
    step: the Module run at every step (a cell, or a frame encoder plus a
      cell); its parameters are shared over time.
    emit: also return the per-step outputs [B, T, ...] (memory grows with T;
      off for inference).
    unroll: steps per loop iteration of the scan (1: smallest code).
  """
  step: nn.Module
  emit: bool = False
  unroll: int = 1

  @nn.compact
  def __call__(self, carry, xs, mask: jax.Array, output_shape: tuple,
               step_weights: jax.Array | None = None, start: int = 0):
    """Scans the step over time.

    Args:
      carry: the initial carry (pytree of [B, ...]).
      xs: inputs, a pytree of [B, T, ...].
      mask: bool[B, T]; False marks padding.
      output_shape: shape of one example's step output y_t (without B).
      step_weights: float[T] weights of each step's output in the mean
        (default uniform).
      start: the first step to run (the carry already holds steps before
        it, e.g. a first step run outside the scan to size the carry).

    Returns:
      (final carry, weighted mean of the valid outputs [B, ...], per-step
      outputs [B, T, ...] with zeros at padding, or None unless `emit`),
      the mean and outputs covering steps `start`..T-1 only.
    """
    batch, time = mask.shape
    if not 0 <= start < time:
      raise ValueError(f"start={start} is outside the {time} steps")
    if step_weights is None:
      step_weights = jnp.ones((time,), jnp.float32)
    # Steps read BatchNorm statistics (a frame encoder at inference) but
    # never update them: the models batch the encoder over time to train.
    scan = nn.scan(_MaskedStep, variable_broadcast=("params", "batch_stats"),
                   split_rngs={"params": False, "dropout": True},
                   in_axes=nn.broadcast, out_axes=1, length=time - start,
                   unroll=self.unroll)
    body = scan(self.step, self.emit, name="scan")
    init = (jnp.full((), start, jnp.int32), carry,
            jnp.zeros((batch,) + tuple(output_shape), jnp.float32),
            jnp.zeros((batch,), jnp.float32))
    (_, carry, total, weight), ys = body(
        init, (xs, mask, jnp.asarray(step_weights, jnp.float32)))
    mean = total / jnp.maximum(weight, 1e-9).reshape(
        (batch,) + (1,) * (total.ndim - 1))
    return carry, mean, ys


def check_positive(field: str, value) -> None:
  """Raises ConfigError unless every entry of `value` is a positive int."""
  values = value if isinstance(value, (tuple, list)) else (value,)
  if not values or any(int(v) != v or v < 1 for v in values):
    raise ConfigError(f"{field}={value!r} is not valid; it needs positive "
                      f"integers")


def check_streams(field: str, streams: Sequence[str], weights: Sequence[float],
                  allowed: Sequence[str] = ("rgb", "flow")) -> None:
  """Raises ConfigError unless streams are distinct known modalities, one
  positive late-fusion weight each."""
  if not streams or len(set(streams)) != len(streams) or any(
      s not in allowed for s in streams):
    raise ConfigError(f"model.{field}={tuple(streams)!r} is not valid; allowed: "
                      f"distinct names among {', '.join(allowed)}")
  if len(weights) != len(streams) or any(w <= 0 for w in weights):
    raise ConfigError(f"model.fusion_weights={tuple(weights)!r} needs one "
                      f"positive weight per stream of model.{field}")


def _with_streams(inputs, streams: Sequence[str]) -> Mapping:
  """`inputs` as a dict of modalities (a non-dict is "rgb"), checked to hold
  every stream of `streams`."""
  if not isinstance(inputs, Mapping):
    inputs = {"rgb": inputs}
  missing = [s for s in streams if s not in inputs]
  if missing:
    raise ConfigError(
        f"model.streams needs input modalities {missing} that the dataset "
        f"does not provide (it gives {sorted(inputs)}); set "
        "dataset.modalities or model.streams")
  return inputs


def split_inputs(inputs, streams: Sequence[str]) -> tuple[dict, jax.Array | None]:
  """({stream: [B, T, H, W, C]}, lengths or None) of a model's inputs.

  A bare array is the "rgb" stream of full-length clips; a dict holds one
  array per modality and optionally "lengths" (int[B], valid frames).
  """
  inputs = _with_streams(inputs, streams)
  return {s: inputs[s] for s in streams}, inputs.get("lengths")


def stream_shapes(shape, streams: Sequence[str]) -> dict:
  """{stream: (T, H, W, C)} of a dataset's example shape, as `split_inputs`
  splits the inputs: one clip's (T, H, W, C) is the "rgb" stream."""
  shape = _with_streams(shape, streams)
  return {s: tuple(shape[s]) for s in streams}


def late_fusion_logits(stream_probs: Sequence[jax.Array],
                       weights: Sequence[float]) -> jax.Array:
  """log of the weighted mean of per-stream class probabilities [B, K].

  Softmax of the result gives back the fused probabilities, so the trainer's
  cross-entropy on these "logits" is the loss of the fused prediction.
  """
  total = sum(weights)
  fused = sum(w / total * p for w, p in zip(weights, stream_probs))
  return jnp.log(jnp.maximum(fused, 1e-30))



class EncodeRecurClassify(nn.Module):
  """A step that encodes x_t, advances the cell and classifies its output.

  The frame encoder sits inside the scanned step, so a frame's activations
  live for one step only: the whole model's inference memory, not just the
  recurrence's, stays flat in the number of frames.

  Attributes:
    cell: the recurrent cell (a `StackedCells` for a deep RNN).
    num_classes: classifier size.
    encoder: maps x_t to the cell's input; None feeds x_t as it is.
    dropout_rate: dropout on the cell output before the classifier.
    train: enables dropout (a field: scanned steps take no flags).
    dtype: compute dtype of the classifier.

  Returns per step the class probabilities softmax(W h_t + b), float32[B, K].
  """
  cell: nn.Module
  num_classes: int
  encoder: nn.Module | None = None
  dropout_rate: float = 0.0
  train: bool = False
  dtype: str = "float32"

  @nn.compact
  def __call__(self, carry, x):
    if self.encoder is not None:
      x = self.encoder(x)
    carry, h = self.cell(carry, x)
    if self.dropout_rate > 0:
      h = nn.Dropout(self.dropout_rate, deterministic=not self.train)(h)
    logits = nn.Dense(self.num_classes, dtype=jnp.dtype(self.dtype),
                      name="head")(h)
    return carry, jax.nn.softmax(logits.astype(jnp.float32), axis=-1)
