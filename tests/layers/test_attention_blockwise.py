"""The attention kernel's implementations and the switch between them.

Blockwise attention (online softmax, recomputing backward) gives XLA's
outputs within 1e-5 and gradients within 1e-4 relative: with a bias, a mask
(a fully masked row included), lengths that are no multiple of the blocks,
and queries and keys of different lengths; and so does every registered
pattern, run through its attention layers under either implementation. Its
compiled backward needs a fraction of XLA's temporary memory. `auto` picks
by backend, dtype and shape; a kernel the backend lacks is one ConfigError
line naming `model.attention_impl`, the backend and the dtype. Splash runs
in Pallas interpret mode on CPU.
"""

import functools

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from vst.errors import ConfigError
from vst.layers import attention
from vst.layers import attention_kernels
from vst.layers.attention_blockwise import balanced_block, blockwise_attention
from vst.layers.attention_kernels import (BLOCKWISE_MIN_LOGITS,
                                          choose_implementation, xla_attention)
from vst.layers.patterns_window3d import window_stages

FORWARD_ATOL = 1e-5
GRADIENT_RTOL = 1e-4


def _relative_error(actual, expected, scale=0.0):
  """Largest difference over the largest |expected|, or over `scale` if more.

  A gradient that is zero in exact arithmetic (a key projection's bias: it
  shifts a row's logits by a constant) is rounding noise in both
  implementations, so it is compared at the scale of the whole gradient.
  """
  scale = max(float(jnp.abs(expected).max()), scale)
  return float(jnp.abs(actual - expected).max()) / scale


def _inputs(seed, batch, length, kv_length, heads=3, head_dim=8):
  keys = jax.random.split(jax.random.key(seed), 4)
  q = jax.random.normal(keys[0], (batch, length, heads, head_dim))
  k, v = (jax.random.normal(x, (batch, kv_length, heads, head_dim))
          for x in keys[1:3])
  return q, k, v, jax.random.normal(keys[3], q.shape)


# (L, S, block_q, block_k, bias shape, mask shape), with B=2, N=3.
CASES = {
    "ragged_blocks": (40, 40, 16, 16, None, None),
    "bias_and_mask": (37, 23, 16, 8, (1, 3, 37, 23), (2, 1, 37, 23)),
    "class_token_query": (1, 50, 16, 16, None, (2, 1, 1, 50)),
    "pooled_keys": (30, 12, 8, 5, (2, 3, 1, 12), None),
    "one_block": (9, 9, 256, 256, (2, 3, 9, 9), (1, 1, 9, 9)),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_blockwise_equals_xla_forward_and_gradients(case):
  length, kv_length, block_q, block_k, bias_shape, mask_shape = CASES[case]
  q, k, v, cotangent = _inputs(0, 2, length, kv_length)
  bias = mask = None
  if bias_shape:
    bias = jax.random.normal(jax.random.key(1), bias_shape)
  if mask_shape:
    mask = jax.random.bernoulli(jax.random.key(2), 0.7, mask_shape)
    if length > 1:  # A row that sees no key at all.
      mask = mask.at[..., 0, :].set(False)
  blockwise = functools.partial(blockwise_attention, block_q=block_q,
                                block_k=block_k)

  def run(kernel):
    def loss(q, k, v, bias):
      out = kernel(q, k, v, bias, mask)
      return (out * cotangent).sum(), out
    argnums = (0, 1, 2, 3) if bias is not None else (0, 1, 2)
    return jax.jit(jax.grad(loss, argnums, has_aux=True))(q, k, v, bias)

  grads, out = run(blockwise)
  expected_grads, expected = run(xla_attention)
  np.testing.assert_allclose(out, expected, atol=FORWARD_ATOL)
  for name, g, e in zip("qkv" + "b", grads, expected_grads):
    assert g.shape == e.shape
    assert _relative_error(g, e) <= GRADIENT_RTOL, name


def test_balanced_blocks_cut_padding():
  assert balanced_block(1568, 256) == 224  # 7 blocks, none padded.
  assert balanced_block(40, 16) == 14  # 3 blocks, 2 padded.
  assert balanced_block(9, 256) == 9
  with pytest.raises(ValueError, match="block size 0"):
    balanced_block(9, 0)


def test_bias_that_does_not_broadcast_is_named():
  q, k, v, _ = _inputs(0, 2, 5, 7)
  with pytest.raises(ValueError, match=r"bias of shape \(2, 5, 7\)"):
    attention.dot_product_attention(q, k, v, bias=jnp.zeros((2, 5, 7)),
                                    implementation="blockwise")


def test_bias_varying_over_a_leading_axis_is_mapped_not_broadcast():
  """Swin's case: [B, G, L, N, Dh] windows, a [G, N, L, S] bias."""
  keys = jax.random.split(jax.random.key(3), 4)
  q, k, v = (jax.random.normal(x, (2, 3, 10, 2, 4)) for x in keys[:3])
  bias = jax.random.normal(keys[3], (3, 2, 10, 10))
  out = {impl: attention.dot_product_attention(q, k, v, bias=bias,
                                               implementation=impl)
         for impl in ("xla", "blockwise")}
  np.testing.assert_allclose(out["blockwise"], out["xla"], atol=FORWARD_ATOL)
  per_window = jax.nn.dot_product_attention(q[:, 1], k[:, 1], v[:, 1],
                                            bias=bias[1:2])
  np.testing.assert_allclose(out["xla"][:, 1], per_window, atol=1e-6)


# --- Every pattern, either implementation -----------------------------------


class _Stages(nn.Module):
  """A pattern's stages as bare attention layers, each with its residual."""
  stages: tuple

  @nn.compact
  def __call__(self, grid, cls):
    for name, mix in self.stages:
      out = attention.MultiHeadAttention(4, mix, name=name)(
          attention.Tokens(grid, cls))
      grid, cls = out.grid + grid, None if cls is None else out.cls + cls
    return grid, cls


PATTERN_CASES = {name: (attention.get_pattern(name), (1, 2, 4, 4))
                 for name in attention.pattern_names()}
# The registered window3d clips its 8×7×7 window to the tiny grid, which then
# cannot shift; 2×2×2 windows on 4×4×4 shift and carry the region mask.
PATTERN_CASES["window3d_shifted"] = (window_stages((2, 2, 2)), (1, 4, 4, 4))


@pytest.mark.parametrize("case", sorted(PATTERN_CASES))
def test_every_pattern_equal_under_xla_and_blockwise(case, monkeypatch):
  # Small blocks, so joint attention over 33 tokens runs 3 ragged blocks.
  monkeypatch.setitem(attention_kernels.KERNELS, "blockwise",
                      functools.partial(blockwise_attention, block_q=16,
                                        block_k=16))
  stages, grid_shape = PATTERN_CASES[case]
  grid = jax.random.normal(jax.random.key(0), grid_shape + (16,))
  cls = None
  if not case.startswith("window3d"):  # Windows take no class token.
    cls = jax.random.normal(jax.random.key(1), (1, 16))
  layers = _Stages(stages)
  params = jax.jit(layers.init)(jax.random.key(2), grid, cls)

  def loss(params, grid, cls, impl):
    with attention.attention_implementation(impl):
      out = layers.apply(params, grid, cls)
    return sum(jnp.sum(jnp.sin(x)) for x in jax.tree.leaves(out)), out

  def run(impl):
    step = jax.grad(functools.partial(loss, impl=impl), (0, 1),
                    has_aux=True)
    with attention.attention_choices() as choices:
      grads, out = jax.jit(step)(params, grid, cls)
    assert {c.chosen for c in choices} == {impl}
    return jax.tree.leaves(grads), jax.tree.leaves(out)

  grads, outs = run("blockwise")
  expected_grads, expected_outs = run("xla")
  for out, expected in zip(outs, expected_outs):
    np.testing.assert_allclose(out, expected, atol=FORWARD_ATOL)
  scale = max(float(jnp.abs(e).max()) for e in expected_grads) * 1e-3
  for g, e in zip(grads, expected_grads):
    assert _relative_error(g, e, scale) <= GRADIENT_RTOL


# --- Memory -------------------------------------------------------------------


def test_blockwise_backward_needs_a_fraction_of_xla_temp_memory():
  """At 2,048 tokens XLA keeps [N, L, S] probabilities; blockwise does not."""
  shape = jax.ShapeDtypeStruct((1, 2048, 2, 16), jnp.float32)

  def temp_bytes(impl):
    loss = lambda q, k, v: attention.dot_product_attention(
        q, k, v, implementation=impl).sum()
    compiled = jax.jit(jax.grad(loss, (0, 1, 2))).lower(
        shape, shape, shape).compile()
    return compiled.memory_analysis().temp_size_in_bytes

  xla, blockwise = temp_bytes("xla"), temp_bytes("blockwise")
  probabilities = 2 * 2048 * 2048 * 4
  assert xla >= probabilities
  assert blockwise * 8 < xla


# --- The switch ---------------------------------------------------------------


def _choose(requested, length=64, kv_length=None, dtype=jnp.float32, **kw):
  kv_length = kv_length or length
  return choose_implementation(requested, (2, length, 12, 64),
                               (2, kv_length, 12, 64), dtype, **kw)


def test_auto_picks_per_backend_dtype_and_shape():
  large = 512  # 512·512 logits a head: where blockwise wins on CPU.
  assert large * large >= BLOCKWISE_MIN_LOGITS > 392 * 392
  assert _choose("auto", backend="cpu") == "xla"
  assert _choose("auto", large, backend="cpu") == "blockwise"
  assert _choose("auto", 1, 4096, backend="cpu") == "xla"  # One class token.
  assert _choose("auto", dtype=jnp.bfloat16, backend="gpu") == "cudnn"
  assert _choose("auto", dtype=jnp.float16, backend="gpu",
                 has_bias=True) == "cudnn"
  assert _choose("auto", large, backend="gpu") == "blockwise"
  assert _choose("auto", backend="gpu") == "xla"
  assert _choose("auto", 196, backend="tpu") == "splash"
  assert _choose("auto", 196, backend="tpu", has_bias=True) == "xla"
  assert _choose("auto", 64, backend="tpu") == "xla"  # Under one block.
  for impl in ("xla", "blockwise"):
    assert _choose(impl, backend="tpu", dtype=jnp.bfloat16) == impl


@pytest.mark.parametrize("requested, backend, dtype, has_bias, words", [
    ("cudnn", "cpu", jnp.float32, False, ["cpu", "float32", "GPU"]),
    ("cudnn", "gpu", jnp.float32, False, ["gpu", "float32", "bfloat16"]),
    ("splash", "cpu", jnp.bfloat16, False, ["cpu", "bfloat16", "TPU"]),
    ("splash", "tpu", jnp.bfloat16, True, ["tpu", "bias"]),
])
def test_a_kernel_the_backend_lacks_is_one_line(requested, backend, dtype,
                                                has_bias, words):
  with pytest.raises(ConfigError) as error:
    _choose(requested, dtype=dtype, backend=backend, has_bias=has_bias)
  message = str(error.value)
  assert "\n" not in message
  assert f"model.attention_impl='{requested}'" in message
  for word in words:
    assert word in message


def test_unknown_implementation_lists_the_names():
  with pytest.raises(ConfigError, match="model.attention_impl='flash'.*"
                     "auto, xla, blockwise, cudnn, splash"):
    with attention.attention_implementation("flash"):
      pass


def test_context_reaches_the_kernel_and_is_restored():
  q, k, v, _ = _inputs(0, 1, 4, 4)
  assert attention_kernels.requested_implementation() == "auto"
  with attention.attention_implementation("cudnn"):
    with pytest.raises(ConfigError, match="'cudnn'.*backend cpu"):
      attention.dot_product_attention(q, k, v)
    with attention.attention_implementation("blockwise"):
      with attention.attention_choices() as choices:
        attention.dot_product_attention(q, k, v)
  assert attention_kernels.requested_implementation() == "auto"
  assert choices == [attention_kernels.AttentionChoice(
      "blockwise", "blockwise", (1, 4, 3, 8), (1, 4, 3, 8), "float32",
      "cpu")]


def test_splash_in_interpret_mode_equals_xla():
  """The TPU kernel, interpreted on CPU: 130 queries and 100 keys padded."""
  q, k, v, cotangent = _inputs(0, 1, 130, 100, heads=2)

  def run(kernel):
    def loss(q, k, v):
      out = kernel(q, k, v)
      return (out * cotangent).sum(), out
    return jax.jit(jax.grad(loss, (0, 1, 2), has_aux=True))(q, k, v)

  splash = functools.partial(attention_kernels.splash_attention,
                             interpret=True)
  (grads, out), (expected_grads, expected) = run(splash), run(xla_attention)
  np.testing.assert_allclose(out, expected, atol=FORWARD_ATOL)
  for g, e in zip(grads, expected_grads):
    assert _relative_error(g, e) <= GRADIENT_RTOL
  with pytest.raises(ConfigError, match="splash.*no additive bias"):
    attention_kernels.splash_attention(q, k, v,
                                       bias=jnp.zeros((1, 2, 130, 100)))
