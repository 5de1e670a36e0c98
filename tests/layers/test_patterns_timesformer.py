"""TimeSformer's and X-ViT's attention patterns: who attends to whom."""

import copy
import functools

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from vst.errors import ConfigError
from vst.layers import attention
from vst.layers import blocks
from vst.layers import patterns_timesformer
from vst.layers import patterns_xvit
from vst.layers import transformer
from vst.layers.attention import Tokens

B, T, H, W, N, DH = 2, 4, 4, 6, 2, 8  # A 4×4×6 grid, 2 heads of 8.


def _tokens(seed, with_cls=False, shape=(B, T, H, W, N, DH)):
  k_grid, k_cls = jax.random.split(jax.random.key(seed))
  grid = jax.random.normal(k_grid, shape)
  cls = jax.random.normal(k_cls, (shape[0], N, DH)) if with_cls else None
  return Tokens(grid, cls)


def _masked_attention(q, k, v, same_group):
  """Attention over all grid tokens, masked to pairs in the same group.

  `same_group(a, b)` takes two [T, H, W] index tuples (as arrays).
  """
  idx = np.stack(np.meshgrid(*map(np.arange, q.shape[1:4]), indexing="ij"),
                 -1).reshape(-1, 3)
  mask = same_group(idx[:, None], idx[None, :])  # [L, L]
  flat = lambda x: x.reshape(x.shape[0], -1, N, DH)
  logits = jnp.einsum("blnd,bsnd->bnls", flat(q), flat(k)) / DH**0.5
  logits = jnp.where(mask, logits, -jnp.inf)
  out = jnp.einsum("bnls,bsnd->blnd", jax.nn.softmax(logits, -1), flat(v))
  return out.reshape(q.shape)


def test_sparse_local_global_class_token_averages_its_groups():
  q, k, v = (_tokens(seed, with_cls=True) for seed in range(3))
  out = jax.jit(patterns_timesformer.sparse_global_attention)(q, k, v)
  # The class token's output is the mean over the 8 dilated sub-grids of
  # attention over [cls, sub-grid]; the first sub-grid is grid[::2, ::2, ::2].
  sub = lambda t, i: Tokens(
      t.grid[:, i[0]::2, i[1]::2, i[2]::2], t.cls)
  parts = [attention.joint_attention(sub(q, i), sub(k, i), sub(v, i)).cls
           for i in np.ndindex(2, 2, 2)]
  np.testing.assert_allclose(out.cls, np.mean(parts, 0), atol=1e-5)


@pytest.mark.parametrize("mix, same_group", [
    (patterns_timesformer.local_attention,
     lambda a, b: np.all((a[..., 1:] >= np.array([2, 3]))
                         == (b[..., 1:] >= np.array([2, 3])), -1)),
    (patterns_timesformer.sparse_global_attention,
     lambda a, b: np.all(a % 2 == b % 2, -1)),
])
def test_sparse_local_global_stages_attend_to_the_papers_neighbours(
    mix, same_group):
  """Local: a token's spatial quadrant over all frames (halves round up on
  odd sizes: rows 0-1 | 2, columns 0-2 | 3-4 of a 3×3×5 grid). Sparse
  global: tokens 2 apart along T, H and W."""
  q, k, v = (_tokens(seed, shape=(1, 3, 3, 5, N, DH)) for seed in range(3))
  expected = _masked_attention(q.grid, k.grid, v.grid, same_group)
  np.testing.assert_allclose(jax.jit(mix)(q, k, v).grid, expected, atol=1e-5)


def _add_pattern(monkeypatch, name, stages):
  """`name` registered for this test only: in a copy of the registry."""
  patterns = copy.deepcopy(attention.PATTERNS)
  patterns.register(name, tuple(stages), builtin=False)
  monkeypatch.setattr(attention, "PATTERNS", patterns)


def _randomised(variables, seed=3):
  leaves, treedef = jax.tree.flatten(variables)
  keys = jax.random.split(jax.random.key(seed), len(leaves))
  return treedef.unflatten(
      [0.3 * jax.random.normal(k, x.shape) for x, k in zip(leaves, keys)])


# sparse_local_global's new stage is built the same way (`_new_stage`).
@pytest.mark.parametrize("name", ["divided", "axial"])
def test_new_stages_start_at_zero_so_the_block_is_the_image_block(
    name, monkeypatch):
  """Only the last stage is the image ViT's attention; the stages before it
  start as the identity (their `fc` is zero), so an image checkpoint's block
  computes what it did on images (TimeSformer's zero-initialised temporal_fc).
  """
  stages = attention.get_pattern(name)
  block = transformer.encoder_block(num_heads=N, mlp_dim=32, attention=name,
                                    gelu_approximate=False,
                                    class_token_skips=True)
  grid = jax.random.normal(jax.random.key(0), (B, T, H, W, 16))
  cls = jax.random.normal(jax.random.key(1), (B, 16))
  out, variables = jax.jit(block.init_with_output, static_argnums=3)(
      jax.random.key(2), grid, cls, False)
  params = variables["params"]
  for stage, _ in stages[:-1]:
    assert not np.any(params[stage]["fc"]["kernel"])
  last, last_mix = stages[-1]
  _add_pattern(monkeypatch, "_image", [("attention", last_mix)])
  image_params = {
      "attention": params[last], "attention_norm": params[f"{last}_norm"],
      "mlp": params["mlp"], "mlp_norm": params["mlp_norm"]}
  image_block = transformer.encoder_block(
      num_heads=N, mlp_dim=32, attention="_image", gelu_approximate=False,
      class_token_skips=True)
  expected = jax.jit(image_block.apply, static_argnums=3)(
      {"params": image_params}, grid, cls, False)
  jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, atol=1e-5),
               out, expected)


def test_class_token_skips_the_temporal_stage_in_timesformer_blocks(
    monkeypatch):
  """As in the official code, only the grid attends across time; the class
  token is changed by the block's MLP alone (nonzero weights everywhere)."""
  (stage, time_mix), _ = attention.get_pattern("divided")
  assert blocks.skips_class_token(time_mix)
  _add_pattern(monkeypatch, "_time_only", [(stage, time_mix)])
  block = transformer.encoder_block(num_heads=N, mlp_dim=32,
                                    attention="_time_only",
                                    gelu_approximate=False,
                                    class_token_skips=True)
  grid = jax.random.normal(jax.random.key(0), (B, T, H, W, 16))
  cls = jax.random.normal(jax.random.key(1), (B, 16))
  variables = _randomised(jax.eval_shape(
      lambda g, c: block.init(jax.random.key(2), g, c, False), grid, cls))
  out_grid, out_cls = jax.jit(block.apply, static_argnums=3)(
      variables, grid, cls, False)
  params = variables["params"]
  normed = nn.LayerNorm(1e-6).apply({"params": params["mlp_norm"]}, cls)
  expected = cls + blocks.Mlp(32, gelu_approximate=False).apply(
      {"params": params["mlp"]}, normed, train=False)
  np.testing.assert_allclose(out_cls, expected, atol=1e-5)
  assert np.abs(out_grid - grid).max() > 1e-2
  # Without the switch (ViViT's blocks) the class token joins the stage.
  joining_block = transformer.encoder_block(
      num_heads=N, mlp_dim=32, attention="_time_only", gelu_approximate=False)
  _, joined_cls = jax.jit(joining_block.apply, static_argnums=3)(
      variables, grid, cls, False)
  assert np.abs(joined_cls - expected).max() > 1e-3


# --- X-ViT: space-time mixing -------------------------------------------------


def test_temporal_shift_takes_channel_slices_from_neighbouring_frames():
  frames, width = 4, 16  # One head of 16 channels; shift_div 8: folds of 2.
  x = (jnp.arange(frames)[:, None] * 100 + jnp.arange(width)).astype(
      jnp.float32)[None, :, None, None, :]  # [1, T, 1, 1(head), 16]
  out = patterns_xvit.temporal_shift(x, window=1, shift_div=8)[0, :, 0, 0]
  for t in range(frames):
    future = t * 100 + 100 + np.arange(2) if t + 1 < frames else np.zeros(2)
    past = t * 100 - 100 + np.arange(2, 4) if t > 0 else np.zeros(2)
    np.testing.assert_array_equal(out[t, :2], future)
    np.testing.assert_array_equal(out[t, 2:4], past)
    np.testing.assert_array_equal(out[t, 4:], t * 100 + np.arange(4, width))


def test_mixing_reaches_exactly_one_frame_each_way():
  """A query at frame t sees frames t-1, t, t+1 and nothing else (t_w = 1)."""
  mix = jax.jit(functools.partial(patterns_xvit.space_time_mixing_attention,
                                  window=1, shift_div=4))
  q, k, v = (_tokens(seed) for seed in range(3))
  out = mix(q, k, v)
  k2 = Tokens(k.grid.at[:, 2].add(1.0), None)
  v2 = Tokens(v.grid.at[:, 2].add(1.0), None)
  changed = np.abs(mix(q, k2, v2).grid - out.grid).max(axis=(0, 2, 3, 4, 5))
  assert list(changed > 1e-6) == [False, True, True, True]


def test_mixing_without_a_window_is_attention_within_each_frame():
  q, k, v = (_tokens(seed, with_cls=True) for seed in range(3))
  out = jax.jit(functools.partial(patterns_xvit.space_time_mixing_attention,
                                  window=0))(q, k, v)
  expected = jax.jit(attention.space_attention)(q, k, v)
  jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, atol=1e-5),
               out, expected)


def test_mixing_per_frame_class_tokens_are_each_frames_own():
  """With t_w = 0, per-frame class tokens make the pattern T separate ViTs."""
  q, k, v = (_tokens(seed) for seed in range(3))
  cls = [jax.random.normal(jax.random.key(10 + i), (B, T, N, DH))
         for i in range(3)]
  out = jax.jit(functools.partial(patterns_xvit.space_time_mixing_attention,
                                  window=0))(
      *(Tokens(t.grid, c) for t, c in zip((q, k, v), cls)))
  assert out.cls.shape == (B, T, N, DH)
  frame = lambda t, c, i: Tokens(t.grid[:, i:i + 1], c[:, i])
  for i in range(T):
    expected = attention.joint_attention(
        *(frame(t, c, i) for t, c in zip((q, k, v), cls)))
    np.testing.assert_allclose(out.cls[:, i], expected.cls, atol=1e-5)
    np.testing.assert_allclose(out.grid[:, i:i + 1], expected.grid, atol=1e-5)


def test_mixing_rejects_a_window_wider_than_the_channels():
  x = jnp.zeros((1, 4, 1, 1, 1, 8))
  with pytest.raises(ConfigError, match="t_w=3"):
    patterns_xvit.temporal_shift(x, window=3, shift_div=4)
