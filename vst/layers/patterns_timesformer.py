"""TimeSformer's space-time attention schemes (Bertasius et al. 2021, Fig. 1).

The paper compares five schemes on one ViT-B backbone. "space" (within each
frame) and "joint" (all T·H·W tokens) are the shared patterns of
`vst.layers.attention`; this file adds the three that split a block's
attention into several stages, each with its own LayerNorm and residual:

  divided              time, then space. TimeSformer's default.
  sparse_local_global  local attention inside the four (T, H/2, W/2)
                       windows, then a sparse global attention over tokens
                       2 apart in T, H and W (8 dilated sub-grids).
  axial                time, then width, then height.

In each of them every stage but the last is new, while the last is the ViT
attention an image checkpoint provides. A new stage ends in an extra
zero-initialised linear layer (the official `temporal_fc`), so that at
initialisation the block computes exactly what the image model does. That
extra layer is what the paper's parameter counts include: 121.4M for divided
(one new stage), 156.8M for axial (two).

A pattern owns only what happens between the q/k/v projections and the shared
output projection, so the extra layer sits just before that projection here,
while the official code puts it just after. Two linear layers in a row compute
the same family of functions either way, and either zero-initialisation makes
the branch start at exactly zero; converting a checkpoint maps the official
projection to our `fc` and the official `temporal_fc` to our `out`
(`vst.models.convert.timesformer_hf`).

The class token skips the temporal stage of "divided" and "axial", as in the
official code: the stage is marked `blocks.without_class_token`, which a
block built with `class_token_skips` honours (as TimeSformer builds it).
Otherwise (ViViT's blocks) it joins the temporal groups like every other
stage.
"""

import functools
import itertools
import math

import flax.linen as nn
import jax
import jax.numpy as jnp

from vst.layers import blocks
from vst.layers.attention import (Mix, Tokens, attend_within,
                                  attention_weights, group_matrix,
                                  received_attention, record_attention,
                                  register_pattern, space_attention,
                                  time_attention, token_positions)


def zero_init_fc(tokens: Tokens, name: str = "fc") -> Tokens:
  """The new stage's extra linear layer over the heads, zero-initialised.

  Called inside a pattern, it is a parameter of the calling
  `MultiHeadAttention` (`<stage>/fc`), applied to the heads' concatenated
  output before the shared output projection.
  """
  heads, head_dim = tokens.grid.shape[-2:]
  fc = nn.DenseGeneral((heads, head_dim), axis=(-2, -1),
                       dtype=tokens.grid.dtype,
                       kernel_init=nn.initializers.zeros, name=name)
  return jax.tree.map(fc, tokens)


def _new_stage(mix: Mix) -> Mix:
  """`mix` followed by `zero_init_fc`: a stage added to the image model."""
  @functools.wraps(mix)
  def new_stage(query: Tokens, key: Tokens, value: Tokens) -> Tokens:
    return zero_init_fc(mix(query, key, value))
  return new_stage


def _width(query: Tokens, key: Tokens, value: Tokens) -> Tokens:
  return attend_within(query, key, value, axes=(3,), pattern="axial")


def _height(query: Tokens, key: Tokens, value: Tokens) -> Tokens:
  return attend_within(query, key, value, axes=(2,), pattern="axial")


def _attend_in_groups(query: Tokens, key: Tokens, value: Tokens,
                      groups: list[tuple[slice, slice, slice]]) -> Tokens:
  """Joint attention inside each sub-grid `grid[:, t, h, w]` of `groups`.

  The sub-grids partition the grid. Each is attended separately (they may
  differ in size when an axis is odd); the class token joins every one and
  its output is their mean, as in `attend_within`. The recorded maps place
  each sub-grid's row back on the grid.
  """
  grid = jnp.zeros_like(query.grid)
  cls_outputs = []
  parts = []
  for index in groups:
    index = (slice(None),) + index
    if query.grid[index].size == 0:  # An axis of size 1 has no second half.
      continue
    part = lambda t: Tokens(t.grid[index], t.cls)
    parts.append((index, part(query), part(key)))
    out = attend_within(part(query), part(key), part(value), axes=(1, 2, 3),
                        record=None)
    grid = grid.at[index].set(out.grid)
    cls_outputs.append(out.cls)
  _record_groups(query, parts)
  cls = None if query.cls is None else jnp.mean(jnp.stack(cls_outputs), 0)
  return Tokens(grid, cls)


def _record_groups(query: Tokens, parts) -> None:
  """Records the sub-grids' attention on the whole grid (see attention.py)."""
  has_cls = query.cls is not None
  batch, heads = query.grid.shape[0], query.grid.shape[4]
  grid_shape = query.grid.shape[1:4]

  def flat(tokens: Tokens) -> jax.Array:  # [B, 1, (1+)S, N, Dh]
    x = tokens.grid.reshape((batch, 1, -1) + tokens.grid.shape[-2:])
    if tokens.cls is None:
      return x
    return jnp.concatenate([tokens.cls[:, None, None], x], axis=2)

  def received():
    out = jnp.zeros((batch, heads) + grid_shape, jnp.float32)
    for index, q, k in parts:
      row = received_attention(flat(q), flat(k), has_cls)[:, 0]
      out = out.at[(slice(None), slice(None)) + index[1:]].set(
          row.reshape((batch, heads) + k.grid.shape[1:4]))
    return out

  def matrix():
    return sum(group_matrix(
        attention_weights(flat(q), flat(k)),
        token_positions(grid_shape, index[1:]), math.prod(grid_shape),
        has_cls, len(parts)) for index, q, k in parts)

  record_attention(received, matrix, pattern="sparse_local_global")
def _halves(n: int) -> tuple[slice, slice]:
  return slice(0, (n + 1) // 2), slice((n + 1) // 2, n)


def local_attention(query: Tokens, key: Tokens, value: Tokens) -> Tokens:
  """Attention among a token's T × H/2 × W/2 neighbours: the grid's four
  spatial quadrants over all frames (halves rounded up for odd sizes)."""
  _, _, h, w = query.grid.shape[:4]
  groups = [(slice(None), rows, cols)
            for rows in _halves(h) for cols in _halves(w)]
  return _attend_in_groups(query, key, value, groups)


def sparse_global_attention(query: Tokens, key: Tokens,
                            value: Tokens) -> Tokens:
  """Attention over the whole clip at a stride of 2 in T, H and W: the 8
  dilated sub-grids of tokens that share (t mod 2, h mod 2, w mod 2)."""
  groups = [tuple(slice(i, None, 2) for i in start)
            for start in itertools.product((0, 1), repeat=3)]
  return _attend_in_groups(query, key, value, groups)


divided_time_attention = blocks.without_class_token(_new_stage(time_attention))
axial_time_attention = divided_time_attention
axial_width_attention = _new_stage(_width)
new_local_attention = _new_stage(local_attention)

register_pattern("divided", (("time_attention", divided_time_attention),
                             ("space_attention", space_attention)))
register_pattern("sparse_local_global",
                 (("local_attention", new_local_attention),
                  ("global_attention", sparse_global_attention)))
register_pattern("axial", (("time_attention", axial_time_attention),
                           ("width_attention", axial_width_attention),
                           ("height_attention", _height)))
