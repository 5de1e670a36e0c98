"""Attention maps recorded by every pattern (vst.layers.attention).

Per pattern, on a tiny [B=1, T=2, H=4, W=4] grid through its stages' bare
`MultiHeadAttention` layers (the blocks around them do not matter here):
the "attention" collection holds one [B, N, T', H', W'] float32 map per stage
(per half of the heads for factorized_dot); without a class token each group
of keys (a frame, a location's time line, a window, ...) receives a total of
exactly 1, so the map sums to the number of groups `_GROUPS` names; with a
class token the sum is at most that. The "attention_matrix" collection holds
row-stochastic [B, N, L, L] matrices where the pattern has them and raises
RolloutUndefinedError naming the pattern elsewhere. Outputs stay bitwise
equal and init creates nothing but params.
"""

import functools
import math

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from vst.layers import attention as attention_lib
from vst.layers import transformer
from vst.layers.attention import (ATTENTION, ATTENTION_MATRIX, MATRIX,
                                  RECEIVED, RolloutUndefinedError)

GRID = (2, 4, 4)
HEADS = 4
WIDTH = 16
# Stage (recorder path below the block) -> groups of keys, each summing to 1.
_GROUPS = {
    "joint": {"attention": 1},
    "space": {"attention": 2},
    "time": {"attention": 16},
    "factorized_self": {"space_attention": 2, "time_attention": 16},
    "factorized_dot": {"attention/time_heads": 16,
                       "attention/space_heads": 2},
    "divided": {"time_attention": 16, "space_attention": 2},
    "axial": {"time_attention": 16, "width_attention": 8,
              "height_attention": 8},
    "sparse_local_global": {"local_attention": 4, "global_attention": 8},
    "pooling": {"attention": 1},
    "mixing": {"attention": 2},
    "trajectory": {"attention": 2},
    "orthoformer": {"attention": 2},
    "sliding_window": {"attention": 16},
    "window3d": {"window_attention": 1, "shifted_window_attention": 1},
}
_NO_MATRIX = ("pooling", "mixing", "trajectory", "orthoformer",
              "sliding_window", "window3d")
_NO_CLASS_TOKEN = ("window3d",)


def _stage_maps(state, leaf):
  """{stage path below the block: array} of one recorded collection."""
  out = {}
  for path, value in jax.tree_util.tree_flatten_with_path(state)[0]:
    names = [k.key for k in path if isinstance(getattr(k, "key", None), str)]
    assert names[-1] == leaf
    names = names[:-1]
    if names[-1] == attention_lib.WEIGHTS:
      names = names[:-1]
    out["/".join(names)] = np.asarray(value)
  return out


def test_every_pattern_is_covered():
  assert sorted(_GROUPS) == attention_lib.builtin_pattern_names()


class _Stages(nn.Module):
  """A pattern's stages as bare attention layers, each with its residual."""
  pattern: str

  @nn.compact
  def __call__(self, grid, cls):
    for name, mix in attention_lib.get_pattern(self.pattern):
      out = attention_lib.MultiHeadAttention(HEADS, mix, name=name)(
          attention_lib.Tokens(grid, cls))
      grid, cls = out.grid + grid, None if cls is None else out.cls + cls
    return grid


@pytest.mark.parametrize("pattern", sorted(_GROUPS))
def test_pattern_records_received_and_matrix(pattern):
  grid = jax.random.normal(jax.random.key(0), (1,) + GRID + (WIDTH,))
  cls = None
  if pattern not in _NO_CLASS_TOKEN:
    cls = jax.random.normal(jax.random.key(1), (1, WIDTH))
  has_matrix = pattern not in _NO_MATRIX
  layers = _Stages(pattern)

  def record(grid, cls):  # One compile for init and every request.
    variables = layers.init(jax.random.key(2), grid, None)
    without_cls = layers.apply(variables, grid, None, mutable=[ATTENTION])[1]
    collections = [ATTENTION] + [ATTENTION_MATRIX] * has_matrix
    with_cls = None
    if cls is not None or has_matrix:
      with_cls = layers.apply(variables, grid, cls, mutable=collections)[1]
    return variables, without_cls, with_cls

  variables, without_cls, with_cls = jax.jit(record)(grid, cls)
  assert set(variables) == {"params"}
  maps = _stage_maps(without_cls[ATTENTION], RECEIVED)
  assert set(maps) == set(_GROUPS[pattern])
  for stage, groups in _GROUPS[pattern].items():
    x = maps[stage]
    heads = HEADS // 2 if pattern == "factorized_dot" else HEADS
    key_grid = (2, 2, 2) if pattern == "pooling" else GRID
    assert x.shape == (1, heads) + key_grid and x.dtype == np.float32
    assert (x >= 0).all()
    np.testing.assert_allclose(x.sum(axis=(2, 3, 4)), groups, rtol=1e-5)

  if cls is not None:  # The class token's row: at most 1 a group.
    for stage, x in _stage_maps(with_cls[ATTENTION], RECEIVED).items():
      assert x.shape == maps[stage].shape
      assert (x.sum(axis=(2, 3, 4)) <= _GROUPS[pattern][stage] + 1e-5).all()

  if not has_matrix:
    with pytest.raises(RolloutUndefinedError, match=pattern):
      jax.eval_shape(lambda: layers.apply(variables, grid, cls,
                                          mutable=[ATTENTION_MATRIX]))
    return
  size = math.prod(GRID) + (cls is not None)
  for stage, m in _stage_maps(with_cls[ATTENTION_MATRIX], MATRIX).items():
    assert m.shape[-2:] == (size, size), stage
    np.testing.assert_allclose(m.sum(-1), 1.0, rtol=1e-5)


def test_joint_equals_explicit_softmax():
  """The recorded map and matrix are softmax(q kᵀ / √Dh) of the projections,
  and the outputs are bitwise those of the unrecorded layer."""
  grid = jax.random.normal(jax.random.key(0), (2,) + GRID + (WIDTH,))
  cls = jax.random.normal(jax.random.key(1), (2, WIDTH))
  layer = attention_lib.MultiHeadAttention(HEADS)
  tokens = attention_lib.Tokens(grid, cls)
  variables = jax.jit(layer.init)(jax.random.key(2), tokens)
  plain = jax.jit(layer.apply)(variables, tokens)
  out, state = jax.jit(functools.partial(
      layer.apply, mutable=[ATTENTION, ATTENTION_MATRIX]))(variables, tokens)
  for a, b in zip(jax.tree.leaves(plain), jax.tree.leaves(out)):
    np.testing.assert_array_equal(a, b)  # Recording leaves outputs as they are.
  p = variables["params"]
  flat = jnp.concatenate([cls[:, None], grid.reshape(2, -1, WIDTH)], axis=1)
  project = lambda name: (jnp.einsum("bld,dnh->blnh", flat, p[name]["kernel"])
                          + p[name]["bias"])
  logits = jnp.einsum("blnh,bsnh->bnls", project("query"), project("key"))
  weights = jax.nn.softmax(logits / math.sqrt(WIDTH // HEADS), axis=-1)
  recorded = state[ATTENTION]["weights"][RECEIVED][0]
  np.testing.assert_allclose(recorded,
                             weights[:, :, 0, 1:].reshape(recorded.shape),
                             atol=1e-6)
  np.testing.assert_allclose(state[ATTENTION_MATRIX]["weights"][MATRIX][0],
                             weights, atol=1e-6)

  _, state = jax.jit(functools.partial(layer.apply, mutable=[ATTENTION]))(
      variables, attention_lib.Tokens(grid))
  no_cls = jax.nn.softmax(
      jnp.einsum("blnh,bsnh->bnls", project("query")[:, 1:],
                 project("key")[:, 1:]) / math.sqrt(WIDTH // HEADS), axis=-1)
  np.testing.assert_allclose(state[ATTENTION]["weights"][RECEIVED][0],
                             no_cls.mean(axis=2).reshape((2, HEADS) + GRID),
                             atol=1e-6)


class _Probe(nn.Module):
  """A module recording closures that fail if they are ever called."""

  @nn.compact
  def __call__(self, x):
    def fail():
      raise AssertionError("an unrequested attention map was computed")
    attention_lib.record_attention(fail, fail, pattern="probe")
    return nn.Dense(2)(x)


def test_nothing_computed_or_recorded_unless_requested():
  x = jnp.ones((1, 3))
  variables = _Probe().init(jax.random.key(0), x)  # init never records.
  assert jax.tree.structure(variables) == jax.tree.structure(
      {"params": {"Dense_0": {"bias": 0, "kernel": 0}}})
  _Probe().apply(variables, x)
  _, state = _Probe().apply(variables, x, mutable=["intermediates"])
  assert not state
  with pytest.raises(AssertionError, match="unrequested"):
    _Probe().apply(variables, x, mutable=[ATTENTION])


def test_remat_blocks_record_like_plain_ones():
  grid = jax.random.normal(jax.random.key(0), (1,) + GRID + (WIDTH,))
  maps = []
  for remat in (False, True):
    encoder = transformer.Encoder(1, HEADS, 32, "joint", remat=remat)
    variables = jax.jit(functools.partial(encoder.init, train=False))(
        jax.random.key(1), grid, None)
    _, state = jax.jit(functools.partial(
        encoder.apply, train=False, mutable=[ATTENTION]))(variables, grid,
                                                          None)
    maps.append(_stage_maps(state[ATTENTION], RECEIVED))
  assert set(maps[0]) == {"encoderblock_0/attention"}
  for name, x in maps[0].items():
    np.testing.assert_allclose(maps[1][name], x, rtol=1e-6)
