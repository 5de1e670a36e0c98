"""Space-time attention patterns: who attends to whom, and the one kernel."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from vst.errors import ConfigError
from vst.layers import attention
from vst.layers import transformer
from vst.layers.attention import Tokens

B, T, H, W, N, DH = 2, 3, 4, 5, 4, 8  # A grid of 3×4×5 tokens, 4 heads of 8.


def _tokens(seed, with_cls=True, heads=N):
  k_grid, k_cls = jax.random.split(jax.random.key(seed))
  grid = jax.random.normal(k_grid, (B, T, H, W, heads, DH))
  cls = jax.random.normal(k_cls, (B, heads, DH)) if with_cls else None
  return Tokens(grid, cls)


def _self_attend(mix, tokens):
  # Jitted: one compile is much cheaper than op-by-op dispatch on CPU.
  return jax.jit(lambda t: mix(t, t, t))(tokens)


def test_joint_equals_naive_softmax_reference():
  q, k, v = (_tokens(seed) for seed in range(3))
  out = jax.jit(attention.joint_attention)(q, k, v)

  def sequence(t):  # [B, 1 + T·H·W, N, Dh], class token first.
    return jnp.concatenate([t.cls[:, None], t.grid.reshape(B, -1, N, DH)], 1)

  logits = jnp.einsum("blnd,bsnd->bnls", sequence(q), sequence(k)) / DH**0.5
  expected = jnp.einsum("bnls,bsnd->blnd", jax.nn.softmax(logits, -1),
                        sequence(v))
  np.testing.assert_allclose(out.cls, expected[:, 0], atol=1e-5)
  np.testing.assert_allclose(out.grid.reshape(B, -1, N, DH), expected[:, 1:],
                             atol=1e-5)


@pytest.mark.parametrize("index", [(0,), (2,)])
def test_space_does_not_mix_frames(index):
  x = _tokens(0, with_cls=False)
  t = index[0]
  bumped = Tokens(x.grid.at[:, t].add(1.0))
  delta = jnp.abs(_self_attend(attention.space_attention, bumped).grid
                  - _self_attend(attention.space_attention, x).grid)
  changed = delta.max(axis=(0, 2, 3, 4, 5)) > 1e-6
  assert changed.tolist() == [i == t for i in range(T)]


def test_time_does_not_mix_spatial_locations():
  x = _tokens(0, with_cls=False)
  bumped = Tokens(x.grid.at[:, :, 1, 3].add(1.0))
  delta = jnp.abs(_self_attend(attention.time_attention, bumped).grid
                  - _self_attend(attention.time_attention, x).grid)
  changed = np.asarray(delta.max(axis=(0, 1, 4, 5)) > 1e-6)
  expected = np.zeros((H, W), bool)
  expected[1, 3] = True
  np.testing.assert_array_equal(changed, expected)


def test_factorized_dot_splits_heads_between_time_and_space():
  q, k, v = (_tokens(seed) for seed in range(3))
  out = jax.jit(attention.factorized_dot_attention)(q, k, v)
  half = lambda t, i: jax.tree.map(lambda x: jnp.split(x, 2, axis=-2)[i], t)
  temporal = jax.jit(attention.time_attention)(*(half(t, 0) for t in (q, k, v)))
  spatial = jax.jit(attention.space_attention)(*(half(t, 1) for t in (q, k, v)))
  for got, want in ((half(out, 0), temporal), (half(out, 1), spatial)):
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, atol=1e-6),
                 got, want)


def test_factorized_dot_needs_an_even_number_of_heads():
  odd = jax.ShapeDtypeStruct((B, T, H, W, 3, DH), jnp.float32)
  with pytest.raises(ConfigError, match="num_heads=3 must be even"):
    jax.eval_shape(lambda t: attention.factorized_dot_attention(t, t, t),
                   Tokens(odd))


def test_one_frame_space_attention_is_joint_attention():
  one_frame = jax.tree.map(lambda x: x[:, :1] if x.ndim == 6 else x,
                           _tokens(0))
  jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, atol=1e-6),
               _self_attend(attention.space_attention, one_frame),
               _self_attend(attention.joint_attention, one_frame))


def test_unknown_pattern_lists_the_valid_names():
  with pytest.raises(ConfigError) as error:
    attention.get_pattern("diagonal")
  message = str(error.value)
  assert "model.attention='diagonal'" in message
  for name in ("joint", "space", "time", "factorized_self", "factorized_dot"):
    assert name in message


# Windowed attention partitions the grid, so a class token has no window: these
# patterns refuse one with a clear error instead (Swin pools the grid).
GRID_ONLY_PATTERNS = {"window3d"}


@pytest.mark.parametrize("name", attention.pattern_names())
@pytest.mark.parametrize("with_cls", [True, False])
def test_every_pattern_keeps_grid_and_class_token_shapes(name, with_cls):
  block = transformer.encoder_block(num_heads=4, mlp_dim=32, attention=name)
  grid = jax.ShapeDtypeStruct((B, T, H, W, 16), jnp.float32)
  cls = jax.ShapeDtypeStruct((B, 16), jnp.float32) if with_cls else None
  if with_cls and name in GRID_ONLY_PATTERNS:
    with pytest.raises(ConfigError, match="class token"):
      jax.eval_shape(
          lambda g, c: block.init_with_output(jax.random.key(1), g, c, False),
          grid, cls)
    return
  (out_grid, out_cls), variables = jax.eval_shape(
      lambda g, c: block.init_with_output(jax.random.key(1), g, c, False),
      grid, cls)
  assert out_grid.shape == grid.shape
  assert (out_cls is None) == (not with_cls)
  if with_cls:
    assert out_cls.shape == cls.shape
  stages = [stage for stage, _ in attention.get_pattern(name)]
  assert sorted(variables["params"]) == sorted(
      stages + [f"{s}_norm" for s in stages] + ["mlp", "mlp_norm"])


def test_multi_head_attention_projects_like_flax():
  mha = attention.MultiHeadAttention(num_heads=4)
  tokens = Tokens(jnp.ones((1, 2, 2, 2, 16)), jnp.ones((1, 16)))
  params = jax.eval_shape(mha.init, jax.random.key(0), tokens)["params"]
  shapes = jax.tree.map(lambda x: x.shape, params)
  assert shapes["query"] == {"kernel": (16, 4, 4), "bias": (4, 4)}
  assert shapes["out"] == {"kernel": (4, 4, 16), "bias": (16,)}
