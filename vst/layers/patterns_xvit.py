"""X-ViT's space-time mixing attention (Bulat et al. 2021, Sec. 3.1).

A query at frame t attends only to the tokens of its own frame, as spatial
attention does, but its keys and values mix time: each key and value takes a
slice of its channels from the same spatial location in frames t − t_w … t +
t_w. The mixing is the "shift trick" of TSM: no parameters, no extra
multiply-adds, so the cost stays that of per-frame attention, O(T·S²), linear
in T, while after k blocks a token has seen frames t ± k·t_w.

The shift acts on the projected keys and values [B, T, H, W, N, Dh] over their
D = N·Dh channels: with `shift_div` = 8 as in the released configs
(SHIFT_DIV: 8), channels [0, D/8) come from frame t + 1, [D/8, 2D/8) from
t − 1 (then t ± 2, ... for larger windows), the rest from t, zeros past the
clip's ends.

Class tokens: per-frame class tokens [B, T, N, Dh] (X-ViT runs the image ViT
on every frame, each with its class token) are one more token of their frame
and are shifted with it, as in the official code. A single class token
[B, N, Dh] joins every frame unshifted and its output is the mean over frames,
as in `attend_within`.
"""

import functools

import jax
import jax.numpy as jnp

from vst.errors import ConfigError
from vst.layers.attention import (Tokens, dot_product_attention,
                                  received_attention, record_attention,
                                  register_pattern)


def temporal_shift(x: jax.Array, window: int, shift_div: int) -> jax.Array:
  """Channel slices of neighbouring frames: [B, T, ..., N, Dh] -> same.

  Args:
    x: keys or values, frames on axis 1, heads and head channels last.
    window: t_w; frames t − t_w … t + t_w contribute.
    shift_div: each neighbour gives D / shift_div of the D = N·Dh channels.

  Returns:
    `x` with channel block 2(j−1) taken from frame t + j and block 2(j−1) + 1
    from frame t − j, for j = 1 … t_w; zero where that frame is outside the
    clip.
  """
  shape = x.shape
  x = x.reshape(shape[:-2] + (-1,))
  width = x.shape[-1]
  fold = width // shift_div
  if window < 0 or 2 * window * fold > width or (window and not fold):
    raise ConfigError(
        f"space-time mixing with t_w={window} and shift_div={shift_div} "
        f"needs 2·t_w·(D/shift_div) <= D with D/shift_div >= 1 (D={width})")
  frames = x.shape[1]
  pieces = []
  for j in range(1, window + 1):
    for offset in (j, -j):  # Block 2(j-1): frame t + j; 2(j-1)+1: t - j.
      start = len(pieces) * fold
      block = x[..., start:start + fold]
      if abs(offset) >= frames:
        pieces.append(jnp.zeros_like(block))
        continue
      pad = [(0, 0)] * block.ndim
      if offset > 0:  # Frame t reads t + offset.
        pad[1] = (0, offset)
        block = jnp.pad(block[:, offset:], pad)
      else:
        pad[1] = (-offset, 0)
        block = jnp.pad(block[:, :frames + offset], pad)
      pieces.append(block)
  pieces.append(x[..., len(pieces) * fold:])
  return jnp.concatenate(pieces, axis=-1).reshape(shape)


def space_time_mixing_attention(query: Tokens, key: Tokens, value: Tokens, *,
                                window: int = 1,
                                shift_div: int = 8) -> Tokens:
  """Attention within each frame over time-mixed keys and values.

  Args:
    query: Tokens with grid [B, T, H, W, N, Dh] and cls [B, T, N, Dh] (per
      frame), [B, N, Dh] (shared) or None.
    key: like `query`.
    value: like `query`.
    window: t_w.
    shift_div: see `temporal_shift`.

  Returns:
    Tokens shaped like `query`.
  """
  batch, frames, height, width = query.grid.shape[:4]
  heads, head_dim = query.grid.shape[4:]
  per_frame_cls = query.cls is not None and query.cls.ndim == 4

  def frame_tokens(tokens: Tokens, shift: bool) -> jax.Array:
    """[B, T, (1 +) H·W, N, Dh]: each frame's tokens, class token first."""
    x = tokens.grid.reshape(batch, frames, height * width, heads, head_dim)
    if tokens.cls is not None:
      cls = tokens.cls if per_frame_cls else jnp.broadcast_to(
          tokens.cls[:, None], (batch, frames, heads, head_dim))
      x = jnp.concatenate([cls[:, :, None], x], axis=2)
    if not shift:
      return x
    shifted = temporal_shift(x, window, shift_div)
    if tokens.cls is not None and not per_frame_cls:
      # A shared class token has no frame to shift from.
      shifted = shifted.at[:, :, 0].set(x[:, :, 0])
    return shifted

  frame_queries, frame_keys = frame_tokens(query, False), frame_tokens(key, True)
  # Each frame's map on its own spatial grid: [B, N, T, H, W].
  record_attention(
      lambda: jnp.moveaxis(received_attention(
          frame_queries, frame_keys, query.cls is not None), 2, 1).reshape(
              batch, heads, frames, height, width),
      pattern="mixing")
  out = dot_product_attention(frame_queries, frame_keys,
                              frame_tokens(value, True))
  cls = None
  if query.cls is not None:
    cls, out = out[:, :, 0], out[:, :, 1:]
    if not per_frame_cls:
      cls = cls.mean(axis=1)
  grid = out.reshape(batch, frames, height, width, heads, head_dim)
  return Tokens(grid, cls)


# X-ViT's released models: t_w = 1, SHIFT_DIV 8.
register_pattern("mixing", (("attention", functools.partial(
    space_time_mixing_attention, window=1, shift_div=8)),))
