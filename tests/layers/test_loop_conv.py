"""loop_conv computes what XLA's convolution and flax's ConvLocal compute,
values and gradients, inside and outside a scan."""

import flax.linen as nn
import jax
from jax import lax
import jax.numpy as jnp
import numpy as np
import pytest

from vst.layers import loop_conv


def _grads(conv, x, w, strides, padding, dims):
  def loss(x, w):
    y = conv(x, w, strides, padding, dimension_numbers=dims)
    return jnp.sum(jnp.sin(y))
  return jax.grad(loss, argnums=(0, 1))(x, w)


@pytest.mark.parametrize("x_shape,w_shape,strides,padding,dims", [
    ((2, 7, 6, 3), (3, 3, 3, 5), (1, 1), "SAME", ("NHWC", "HWIO", "NHWC")),
    ((2, 9, 8, 3), (5, 3, 3, 4), (2, 3), ((2, 1), (0, 1)),
     ("NHWC", "HWIO", "NHWC")),
    ((1, 4, 6, 6, 2), (1, 1, 1, 2, 3), (1, 1, 1), "VALID",
     ("NDHWC", "DHWIO", "NDHWC")),
    ((2, 3, 8, 8), (4, 3, 3, 3), (1, 1), "SAME", None),  # NCHW: falls back.
])
def test_values_and_gradients_match_xla(x_shape, w_shape, strides, padding,
                                        dims):
  kx, kw = jax.random.split(jax.random.key(0))
  x = jax.random.normal(kx, x_shape)
  w = jax.random.normal(kw, w_shape)
  np.testing.assert_allclose(
      loop_conv.conv_general_dilated(x, w, strides, padding,
                                     dimension_numbers=dims),
      lax.conv_general_dilated(x, w, strides, padding, dimension_numbers=dims),
      rtol=1e-5, atol=1e-5)
  for mine, ref in zip(
      _grads(loop_conv.conv_general_dilated, x, w, strides, padding, dims),
      _grads(lax.conv_general_dilated, x, w, strides, padding, dims)):
    np.testing.assert_allclose(mine, ref, rtol=1e-4, atol=1e-4)


def test_kernel_gradient_through_a_scan_matches_xla():
  dims = ("NHWC", "HWIO", "NHWC")
  xs = jax.random.normal(jax.random.key(1), (4, 2, 5, 5, 3))
  w = 0.3 * jax.random.normal(jax.random.key(2), (3, 3, 3, 3))

  def loss(w, conv):
    def step(h, x):
      h = jnp.tanh(conv(x + h, w, (1, 1), "SAME", dimension_numbers=dims))
      return h, None
    h, _ = lax.scan(step, jnp.zeros_like(xs[0]), xs)
    return h.sum()

  np.testing.assert_allclose(
      jax.grad(loss)(w, loop_conv.conv_general_dilated),
      jax.grad(loss)(w, lax.conv_general_dilated), rtol=1e-4, atol=1e-5)


def test_conv_plugs_into_flax_conv_with_the_same_parameters():
  x = jax.random.normal(jax.random.key(3), (2, 6, 6, 4))
  ref = nn.Conv(8, (3, 3), strides=2, padding="SAME")
  mine = nn.Conv(8, (3, 3), strides=2, padding="SAME",
                 conv_general_dilated=loop_conv.conv_general_dilated)
  params = ref.init(jax.random.key(4), x)
  assert (jax.tree.map(jnp.shape, mine.init(jax.random.key(4), x))
          == jax.tree.map(jnp.shape, params))
  np.testing.assert_allclose(mine.apply(params, x), ref.apply(params, x),
                             rtol=1e-5, atol=1e-5)


def test_local_conv_matches_flax_conv_local():
  x = jax.random.normal(jax.random.key(5), (2, 6, 5, 3))
  ref = nn.ConvLocal(4, (3, 3), padding="SAME", use_bias=False)
  mine = loop_conv.LocalConv(4, (3, 3))
  params = ref.init(jax.random.key(6), x)
  assert (jax.tree.map(jnp.shape, mine.init(jax.random.key(6), x))
          == jax.tree.map(jnp.shape, params))
  np.testing.assert_allclose(mine.apply(params, x), ref.apply(params, x),
                             rtol=1e-5, atol=1e-5)
  loss = lambda module, p: jnp.sum(jnp.sin(module.apply(p, x)))
  for a, b in zip(jax.tree.leaves(jax.grad(lambda p: loss(mine, p))(params)),
                  jax.tree.leaves(jax.grad(lambda p: loss(ref, p))(params))):
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
