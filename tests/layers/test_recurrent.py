"""Recurrent cells and the masked time scan: torch parity, padding, memory."""

import functools

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from vst.errors import ConfigError
from vst.layers import recurrent


class _Scan(nn.Module):
  """A stacked LSTM scanned over [B, T, D] with a mask."""
  features: tuple = (8, 8)
  emit: bool = True

  @nn.compact
  def __call__(self, xs, mask, weights=None):
    cell = recurrent.StackedCells(
        [recurrent.LSTMCell(n, name=f"lstm{k}")
         for k, n in enumerate(self.features)])
    carry = cell.initial_carry(xs[:, 0])
    return recurrent.TimeScan(cell, emit=self.emit)(
        carry, xs, mask, (self.features[-1],), weights)


@functools.cache
def _scan_setup(time=6):
  xs = jax.random.normal(jax.random.key(0), (3, time, 5))
  model = _Scan()
  variables = model.init(jax.random.key(1), xs, jnp.ones((3, time), bool))
  return model, variables, xs


def test_lstm_cell_matches_torch_lstm_cell():
  torch = pytest.importorskip("torch")
  cell = recurrent.LSTMCell(6)
  x = jax.random.normal(jax.random.key(0), (4, 5))
  carry = (jax.random.normal(jax.random.key(1), (4, 6)),
           jax.random.normal(jax.random.key(2), (4, 6)))
  params = cell.init(jax.random.key(3), carry, x)["params"]
  ref = torch.nn.LSTMCell(5, 6)
  with torch.no_grad():  # torch gate order i, f, g, o is ours.
    ref.weight_ih.copy_(torch.tensor(np.asarray(params["input"]["kernel"]).T))
    ref.bias_ih.copy_(torch.tensor(np.asarray(params["input"]["bias"])))
    ref.weight_hh.copy_(torch.tensor(np.asarray(params["recurrent"]["kernel"]).T))
    ref.bias_hh.zero_()
    h_ref, c_ref = ref(torch.tensor(np.asarray(x)),
                       (torch.tensor(np.asarray(carry[1])),
                        torch.tensor(np.asarray(carry[0]))))
  (c, h), y = cell.apply({"params": params}, carry, x)
  np.testing.assert_allclose(h, h_ref.numpy(), atol=1e-5)
  np.testing.assert_allclose(c, c_ref.numpy(), atol=1e-5)
  np.testing.assert_array_equal(y, h)


def test_padded_steps_keep_the_carry_and_leave_the_mean():
  model, variables, xs = _scan_setup()
  lengths = jnp.array([6, 3, 1])
  mask = recurrent.lengths_to_mask(lengths, 3, 6)
  garbage = xs.at[1, 3:].set(100.0).at[2, 1:].set(-50.0)
  carry, mean, ys = model.apply(variables, garbage, mask)
  for b, n in [(1, 3)]:  # One reference run keeps the test fast.
    c_ref, mean_ref, ys_ref = model.apply(
        variables, xs[b:b + 1, :n], jnp.ones((1, n), bool))
    for got, want in zip(jax.tree_util.tree_leaves(carry),
                         jax.tree_util.tree_leaves(c_ref)):
      np.testing.assert_allclose(got[b], want[0], atol=1e-6)
    np.testing.assert_allclose(mean[b], mean_ref[0], atol=1e-6)
    np.testing.assert_allclose(ys[b, :n], ys_ref[0], atol=1e-6)
    assert not np.any(ys[b, n:])  # Padding outputs are zeroed.
  assert not np.any(ys[2, 1:]) and np.all(np.isfinite(mean))


def test_mean_is_the_step_weighted_average_of_outputs():
  model, variables, xs = _scan_setup()
  mask = jnp.ones((3, 6), bool)
  weights = recurrent.linear_step_weights(6)
  np.testing.assert_allclose(weights, np.arange(1, 7) / 6)
  _, mean, ys = model.apply(variables, xs, mask, weights)
  expected = (ys * weights[None, :, None]).sum(1) / weights.sum()
  np.testing.assert_allclose(mean, expected, atol=1e-6)
  _, uniform, _ = model.apply(variables, xs, mask)
  np.testing.assert_allclose(uniform, ys.mean(1), atol=1e-6)


def test_parameters_are_shared_over_time_and_do_not_depend_on_length():
  _, variables, _ = _scan_setup(6)
  _, longer, _ = _scan_setup(11)
  assert (jax.tree_util.tree_map(jnp.shape, variables)
          == jax.tree_util.tree_map(jnp.shape, longer))


def _temp_bytes(time: int) -> int:
  model = _Scan(features=(32,), emit=False)
  xs = jax.ShapeDtypeStruct((4, time, 16), jnp.float32)
  mask = jax.ShapeDtypeStruct((4, time), jnp.bool_)
  variables = jax.eval_shape(model.init, jax.random.key(0), xs, mask)
  fn = jax.jit(lambda v, x, m: model.apply(v, x, m)[1])
  compiled = fn.lower(variables, xs, mask).compile()
  return compiled.memory_analysis().temp_size_in_bytes


def test_inference_memory_does_not_grow_with_sequence_length():
  assert _temp_bytes(128) <= _temp_bytes(16) + 1024


def test_stacked_cells_dropout_only_when_training():
  cell = recurrent.StackedCells([recurrent.LSTMCell(8), recurrent.LSTMCell(8)],
                                dropout_rate=0.5, train=True)
  x = jnp.ones((2, 4))
  carry = cell.initial_carry(x)
  variables = cell.init({"params": jax.random.key(0),
                         "dropout": jax.random.key(1)}, carry, x)
  run = lambda c, seed: c.apply(variables, carry, x,
                                rngs={"dropout": jax.random.key(seed)})[1]
  assert not np.allclose(run(cell, 2), run(cell, 3))
  eval_cell = cell.clone(train=False)
  np.testing.assert_array_equal(run(eval_cell, 2), run(eval_cell, 3))


def test_gru_cell_interpolates_between_state_and_candidate():
  cell = recurrent.GRUCell(4)
  h = jnp.full((2, 4), 0.5)
  x = jax.random.normal(jax.random.key(0), (2, 3))
  variables = cell.init(jax.random.key(1), h, x)
  new, y = cell.apply(variables, h, x)
  assert new.shape == (2, 4) and np.all(np.abs(new) <= 1.0)
  np.testing.assert_array_equal(new, y)
  assert not np.allclose(new, h)


def test_bad_stream_configs_name_the_field():
  with pytest.raises(ConfigError, match="model.streams"):
    recurrent.check_streams("streams", ("rgb", "depth"), (1.0, 1.0))
  with pytest.raises(ConfigError, match="model.fusion_weights"):
    recurrent.check_streams("streams", ("rgb", "flow"), (1.0,))
  with pytest.raises(ConfigError, match="model.streams"):
    recurrent.split_inputs({"rgb": jnp.zeros(1)}, ("rgb", "flow"))
  with pytest.raises(ConfigError, match="model.features"):
    recurrent.check_positive("model.features", (4, 0))


def test_late_fusion_logits_softmax_to_the_weighted_mean():
  p1 = jax.nn.softmax(jax.random.normal(jax.random.key(0), (2, 5)))
  p2 = jax.nn.softmax(jax.random.normal(jax.random.key(1), (2, 5)))
  logits = recurrent.late_fusion_logits([p1, p2], (1.0, 2.0))
  np.testing.assert_allclose(jax.nn.softmax(logits), (p1 + 2 * p2) / 3,
                             atol=1e-6)


class _ScanFrom(nn.Module):
  """_Scan's cells, started at step `start` from a given carry."""

  @nn.compact
  def __call__(self, carry, xs, mask, start):
    cell = recurrent.StackedCells(
        [recurrent.LSTMCell(n, name=f"lstm{k}") for k, n in enumerate((8, 8))])
    return recurrent.TimeScan(cell, emit=True)(carry, xs, mask, (8,),
                                               start=start)


def test_a_scan_started_late_continues_from_the_given_carry():
  model, variables, xs = _scan_setup()
  mask = jnp.ones((3, 6), bool)
  carry, _, ys = model.apply(variables, xs[:, :2], mask[:, :2])
  late = _ScanFrom().apply(variables, carry, xs, mask, 2)
  full = model.apply(variables, xs, mask)
  for got, want in zip(jax.tree_util.tree_leaves(late[0]),
                       jax.tree_util.tree_leaves(full[0])):
    np.testing.assert_allclose(got, want, atol=1e-6)
  np.testing.assert_allclose(late[2], full[2][:, 2:], atol=1e-6)
  np.testing.assert_allclose(late[1], full[2][:, 2:].mean(1), atol=1e-6)
  with pytest.raises(ValueError, match="start=6"):
    _ScanFrom().apply(variables, carry, xs, mask, 6)
