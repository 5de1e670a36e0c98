"""Sliding-window (Longformer) attention along time, with a global class token.

VTN (Neimark et al. 2021) encodes a video's per-frame features with a
Longformer (Beltagy et al. 2020): each frame attends to the frames within
`attention_window / 2` of it on either side (window 18 → 9 each side, the
convention of HF `LongformerConfig.attention_window`) and to the [CLS] token;
the [CLS] token attends to every frame and to itself ("global attention").

`banded_attention` never forms the L×L matrix: the sequence is cut into
chunks of w = attention_window / 2 frames, and each chunk's queries meet only
the keys of the chunk before, their own and the one after (3w keys, masked to
the band |i - j| ≤ w and to real frames), so the cost is L·(3w + G)·Dh per
head: linear in the number of frames L.

Two users:
  - `LongformerSelfAttention`, VTN's temporal encoder layer as in HF
    transformers' Longformer: the class token's own row is computed with
    separate `query_global`/`key_global`/`value_global` projections of all
    tokens; frames see the class token through the ordinary key/value.
  - the `sliding_window` attention pattern on a video token grid (any ViT
    backbone): tokens attend along T within the window at their own (h, w),
    the class token is global; it shares the block's projections, as a
    pattern gets only projected q/k/v.
"""

import functools

import flax.linen as nn
import jax
import jax.numpy as jnp

from vst.errors import ConfigError
from vst.layers.attention import (Tokens, dot_product_attention,
                                  received_attention, record_attention,
                                  register_pattern)

# VIT_B_VTN.yaml: ATTENTION_WINDOW [18, 18, 18].
ATTENTION_WINDOW = 18


def half_window(attention_window: int, field: str = "model.attention_window"
                ) -> int:
  """The one-sided window w of an even, positive `attention_window`."""
  if attention_window < 2 or attention_window % 2:
    raise ConfigError(
        f"{field}={attention_window} must be an even number ≥ 2: frames see "
        "attention_window / 2 frames on each side (Longformer's convention)")
  return attention_window // 2


def banded_attention(query: jax.Array, key: jax.Array, value: jax.Array,
                     half: int, global_key: jax.Array | None = None,
                     global_value: jax.Array | None = None) -> jax.Array:
  """Each query attends to keys within `half` positions, and global keys.

  Args:
    query: [B, L, N, Dh].
    key: [B, L, N, Dh].
    value: [B, L, N, Dh].
    half: w, the one-sided window.
    global_key: [B, G, N, Dh] keys every query also sees, or None.
    global_value: [B, G, N, Dh], with `global_key`.

  Returns:
    [B, L, N, Dh]; one softmax over the band and the global keys together.
  """
  batch, length, heads, head_dim = query.shape
  chunks = -(-length // half)
  pad = chunks * half - length

  def to_chunks(x, extra=0):  # [B, L, ...] -> [B, chunks + 2·extra, w, ...]
    widths = [(0, 0), (extra * half, pad + extra * half)]
    x = jnp.pad(x, widths + [(0, 0)] * (x.ndim - 2))
    return x.reshape((batch, chunks + 2 * extra, half) + x.shape[2:])

  def neighbours(x):  # chunks m-1, m, m+1 side by side: [B, M, 3w, ...]
    x = to_chunks(x, extra=1)
    return jnp.concatenate([x[:, :-2], x[:, 1:-1], x[:, 2:]], axis=2)

  q, k, v = to_chunks(query), neighbours(key), neighbours(value)
  q_pos = jnp.arange(chunks)[:, None] * half + jnp.arange(half)
  k_pos = jnp.arange(chunks)[:, None] * half - half + jnp.arange(3 * half)
  mask = ((jnp.abs(q_pos[:, :, None] - k_pos[:, None, :]) <= half)
          & ((k_pos >= 0) & (k_pos < length))[:, None, :])  # [M, w, 3w]
  if global_key is not None:
    num_global = global_key.shape[1]
    spread = lambda g: jnp.broadcast_to(
        g[:, None], (batch, chunks) + g.shape[1:])
    k = jnp.concatenate([spread(global_key), k], axis=2)
    v = jnp.concatenate([spread(global_value), v], axis=2)
    mask = jnp.concatenate(
        [jnp.ones((chunks, half, num_global), bool), mask], axis=2)

  # [M, 1, w, ·] broadcasts over [B, M, N, w, ·]: the kernel maps the chunks.
  out = dot_product_attention(q, k, v, mask=mask[:, None])
  return out.reshape(batch, chunks * half, heads, head_dim)[:, :length]


class LongformerSelfAttention(nn.Module):
  """Longformer attention over frames [B, L, D] with one global class token.

  Parameters as HF's `LongformerSelfAttention` plus its output dense:
  `query`, `key`, `value`, `query_global`, `key_global`, `value_global`
  ([D, N, Dh] kernels with bias) and `out` ([N, Dh, D]).

  Attributes:
    num_heads: N.
    attention_window: the full window (18 in VTN), even.
    dtype: compute dtype.
  """
  num_heads: int
  attention_window: int = ATTENTION_WINDOW
  dtype: str = "float32"

  @nn.compact
  def __call__(self, frames: jax.Array, cls: jax.Array
               ) -> tuple[jax.Array, jax.Array]:
    """(frames [B, L, D], cls [B, D]) -> the same shapes."""
    half = half_window(self.attention_window)
    width = frames.shape[-1]
    if width % self.num_heads:
      raise ConfigError(f"model.hidden_size={width} is not divisible by "
                        f"model.temporal_heads={self.num_heads}")
    dtype = jnp.dtype(self.dtype)
    project = lambda name: nn.DenseGeneral(
        (self.num_heads, width // self.num_heads), dtype=dtype, name=name)
    query, key, value = (project(n) for n in ("query", "key", "value"))
    cls_key, cls_value = key(cls)[:, None], value(cls)[:, None]
    local = banded_attention(query(frames), key(frames), value(frames), half,
                             cls_key, cls_value)
    everything = jnp.concatenate([cls[:, None], frames], axis=1)
    global_query = project("query_global")(cls)[:, None]
    global_key = project("key_global")(everything)
    # The [CLS] row over the frames, [B, N, L, 1, 1]: a one-pixel grid.
    record_attention(
        lambda: received_attention(global_query, global_key, True)[
            ..., None, None], pattern="Longformer (sliding window)")
    global_out = dot_product_attention(
        global_query, global_key, project("value_global")(everything))[:, 0]
    out = nn.DenseGeneral(width, axis=(-2, -1), dtype=dtype, name="out")
    return out(local), out(global_out)


def sliding_window_attention(query: Tokens, key: Tokens, value: Tokens, *,
                             attention_window: int = ATTENTION_WINDOW
                             ) -> Tokens:
  """Grid tokens attend along T within the window; the class token is global.

  Args:
    query: Tokens with grid [B, T, H, W, N, Dh] and cls [B, N, Dh] or None.
    key: like `query`.
    value: like `query`.
    attention_window: full window, even; w = attention_window / 2 each side.

  Returns:
    Tokens shaped like `query`.
  """
  half = half_window(attention_window)
  batch, frames, height, width, heads, head_dim = query.grid.shape
  # Every (h, w) location is a sequence of its own: [B·H·W, T, N, Dh].
  along_time = lambda g: jnp.moveaxis(g, 1, 3).reshape(
      batch * height * width, frames, heads, head_dim)
  global_kv = [None, None]
  if query.cls is not None:
    global_kv = [jnp.repeat(t.cls[:, None], height * width, axis=0)
                 for t in (key, value)]
  record_attention(lambda: _received(query, key, half),
                   pattern="sliding_window")
  out = banded_attention(along_time(query.grid), along_time(key.grid),
                         along_time(value.grid), half, *global_kv)
  grid = jnp.moveaxis(out.reshape(batch, height, width, frames, heads,
                                  head_dim), 3, 1)
  cls = None
  if query.cls is not None:
    flat = lambda t: jnp.concatenate(
        [t.cls[:, None], t.grid.reshape(batch, -1, heads, head_dim)], axis=1)
    cls = dot_product_attention(query.cls[:, None], flat(key),
                                flat(value))[:, 0]
  return Tokens(grid, cls)


def _received(query: Tokens, key: Tokens, half: int) -> jax.Array:
  """[B, N, T, H, W] attention received by each key token.

  With a class token, its (global) row over the grid. Without, at each
  (h, w) the mean over the T queries of their banded rows, formed as a T×T
  masked matrix (only when the map is requested): each location's T keys
  sum to 1.
  """
  batch, frames, height, width, heads, head_dim = query.grid.shape
  if query.cls is not None:
    flat = lambda t: jnp.concatenate(
        [t.cls[:, None], t.grid.reshape(batch, -1, heads, head_dim)], axis=1)
    row = received_attention(flat(query)[:, :1], flat(key), True)
    return row.reshape(batch, heads, frames, height, width)
  positions = jnp.arange(frames)
  band = jnp.abs(positions[:, None] - positions[None, :]) <= half
  bias = jnp.where(band, 0.0, -jnp.inf)
  # [B, H, W, N, Tq, Tk] -> mean over queries -> [B, N, T, H, W].
  along_time = lambda g: jnp.moveaxis(g, 1, 3)
  received = received_attention(along_time(query.grid), along_time(key.grid),
                                False, bias)
  return jnp.moveaxis(received, (3, 4), (1, 2))


register_pattern("sliding_window", (("attention", functools.partial(
    sliding_window_attention, attention_window=ATTENTION_WINDOW)),))
