"""3D (shifted) window attention with a relative position bias: Video Swin.

Liu et al. 2022 cut the token grid [B, T, H, W] into non-overlapping windows
of wt×wh×ww tokens and attend within each window, adding a learned bias per
head that depends only on the relative offset of the two tokens (a table of
(2wt-1)(2wh-1)(2ww-1) entries per head). Every other block rolls the grid by
half a window first, so that the next windows straddle the previous ones'
borders; tokens that the roll brought together from opposite edges of the
grid must not attend to each other, which an additive mask of -100 (the
official value, kept for checkpoint parity) suppresses.

Details follow the official code and torchvision's `swin3d_*`, so that their
checkpoints give the same logits:
  - a window longer than the grid along an axis is clipped to the grid, and
    that axis is not shifted (`clip_window`);
  - the bias of a clipped window is read from the first L×L entries of the
    full window's index (L = its volume), as both implementations do;
  - the grid is zero-padded up to a multiple of the window after the
    projections have run in the pattern (the Swin block pads before them);
    padded tokens are not masked.

The pattern is `shifted_window_attention(query, key, value, window_size,
shift_size)`; `window3d` registers the pair W-MSA → SW-MSA at 8×7×7 as a
two-stage pattern for the generic encoder, while `vst.models.swin3d`
alternates the two per block, as the paper does.
"""

import functools
import math

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from vst.errors import ConfigError
from vst.layers import torch_init
from vst.layers.attention import (Tokens, dot_product_attention,
                                  received_attention, record_attention,
                                  register_pattern)

# The official additive mask between tokens of different shifted regions.
MASK_VALUE = -100.0


def clip_window(grid_shape, window_size, shift_size):
  """(window, shift) per axis, a window clipped to a shorter grid, unshifted.

  Args:
    grid_shape: (T, H, W) of the token grid.
    window_size: configured (wt, wh, ww).
    shift_size: configured (st, sh, sw).

  Returns:
    Two tuples of three ints.
  """
  window, shift = [], []
  for size, w, s in zip(grid_shape, window_size, shift_size):
    if size <= w:
      window.append(size)
      shift.append(0)
    else:
      window.append(w)
      shift.append(s)
  return tuple(window), tuple(shift)


def pad_to_windows(grid: jax.Array, window) -> jax.Array:
  """Zero-pads [B, T, H, W, ...] at the end of T, H, W to multiples of window."""
  pads = [(0, -size % w) for size, w in zip(grid.shape[1:4], window)]
  if not any(p for _, p in pads):
    return grid
  return jnp.pad(grid, [(0, 0)] + pads + [(0, 0)] * (grid.ndim - 4))


def partition_windows(grid: jax.Array, window) -> jax.Array:
  """[B, T, H, W, *F] -> [B, nW, wt·wh·ww, *F], windows in (t, h, w) order."""
  batch, (t, h, w), features = grid.shape[0], grid.shape[1:4], grid.shape[4:]
  wt, wh, ww = window
  x = grid.reshape((batch, t // wt, wt, h // wh, wh, w // ww, ww) + features)
  rest = tuple(range(7, 7 + len(features)))
  x = x.transpose((0, 1, 3, 5, 2, 4, 6) + rest)
  return x.reshape((batch, -1, wt * wh * ww) + features)


def merge_windows(windows: jax.Array, grid_shape, window) -> jax.Array:
  """Inverse of `partition_windows`: [B, nW, L, *F] -> [B, T, H, W, *F]."""
  batch, features = windows.shape[0], windows.shape[3:]
  (t, h, w), (wt, wh, ww) = grid_shape, window
  x = windows.reshape((batch, t // wt, h // wh, w // ww, wt, wh, ww)
                      + features)
  rest = tuple(range(7, 7 + len(features)))
  x = x.transpose((0, 1, 4, 2, 5, 3, 6) + rest)
  return x.reshape((batch, t, h, w) + features)


def shift_mask(grid_shape, window, shift) -> np.ndarray:
  """[nW, L, L] additive mask: MASK_VALUE between tokens of different regions.

  After rolling the (padded) grid by -shift, each axis holds up to three
  regions: [0, size - window), [size - window, size - shift) and
  [size - shift, size); the last came from the other end of the grid. Two
  tokens of one window may attend to each other only if they share a region
  along every axis.
  """
  region = []
  for size, w, s in zip(grid_shape, window, shift):
    index = np.zeros(size, np.int32)
    if s:
      index[size - w:size - s] = 1
      index[size - s:] = 2
    region.append(index)
  ids = (region[0][:, None, None] * 9 + region[1][None, :, None] * 3
         + region[2][None, None, :])
  ids = np.asarray(partition_windows(ids[None, ..., None], window))[0, ..., 0]
  return np.where(ids[:, :, None] != ids[:, None, :], MASK_VALUE,
                  0.0).astype(np.float32)


def relative_position_index(window) -> np.ndarray:
  """[L, L] index into the bias table of the pair (i, j) of a full window.

  Offsets (dt, dh, dw) = coords(i) - coords(j), shifted to start at 0, are
  flattened as dt·(2wh-1)(2ww-1) + dh·(2ww-1) + dw, the official order.
  """
  wt, wh, ww = window
  coords = np.stack(np.meshgrid(np.arange(wt), np.arange(wh), np.arange(ww),
                                indexing="ij")).reshape(3, -1)
  offsets = coords[:, :, None] - coords[:, None, :] + np.array(
      [wt - 1, wh - 1, ww - 1])[:, None, None]
  return (offsets[0] * (2 * wh - 1) * (2 * ww - 1)
          + offsets[1] * (2 * ww - 1) + offsets[2])


class RelativePositionBias(nn.Module):
  """The per-head bias table of a window and its lookup.

  The table is named `relative_pos_embedding` ([(2wt-1)(2wh-1)(2ww-1), N],
  torchvision's `relative_position_bias_table`); like every position
  embedding it is left out of weight decay (`vst.optim.weight_decay_mask`),
  as the Swin recipes do.

  Attributes:
    window_size: the configured (full) window.
    num_heads: N.
  """
  window_size: tuple[int, int, int]
  num_heads: int

  @nn.compact
  def __call__(self, volume: int) -> jax.Array:
    """[N, L, L] bias of a window of `volume` = L tokens (L ≤ full volume)."""
    size = math.prod(2 * w - 1 for w in self.window_size)
    table = self.param("relative_pos_embedding",
                       torch_init.TABLE,
                       (size, self.num_heads))
    index = relative_position_index(self.window_size)[:volume, :volume]
    return jnp.transpose(table[index], (2, 0, 1))


def dot_product_attention_with_bias(query: jax.Array, key: jax.Array,
                                    value: jax.Array,
                                    bias: jax.Array) -> jax.Array:
  """softmax(q kᵀ / √Dh + bias) v within each group of tokens.

  The one kernel with `bias=`: it maps over the groups where the bias
  varies by group (a window's mask), so that bias is never broadcast over
  the batch in memory.

  Args:
    query: [B, G, L, N, Dh].
    key: [B, G, S, N, Dh].
    value: [B, G, S, N, Dh].
    bias: [G, N, L, S], or [1, N, L, S] for the same bias in every group.

  Returns:
    [B, G, L, N, Dh].
  """
  return dot_product_attention(query, key, value,
                               bias=bias.astype(query.dtype))


def shifted_window_attention(query: Tokens, key: Tokens, value: Tokens, *,
                             window_size=(8, 7, 7),
                             shift_size=(0, 0, 0),
                             valid_shape=None) -> Tokens:
  """Attention within (shifted) 3D windows with a relative position bias.

  Creates its bias table as the submodule `relative_position_bias` of the
  calling `MultiHeadAttention`.

  Args:
    query: Tokens with grid [B, T, H, W, N, Dh] and no class token.
    key: like `query`.
    value: like `query`.
    window_size: (wt, wh, ww).
    shift_size: (st, sh, sw), each < the window; (0, 0, 0) for W-MSA.
    valid_shape: (T, H, W) of the grid before the caller padded it to whole
      windows (the Swin block pads before the projections), or None; only
      the recorded attention map is cropped to it.

  Returns:
    Tokens with grid [B, T, H, W, N, Dh].
  """
  if query.cls is not None:
    raise ConfigError("window attention has no class token; use a "
                      "model.classifier that pools the grid (\"gap\")")
  grid_shape = query.grid.shape[1:4]
  num_heads = query.grid.shape[-2]
  window, shift = clip_window(grid_shape, window_size, shift_size)

  def to_windows(grid):
    grid = pad_to_windows(grid, window)
    if any(shift):
      grid = jnp.roll(grid, [-s for s in shift], axis=(1, 2, 3))
    return partition_windows(grid, window)

  padded_shape = tuple(-(-n // w) * w for n, w in zip(grid_shape, window))
  volume = math.prod(window)
  bias = RelativePositionBias(tuple(window_size), num_heads,
                              name="relative_position_bias")(volume)[None]
  if any(shift):
    bias = bias + jnp.asarray(shift_mask(padded_shape, window, shift))[:, None]
  query_windows, key_windows = to_windows(query.grid), to_windows(key.grid)
  record_attention(
      lambda: _received_on_grid(query_windows, key_windows, bias,
                                padded_shape, window, shift,
                                valid_shape or grid_shape),
      pattern="window3d")
  out = dot_product_attention_with_bias(
      query_windows, key_windows, to_windows(value.grid), bias)
  out = merge_windows(out, padded_shape, window)
  if any(shift):
    out = jnp.roll(out, shift, axis=(1, 2, 3))
  t, h, w = grid_shape
  return Tokens(out[:, :t, :h, :w], None)


def _received_on_grid(query_windows, key_windows, bias, padded_shape, window,
                      shift, valid_shape) -> jax.Array:
  """[B, N, T, H, W]: each key's attention, mean over its window's queries.

  Windows are merged back, un-shifted and cropped to `valid_shape`, so the
  map lies on the grid the block received; each window's keys sum to 1
  (less where a window held padding).
  """
  received = received_attention(query_windows, key_windows, False,
                                bias[None])  # [B, nW, N, L]
  grid = merge_windows(jnp.moveaxis(received, 2, 3), padded_shape, window)
  if any(shift):
    grid = jnp.roll(grid, shift, axis=(1, 2, 3))
  t, h, w = valid_shape
  return jnp.moveaxis(grid[:, :t, :h, :w], 4, 1)


def window_stages(window_size=(8, 7, 7)):
  """(W-MSA, SW-MSA) stages at `window_size`, the shift half a window."""
  shift = tuple(w // 2 for w in window_size)
  return (("window_attention", functools.partial(
              shifted_window_attention, window_size=window_size)),
          ("shifted_window_attention", functools.partial(
              shifted_window_attention, window_size=window_size,
              shift_size=shift)))


register_pattern("window3d", window_stages((8, 7, 7)))
