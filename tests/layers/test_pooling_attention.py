"""MViT's pooling attention: pooled shapes, the class token, the cost."""

import functools

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from vst import flops
from vst.layers import attention
from vst.layers import multiscale_block
from vst.layers import patterns_pooling as pooling
from vst.layers.attention import Tokens

GRID = (4, 8, 8)
HEADS, HEAD_DIM = 2, 8


class _Mix(nn.Module):
  mix: object

  @nn.compact
  def __call__(self, q, k, v):
    return self.mix(q, k, v)


def _tokens(grid=GRID, seed=0):
  keys = jax.random.split(jax.random.key(seed), 2)
  return Tokens(jax.random.normal(keys[0], (2,) + grid + (HEADS, HEAD_DIM)),
                jax.random.normal(keys[1], (2, HEADS, HEAD_DIM)))


def _run(**pooling_args):
  mix = _Mix(functools.partial(pooling.pooling_attention, **pooling_args))
  tokens = _tokens()
  return mix.init_with_output(jax.random.key(1), tokens, tokens, tokens)


def test_q_stride_shrinks_the_output_grid_kv_stride_does_not():
  out, variables = _run(kernel_q=(3, 3, 3), stride_q=(1, 2, 2),
                        kernel_kv=(3, 3, 3), stride_kv=(1, 4, 4))
  assert out.grid.shape == (2, 4, 4, 4, HEADS, HEAD_DIM)
  assert out.cls.shape == (2, HEADS, HEAD_DIM)
  assert set(variables["params"]) == {"pool_q", "pool_k", "pool_v"}
  # One depthwise conv over the head dimension, shared by the heads.
  assert variables["params"]["pool_k"]["conv"]["kernel"].shape == (
      3, 3, 3, 1, HEAD_DIM)
  out, _ = _run(kernel_kv=(3, 3, 3), stride_kv=(1, 4, 4))
  assert out.grid.shape[1:4] == GRID
  assert pooling.pooled_shape((8, 7, 7), (3, 3, 3), (1, 2, 2)) == (8, 4, 4)


def test_class_token_skips_the_conv_but_is_normalised():
  pool = pooling.AttentionPool((3, 3, 3), (1, 2, 2))
  tokens = _tokens()
  out, _ = pool.init_with_output(jax.random.key(0), tokens)
  cls = tokens.cls
  expected = (cls - cls.mean(-1, keepdims=True)) / jnp.sqrt(
      cls.var(-1, keepdims=True) + 1e-6)
  np.testing.assert_allclose(out.cls, expected, atol=1e-5)
  assert out.grid.shape[1:4] == (4, 4, 4)


def test_kv_pooling_divides_the_attention_cost_by_its_stride():
  def attention_macs(stride_kv):
    mix = functools.partial(pooling.pooling_attention, kernel_kv=(1, 1, 1),
                            stride_kv=stride_kv)
    tokens = _tokens()
    module = _Mix(mix)
    variables = module.init(jax.random.key(1), tokens, tokens, tokens)
    return flops.count_macs(module.apply, variables, tokens, tokens, tokens)

  full = attention_macs((1, 1, 1))
  assert full == 2 * 2 * HEADS * HEAD_DIM * (1 + 256) ** 2
  pooled = attention_macs((1, 2, 2))
  # Plus the depthwise 1×1×1 pooling convs of K and V on the 64 pooled tokens.
  pool_convs = 2 * 2 * 64 * HEADS * HEAD_DIM
  assert pooled == 2 * 2 * HEADS * HEAD_DIM * (1 + 256) * (1 + 64) + pool_convs


def test_block_pools_its_residual_path_to_the_query_grid():
  block = multiscale_block.multiscale_block(
      num_heads=2, in_features=16, out_features=32, kernel_q=(3, 3, 3), stride_q=(1, 2, 2),
      kernel_kv=(3, 3, 3), stride_kv=(1, 2, 2))
  grid = jnp.ones((2, 3, 7, 7, 16))
  (grid_out, cls_out), variables = block.init_with_output(
      jax.random.key(0), grid, jnp.ones((2, 16)), False)
  assert grid_out.shape == (2, 3, 4, 4, 32) and cls_out.shape == (2, 32)
  assert "project" in variables["params"]  # 16 -> 32 on the residual path.


def test_pooling_pattern_is_registered():
  ((name, _),) = attention.get_pattern("pooling")
  assert name == "attention"
