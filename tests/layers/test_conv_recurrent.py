"""ConvLSTM, FAST-GRU and the lattice LSTM cell."""

import functools

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from vst.layers import conv_recurrent
from vst.layers import recurrent


def _run(cell, carry, x, seed=0):
  """(variables, (carry, y)) of a freshly initialised cell, jitted."""
  def fn(c, inp):
    variables = cell.init(jax.random.key(seed), c, inp)
    return variables, cell.apply(variables, c, inp)
  return jax.jit(fn)(carry, x)


def test_convlstm_with_1x1_kernels_is_an_lstm_at_every_pixel():
  conv = conv_recurrent.ConvLSTMCell(6, kernel_size=(1, 1))
  x = jax.random.normal(jax.random.key(0), (2, 3, 4, 5))
  carry = tuple(jax.random.normal(jax.random.key(k), (2, 3, 4, 6))
                for k in (1, 2))
  variables, ((c, h), _) = _run(conv, carry, x)
  p = variables["params"]
  dense = {"input": {"kernel": p["input"]["kernel"][0, 0],
                     "bias": p["input"]["bias"]},
           "recurrent": {"kernel": p["recurrent"]["kernel"][0, 0]}}
  (c_ref, h_ref), _ = recurrent.LSTMCell(6).apply(
      {"params": dense}, carry, x)
  np.testing.assert_allclose(c, c_ref, atol=1e-5)
  np.testing.assert_allclose(h, h_ref, atol=1e-5)


def test_convlstm_peepholes_are_per_position_hadamard_weights():
  cell = conv_recurrent.ConvLSTMCell(4, peephole=True)
  x = jnp.ones((1, 5, 6, 2))
  variables, _ = _run(cell, cell.initial_carry(x), x)
  assert variables["params"]["peephole"].shape == (3, 5, 6, 4)


def test_lattice_transitions_vary_over_positions_and_gates_read_both_streams():
  # A spatially constant input and state: a ConvLSTM's interior stays
  # constant (shared kernels), the lattice's per-position kernels do not.
  x = jnp.ones((1, 6, 6, 3))
  state = (jnp.full((1, 6, 6, 4), 0.3), jnp.full((1, 6, 6, 4), 0.5))
  _, (_, conv_h) = _run(conv_recurrent.ConvLSTMCell(4), state, x)
  interior = lambda h: np.asarray(h[0, 1:-1, 1:-1])
  assert np.ptp(interior(conv_h), axis=(0, 1)).max() < 1e-6
  lattice = conv_recurrent.LatticeLSTMCell(4)
  variables = jax.jit(lattice.init)(jax.random.key(2), state, (x, x))
  step = jax.jit(lambda m: lattice.apply(variables, state, (x, m))[1])
  assert np.ptp(interior(step(x)), axis=(0, 1)).max() > 1e-3
  # One 3×3 recurrent kernel per position for the i, f and c transitions.
  assert variables["params"]["lattice"]["kernel"].shape == (6, 6, 9 * 4, 12)
  # The other modality enters through the input and forget gates.
  assert not np.allclose(step(x), step(-x))


class _GRUScan(nn.Module):
  @nn.compact
  def __call__(self, clips, mask):
    cell = conv_recurrent.FastGRUCell(16, reduction=4)
    return recurrent.TimeScan(cell)(cell.initial_carry(clips[:, 0]), clips,
                                    mask, clips.shape[2:-1] + (16,))[0]


def test_fast_gru_keeps_the_resolution_and_flat_memory_over_clips():
  model = _GRUScan()

  def temp_bytes(num_clips):
    clips = jax.ShapeDtypeStruct((2, num_clips, 2, 4, 4, 16), jnp.float32)
    mask = jax.ShapeDtypeStruct((2, num_clips), jnp.bool_)
    variables = jax.eval_shape(model.init, jax.random.key(0), clips, mask)
    assert jax.eval_shape(model.apply, variables, clips,
                          mask).shape == (2, 2, 4, 4, 16)
    compiled = jax.jit(model.apply).lower(variables, clips, mask).compile()
    return compiled.memory_analysis().temp_size_in_bytes

  assert temp_bytes(128) <= temp_bytes(16) + 1024
  names = set(jax.eval_shape(
      model.init, jax.random.key(0), jnp.zeros((1, 2, 1, 2, 2, 16)),
      jnp.ones((1, 2), bool))["params"]["FastGRUCell_0"])
  assert {"reduce_input", "reduce_hidden", "update_expand",
          "candidate_expand"} <= names
