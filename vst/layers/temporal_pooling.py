"""Feature pooling over time with padding masks (Ng et al. 2015).

Beyond Short Snippets pools frame features of a 2D CNN over time in five
ways, each a function of frame features x [B, T, ...] and a mask bool[B, T]:

  max_over_time      Conv pooling (max over all frames of the last conv
                     layer's maps) and late pooling (the same after the FCs).
  window_max         The first stage of slow and local pooling: max over
                     windows of `window` frames every `stride` frames.
  TimeDomainConv     A convolution across `window` frames (3×3 in space,
                     frame stride `stride`) before pooling.

Masked frames never win a max. A window (or time-conv output) counts as valid
when its first frame is valid, so padding only ever shortens a clip's window
list, as it would have for the unpadded clip, except that a last window cut
short by the clip's end pools over its valid frames only.
"""

import flax.linen as nn
import jax
import jax.numpy as jnp

from vst.errors import ConfigError


def _expand(mask: jax.Array, x: jax.Array) -> jax.Array:
  return mask.reshape(mask.shape + (1,) * (x.ndim - mask.ndim))


def max_over_time(x: jax.Array, mask: jax.Array) -> jax.Array:
  """[B, T, ...] -> [B, ...], the max over valid frames (0 if none)."""
  low = jnp.finfo(x.dtype).min
  pooled = jnp.where(_expand(mask, x), x, low).max(axis=1)
  return jnp.where(_expand(mask.any(axis=1), pooled), pooled, 0)


def num_windows(time: int, window: int, stride: int) -> int:
  """How many `window`-frame windows every `stride` frames fit in `time`."""
  return (time - window) // stride + 1


def check_windows(time: int, window: int, stride: int) -> None:
  """Raises ConfigError naming dataset.num_frames if no window fits."""
  if window < 1 or stride < 1:
    raise ConfigError(f"model.pool_window={window} and model.pool_stride="
                      f"{stride} must be positive")
  if time < window:
    raise ConfigError(f"dataset.num_frames={time} is shorter than "
                      f"model.pool_window={window}")


def window_max(x: jax.Array, mask: jax.Array, window: int,
               stride: int) -> tuple[jax.Array, jax.Array]:
  """Max over frame windows.

  Args:
    x: [B, T, ...] frame features.
    mask: bool[B, T].
    window, stride: in frames.

  Returns:
    ([B, N, ...] window maxima, bool[B, N] valid windows), N =
    `num_windows(T, window, stride)`.
  """
  time = x.shape[1]
  check_windows(time, window, stride)
  starts = jnp.arange(num_windows(time, window, stride)) * stride
  index = starts[:, None] + jnp.arange(window)[None, :]  # [N, window]
  frames = x[:, index]  # [B, N, window, ...]
  frame_mask = mask[:, index]
  low = jnp.finfo(x.dtype).min
  pooled = jnp.where(_expand(frame_mask, frames), frames, low).max(axis=2)
  valid = mask[:, starts]
  return jnp.where(_expand(valid, pooled), pooled, 0), valid


class TimeDomainConv(nn.Module):
  """ReLU(conv) over `window` frames × 3×3, frame stride `stride`.

  [B, T, h, w, C] -> ([B, N, h, w, features], bool[B, N]); padding frames
  are zeroed before the convolution.

  Attributes:
    features: output channels (256 in the paper).
    window: temporal extent in frames (10 in the paper).
    stride: frame stride (5 in the paper).
    dtype: compute dtype.
  """
  features: int = 256
  window: int = 10
  stride: int = 5
  dtype: str = "float32"

  @nn.compact
  def __call__(self, x: jax.Array, mask: jax.Array):
    check_windows(x.shape[1], self.window, self.stride)
    x = jnp.where(_expand(mask, x), x, 0)
    y = nn.Conv(self.features, (self.window, 3, 3),
                strides=(self.stride, 1, 1),
                padding=((0, 0), (1, 1), (1, 1)),
                dtype=jnp.dtype(self.dtype), name="conv")(x)
    starts = jnp.arange(y.shape[1]) * self.stride
    return nn.relu(y), mask[:, starts]
