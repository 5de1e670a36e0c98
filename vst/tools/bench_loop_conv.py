"""Times a convolution's gradient inside a scan: XLA's against `loop_conv`'s.

  python -m vst.tools.bench_loop_conv [--batch=32] [--frames=8] [--size=8]

A ConvLSTM-shaped recurrence (input and recurrent 3×3 convolutions into 4
gates, `lax.scan` over the frames) is differentiated with respect to its
kernels, once with `lax.conv_general_dilated` and once with
`vst.layers.loop_conv.conv_general_dilated`, back to back in one process, on
the default backend. It prints both median times, their ratio and the max
difference of the gradients.
"""

import argparse
import sys

import jax
from jax import lax
import jax.numpy as jnp

from vst import timing
from vst.layers import loop_conv

_DIMS = ("NHWC", "HWIO", "NHWC")


def recurrent_loss(conv, kernels, frames):
  """Sum of the last hidden state of a ConvLSTM-like scan over `frames`."""
  input_kernel, recurrent_kernel = kernels
  features = recurrent_kernel.shape[2]

  def step(carry, x):
    c, h = carry
    z = (conv(x, input_kernel, (1, 1), "SAME", dimension_numbers=_DIMS)
         + conv(h, recurrent_kernel, (1, 1), "SAME", dimension_numbers=_DIMS))
    i, f, g, o = jnp.split(z, 4, axis=-1)
    c = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(g)
    return (c, jax.nn.sigmoid(o) * jnp.tanh(c)), None

  zeros = jnp.zeros(frames.shape[1:-1] + (features,))
  (_, h), _ = lax.scan(step, (zeros, zeros), frames)
  return h.sum()


def measure(batch: int, frames: int, size: int, channels: int = 48,
            features: int = 32, runs: int = 5) -> dict:
  keys = jax.random.split(jax.random.key(0), 3)
  kernels = (0.05 * jax.random.normal(keys[0], (3, 3, channels, 4 * features)),
             0.05 * jax.random.normal(keys[1], (3, 3, features, 4 * features)))
  x = jax.random.normal(keys[2], (frames, batch, size, size, channels))
  result = {"backend": jax.default_backend()}
  grads = {}
  for name, conv in (("xla", lax.conv_general_dilated),
                     ("loop_conv", loop_conv.conv_general_dilated)):
    grad = jax.jit(jax.grad(lambda k, f, conv=conv: recurrent_loss(conv, k, f)))
    grads[name] = grad(kernels, x)
    result[f"{name}_ms"] = 1e3 * timing.median_seconds(
        lambda grad=grad: jax.block_until_ready(grad(kernels, x)), runs)
  result["speedup"] = result["xla_ms"] / result["loop_conv_ms"]
  result["max_abs_diff"] = max(
      float(jnp.abs(a - b).max())
      for a, b in zip(grads["xla"], grads["loop_conv"]))
  return result


def main(argv=None) -> int:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--batch", type=int, default=32)
  parser.add_argument("--frames", type=int, default=8)
  parser.add_argument("--size", type=int, default=8)
  args = parser.parse_args(argv)
  for name in ("batch", "frames", "size"):
    if getattr(args, name) < 1:
      parser.error(f"--{name}={getattr(args, name)} must be a positive integer")
  r = measure(args.batch, args.frames, args.size)
  print(f"{r['backend']}: kernel gradient through a {args.frames}-step scan, "
        f"batch {args.batch}, {args.size}×{args.size} maps: XLA conv "
        f"{r['xla_ms']:.1f} ms, loop_conv {r['loop_conv_ms']:.1f} ms "
        f"({r['speedup']:.1f}×), max |Δgrad| {r['max_abs_diff']:.2e}")
  return 0


if __name__ == "__main__":
  sys.exit(main())
