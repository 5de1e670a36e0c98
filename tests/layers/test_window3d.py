"""3D (shifted) window attention: who sees whom, the bias, clipping."""

import functools

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from vst.errors import ConfigError
from vst.layers import attention
from vst.layers import patterns_window3d as window3d
from vst.layers.attention import Tokens

GRID = (4, 8, 8)
WINDOW = (2, 4, 4)
SHIFT = (1, 2, 2)
HEADS, HEAD_DIM = 2, 4


class _Mix(nn.Module):
  """Runs a pattern on given q, k, v (it may create its own parameters)."""
  mix: object

  @nn.compact
  def __call__(self, q, k, v):
    return self.mix(Tokens(q), Tokens(k), Tokens(v)).grid


def _qkv(grid=GRID, seed=0):
  keys = jax.random.split(jax.random.key(seed), 3)
  return [jax.random.normal(k, (1,) + grid + (HEADS, HEAD_DIM)) for k in keys]


@functools.cache
def _support(shift, position):
  """Which (t, h, w) value tokens reach the output at `position`."""
  mix = _Mix(functools.partial(window3d.shifted_window_attention,
                               window_size=WINDOW, shift_size=shift))
  q, k, v = _qkv()
  variables = mix.init(jax.random.key(1), q, k, v)
  grad = jax.grad(lambda v: mix.apply(variables, q, k, v)[
      (0,) + position].sum())(v)
  return np.abs(np.asarray(grad[0])).sum(axis=(-2, -1)) > 0


def _box(starts, stops):
  mask = np.zeros(GRID, bool)
  mask[tuple(slice(a, b) for a, b in zip(starts, stops))] = True
  return mask


def test_unshifted_token_sees_exactly_its_window():
  assert (_support((0, 0, 0), (1, 5, 6)) == _box((0, 4, 4), (2, 8, 8))).all()


def test_shifted_windows_straddle_the_previous_borders():
  # Windows start at -shift: [1, 3) × [2, 6) × [2, 6) holds (1, 2, 2).
  assert (_support(SHIFT, (1, 2, 2)) == _box((1, 2, 2), (3, 6, 6))).all()


def test_mask_keeps_rolled_in_tokens_apart():
  """The roll puts token (0, 0, 0) in one window with the far end of the
  grid; the mask lets it see only the tokens of its own corner block."""
  support = _support(SHIFT, (0, 0, 0))
  assert (support == _box((0, 0, 0), SHIFT)).all()
  assert not support[-1, -1, -1]


def test_one_window_over_the_grid_with_zero_bias_is_joint_attention():
  mix = _Mix(functools.partial(window3d.shifted_window_attention,
                               window_size=(8, 8, 8)))
  q, k, v = _qkv()
  variables = jax.tree.map(jnp.zeros_like, mix.init(jax.random.key(1), q, k, v))
  expected = attention.joint_attention(Tokens(q), Tokens(k), Tokens(v)).grid
  np.testing.assert_allclose(mix.apply(variables, q, k, v), expected,
                             atol=1e-5)


def test_relative_bias_depends_only_on_the_offset():
  module = window3d.RelativePositionBias(WINDOW, HEADS)
  variables = module.init(jax.random.key(0), 32)
  table = variables["params"]["relative_pos_embedding"]
  assert table.shape == (3 * 7 * 7, HEADS)
  bias = np.asarray(module.apply(variables, 32))
  coords = np.stack(np.meshgrid(*map(np.arange, WINDOW), indexing="ij"),
                    -1).reshape(-1, 3)
  offsets = coords[:, None] - coords[None, :]
  for offset in ((0, 0, 0), (1, -2, 3)):
    pairs = np.argwhere((offsets == offset).all(-1))
    assert len(pairs) > 1
    values = bias[:, pairs[:, 0], pairs[:, 1]]
    np.testing.assert_array_equal(values, values[:, :1].repeat(len(pairs), 1))


def test_window_longer_than_the_grid_is_clipped_and_not_shifted():
  assert window3d.clip_window((2, 8, 8), (8, 7, 7), (4, 3, 3)) == (
      (2, 7, 7), (0, 3, 3))


def test_grid_that_does_not_divide_is_padded_and_cropped():
  mix = _Mix(functools.partial(window3d.shifted_window_attention,
                               window_size=WINDOW, shift_size=SHIFT))
  q, k, v = _qkv(grid=(3, 5, 6))
  out, _ = mix.init_with_output(jax.random.key(1), q, k, v)
  assert out.shape == q.shape and np.isfinite(out).all()


def test_partition_and_merge_are_inverse():
  grid = jnp.arange(np.prod(GRID) * 3).reshape((1,) + GRID + (3,))
  windows = window3d.partition_windows(grid, WINDOW)
  assert windows.shape == (1, 2 * 2 * 2, 32, 3)
  np.testing.assert_array_equal(
      window3d.merge_windows(windows, GRID, WINDOW), grid)


def test_window3d_pattern_is_registered_and_rejects_a_class_token():
  stages = attention.get_pattern("window3d")
  assert [name for name, _ in stages] == ["window_attention",
                                          "shifted_window_attention"]
  q, k, v = _qkv()
  cls = jnp.zeros((1, HEADS, HEAD_DIM))
  with pytest.raises(ConfigError, match="no class token"):
    window3d.shifted_window_attention(Tokens(q, cls), Tokens(k, cls),
                                      Tokens(v, cls))
