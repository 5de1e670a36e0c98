"""Sliding-window (Longformer) attention: the band, the global token, cost."""

import functools
import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from vst import flops
from vst.errors import ConfigError
from vst.layers import attention
from vst.layers import patterns_sliding_window as swa
from vst.layers.attention import Tokens


def _qkv(length, batch=2, heads=2, head_dim=4, seed=0):
  keys = jax.random.split(jax.random.key(seed), 3)
  return [jax.random.normal(k, (batch, length, heads, head_dim)) for k in keys]


def _masked_full_attention(q, k, v, half, global_key, global_value):
  """The band as a masked L×L matrix: what the chunks must equal."""
  length = q.shape[1]
  i = jnp.arange(length)
  band = jnp.abs(i[:, None] - i[None]) <= half
  mask = jnp.concatenate(
      [jnp.ones((length, global_key.shape[1]), bool), band], axis=1)
  return jax.nn.dot_product_attention(
      q, jnp.concatenate([global_key, k], 1),
      jnp.concatenate([global_value, v], 1), mask=mask[None, None])


@pytest.mark.parametrize("length, half", [(23, 3), (12, 4), (3, 9)])
def test_chunked_band_equals_the_masked_full_matrix(length, half):
  q, k, v = _qkv(length)
  g_k, g_v = _qkv(1, seed=1)[:2]
  def difference(q, k, v, g_k, g_v):
    ours = swa.banded_attention(q, k, v, half, g_k, g_v)
    return jnp.abs(ours - _masked_full_attention(q, k, v, half, g_k, g_v))

  assert jax.jit(difference)(q, k, v, g_k, g_v).max() < 1e-5


@functools.cache
def _support(position):
  """Which (t, h, w) value tokens (and whether cls) reach one output token."""
  layer = attention.MultiHeadAttention(
      1, functools.partial(swa.sliding_window_attention, attention_window=4))
  grid = jax.random.normal(jax.random.key(0), (1, 9, 2, 2, 4))
  cls = jax.random.normal(jax.random.key(1), (1, 4))
  variables = jax.jit(layer.init)(jax.random.key(2), Tokens(grid, cls))

  def output(grid, cls):
    out = layer.apply(variables, Tokens(grid, cls))
    return out.cls[0].sum() if position is None else out.grid[
        (0,) + position].sum()

  d_grid, d_cls = jax.jit(jax.grad(output, argnums=(0, 1)))(grid, cls)
  return (np.abs(np.asarray(d_grid[0])).sum(-1) > 0,
          bool(np.abs(np.asarray(d_cls)).sum() > 0))


def test_grid_token_sees_its_location_within_the_window_and_the_cls():
  grid_support, sees_cls = _support((4, 1, 0))
  expected = np.zeros((9, 2, 2), bool)
  expected[2:7, 1, 0] = True  # Window 4: two frames each side.
  assert (grid_support == expected).all() and sees_cls


def test_cls_token_sees_every_token():
  grid_support, _ = _support(None)
  assert grid_support.all()


def test_window_must_be_even():
  with pytest.raises(ConfigError, match=re.escape(
      "model.attention_window=7 must be an even number ≥ 2")):
    swa.half_window(7)


def _longformer_flops(length, window=swa.ATTENTION_WINDOW, width=32):
  layer = swa.LongformerSelfAttention(2, window)
  frames = jnp.zeros((1, length, width))
  cls = jnp.zeros((1, width))
  variables = jax.eval_shape(layer.init, jax.random.key(0), frames, cls)
  return flops.xla_flops(lambda v, f, c: layer.apply(v, f, c), variables,
                         frames, cls)


def test_longformer_attention_cost_is_linear_in_frames():
  lengths = (72, 144, 288, 576)
  costs = [_longformer_flops(n) for n in lengths]
  exponents = np.diff(np.log(costs)) / np.diff(np.log(lengths))
  assert all(0.9 < e < 1.1 for e in exponents), exponents
