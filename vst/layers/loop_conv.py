"""A convolution whose kernel gradient is fast inside loops (`nn.scan`).

XLA:CPU runs the kernel-gradient convolution of a convolution that sits in
a while loop (the body of `nn.scan` / `lax.scan`) 25–55× slower than the
same convolution outside one: a ConvLSTM train step of 8 frames took 5.1 s
against 0.05 s unrolled (`python -m vst.tools.bench_loop_conv` measures it). The
forward convolution and the input gradient are not affected.

`conv_general_dilated` here has `lax.conv_general_dilated`'s signature (so
it plugs into `nn.Conv(conv_general_dilated=...)` with the same parameters)
and computes the same values; only its kernel gradient differs in how it is
computed: one matmul per kernel offset, dW[k] = Σ x_pad[s·p + k] ⊗ dy[p]
over batch and output positions p, which costs the same multiply-adds as
the convolution, needs no im2col buffer, and is fast on every backend.

It handles what the recurrent cells use: channel-last layouts, any strides
and padding, no dilation, one feature group. Anything else falls back to
`lax.conv_general_dilated` unchanged.
"""

import itertools

import flax.linen as nn
import jax
from jax import lax
import jax.numpy as jnp


def channel_last(dimension_numbers, ndim: int) -> bool:
  """Whether the layout is N…C / …IO / N…C, as `nn.Conv` passes it."""
  spatial = tuple(range(1, ndim - 1))
  dn = lax.conv_dimension_numbers((1,) * ndim, (1,) * ndim, dimension_numbers)
  return (dn.lhs_spec == (0, ndim - 1) + spatial
          and dn.rhs_spec == (ndim - 1, ndim - 2) + tuple(range(ndim - 2))
          and dn.out_spec == (0, ndim - 1) + spatial)


def explicit_pads(padding, lhs_shape, rhs_shape, strides):
  """(low, high) per spatial axis, from a padding string or pairs."""
  if isinstance(padding, str):
    return lax.padtype_to_pads(lhs_shape[1:-1], rhs_shape[:-2], strides,
                               padding)
  return [tuple(p) for p in padding]


def conv_general_dilated(lhs, rhs, window_strides, padding, lhs_dilation=None,
                         rhs_dilation=None, dimension_numbers=None,
                         feature_group_count=1, batch_group_count=1,
                         precision=None, preferred_element_type=None):
  """`lax.conv_general_dilated`, with a loop-friendly kernel gradient."""
  native = lambda x, w: lax.conv_general_dilated(
      x, w, window_strides, padding, lhs_dilation, rhs_dilation,
      dimension_numbers, feature_group_count, batch_group_count, precision,
      preferred_element_type)
  ndim = lhs.ndim
  dilated = any(d != 1 for d in (lhs_dilation or ()) + (rhs_dilation or ()))
  if (dilated or feature_group_count != 1 or batch_group_count != 1
      or not channel_last(dimension_numbers, ndim)):
    return native(lhs, rhs)
  strides = tuple(window_strides)
  pads = explicit_pads(padding, lhs.shape, rhs.shape, strides)

  @jax.custom_vjp
  def conv(x, w):
    return native(x, w)

  def forward(x, w):
    return native(x, w), (x, w)

  def backward(residuals, dy):
    x, w = residuals
    _, input_vjp = jax.vjp(lambda x_: native(x_, w), x)
    (dx,) = input_vjp(dy)
    x_pad = jnp.pad(x, [(0, 0)] + pads + [(0, 0)])
    dy_rows = dy.reshape(-1, dy.shape[-1])
    dw = [jnp.dot(taps.reshape(-1, taps.shape[-1]).T, dy_rows,
                  precision=precision, preferred_element_type=jnp.float32)
          for taps in _shifted(x_pad, w.shape[:-2], strides, dy.shape[1:-1])]
    dw = jnp.stack(dw).reshape(w.shape).astype(w.dtype)
    return dx, dw

  conv.defvjp(forward, backward)
  return conv(lhs, rhs)


def _shifted(x_pad, kernel_size, strides, out_sizes) -> list:
  """For each kernel offset k (row-major), x_pad at s·p + k for every output
  position p: [B, *out_sizes, C] each."""
  return [x_pad[(slice(None),) + tuple(
              slice(o, o + s * (n - 1) + 1, s)
              for o, s, n in zip(offset, strides, out_sizes))]
          for offset in itertools.product(*(range(k) for k in kernel_size))]


def _same_taps(x, kernel_size):
  """[B, *S, C] -> [B, *S, C, K]: each position's "SAME"-padded
  neighbourhood at stride 1, K = Π kernel_size in row-major offset order."""
  ones = (1,) * len(kernel_size)
  pads = lax.padtype_to_pads(x.shape[1:-1], kernel_size, ones, "SAME")
  x_pad = jnp.pad(x, [(0, 0)] + list(pads) + [(0, 0)])
  return jnp.stack(_shifted(x_pad, kernel_size, ones, x.shape[1:-1]), axis=-1)


class LocalConv(nn.Module):
  """A locally connected "SAME" convolution (one kernel per output position)
  built from slices and one einsum, so its gradients stay fast in a scan.

  Same parameter ("kernel" [*S, C·K, features], features ordered channel-
  major as `lax.conv_general_dilated_patches` orders them) and same values
  as `nn.ConvLocal(features, kernel_size, padding="SAME", use_bias=False)`,
  whose patch extraction is a grouped convolution with XLA:CPU's slow kernel
  gradient in loops.
  """
  features: int
  kernel_size: tuple[int, ...]
  kernel_init: nn.initializers.Initializer = nn.initializers.lecun_normal()
  dtype: str = "float32"

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    dtype = jnp.dtype(self.dtype)
    patches = _same_taps(x.astype(dtype), tuple(self.kernel_size))
    patches = patches.reshape(patches.shape[:-2] + (-1,))
    kernel = self.param("kernel", self.kernel_init,
                        patches.shape[1:] + (self.features,), jnp.float32)
    return jnp.einsum("b...k,...ko->b...o", patches, kernel.astype(dtype))
