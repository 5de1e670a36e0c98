"""count_macs counts what the papers count: conv, linear and matmul MACs."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import pytest

from vst import flops


def _spec(*shape):
  return jax.ShapeDtypeStruct(shape, jnp.float32)


def _module_macs(module, x):
  variables = jax.eval_shape(module.init, jax.random.key(0), x)
  return flops.count_macs(module.apply, variables, x)


def test_dense_macs_are_batch_times_in_times_out():
  assert _module_macs(nn.Dense(32), _spec(4, 16)) == 4 * 16 * 32


def test_dense_on_tokens_counts_every_token():
  assert _module_macs(nn.Dense(32), _spec(2, 10, 16)) == 2 * 10 * 16 * 32


def test_conv_macs_are_outputs_times_window_times_in_features():
  x = _spec(2, 8, 8, 3)
  assert _module_macs(nn.Conv(5, (3, 3)), x) == (2 * 8 * 8 * 5) * 9 * 3
  strided = nn.Conv(5, (3, 3), strides=2, padding="VALID")
  assert _module_macs(strided, x) == (2 * 3 * 3 * 5) * 9 * 3


def test_grouped_conv_counts_in_features_per_group():
  conv = nn.Conv(8, (3, 3), feature_group_count=2)
  assert _module_macs(conv, _spec(2, 8, 8, 4)) == (2 * 8 * 8 * 8) * 9 * 2


def test_batched_matmul_counts_batch_dims():
  f = lambda a, b: jnp.einsum("bij,bjk->bik", a, b)
  assert flops.count_macs(f, _spec(3, 4, 5), _spec(3, 5, 6)) == 3 * 4 * 5 * 6


def test_scan_multiplies_by_its_length():
  def f(x, w):
    return jax.lax.scan(lambda c, _: (c @ w, None), x, None, length=7)[0]
  assert flops.count_macs(f, _spec(4, 8), _spec(8, 8)) == 7 * 4 * 8 * 8


def test_remat_counts_once():
  f = lambda x, w: jnp.tanh(x @ w) @ w
  x, w = _spec(4, 8), _spec(8, 8)
  assert flops.count_macs(jax.checkpoint(f), x, w) == flops.count_macs(f, x, w)
  assert flops.count_macs(jax.jit(f), x, w) == 2 * 4 * 8 * 8


def test_cond_counts_its_most_expensive_branch():
  def f(x, w):
    return jax.lax.cond(x.sum() > 0, lambda a: a @ w @ w, lambda a: a @ w, x)
  assert flops.count_macs(f, _spec(4, 8), _spec(8, 8)) == 2 * 4 * 8 * 8


def test_while_counts_body_once_and_warns():
  def f(x, w):
    return jax.lax.while_loop(lambda c: c[1] < 5,
                              lambda c: (c[0] @ w, c[1] + 1), (x, 0))[0]
  with pytest.warns(UserWarning, match="while loop"):
    assert flops.count_macs(f, _spec(4, 8), _spec(8, 8)) == 4 * 8 * 8


def test_kwargs_are_static():
  def f(x, w, *, twice):
    return x @ w @ w if twice else x @ w
  assert flops.count_macs(f, _spec(4, 8), _spec(8, 8), twice=True) == 2 * 256


def test_mlp_agrees_with_xla_cost_analysis():
  mlp = nn.Sequential([nn.Dense(512), nn.relu, nn.Dense(512), nn.relu,
                       nn.Dense(10)])
  x = jnp.ones((64, 256))
  variables = mlp.init(jax.random.key(0), x)
  macs = flops.count_macs(mlp.apply, variables, x)
  assert macs == 64 * (256 * 512 + 512 * 512 + 512 * 10)
  # XLA counts 2 FLOPs per MAC, plus the (here negligible) bias adds and ReLUs.
  assert flops.xla_flops(mlp.apply, variables, x) / 2 == pytest.approx(
      macs, rel=0.03)


def test_count_params_takes_arrays_or_shapes():
  variables = jax.eval_shape(nn.Dense(32).init, jax.random.key(0),
                             _spec(4, 16))
  assert flops.count_params(variables) == 16 * 32 + 32
  concrete = nn.Dense(32).init(jax.random.key(0), jnp.ones((4, 16)))
  assert flops.count_params(concrete) == 16 * 32 + 32


class _Clip(nn.Module):
  """A stand-in video model: mean over time, then a classifier."""

  @nn.compact
  def __call__(self, inputs, *, train):
    del train
    return nn.Dense(7)(inputs.mean(axis=(1, 2, 3)))


def test_model_cost_is_per_clip():
  for shape in [(1, 4, 8, 8, 3), (5, 4, 8, 8, 3)]:
    params, gmacs = flops.model_cost(_Clip(), shape)
    assert params == 3 * 7 + 7
    assert gmacs == pytest.approx(3 * 7 / 1e9)
  params, _ = flops.model_cost(_Clip(), _spec(1, 4, 8, 8, 3))
  assert params == 28
