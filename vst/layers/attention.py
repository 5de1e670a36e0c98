"""Multi-head attention over a video token grid, with space-time patterns.

Every video transformer here attends over a grid of tokens `[B, T, H, W, D]`
with class tokens `[B, D]` (or None) carried beside it. What differs between
ViViT, TimeSformer, Swin and friends is which tokens attend to which: the
attention *pattern*. So there is one kernel (`dot_product_attention`), one
module with the q/k/v/out projections (`MultiHeadAttention`), and a pattern is
a small function that only decides the grouping:

  mix(query, key, value) -> output

where each argument is `Tokens(grid [B, T, H, W, N, Dh], cls [B, N, Dh] | None)`,
i.e. already projected and split into N heads. A pattern that needs parameters
of its own (a relative position bias, pooling convs) may create them inline:
it runs inside `MultiHeadAttention`'s compact call.

A named pattern (`get_pattern`) is a tuple of stages. The encoder block gives
each stage its own LayerNorm, attention module and residual, which is how ViViT
model 3 ("factorized_self": spatial MSA, residual, temporal MSA, residual) and
TimeSformer's divided attention differ from a single-stage pattern. Adding a
pattern is one function and one `register_pattern(name, stages)` call, here
or in the model family's `vst/layers/patterns_<family>.py` (found by name:
nothing else lists it).

Attention maps. The fused kernel never exposes its weights, so a pattern
describes them on request: it calls `record_attention` with closures that
recompute them, and they run only when the caller applied the model with the
collection "attention" (and/or "attention_matrix") mutable. Otherwise nothing
is computed, no parameter appears and the outputs are bitwise those of the
kernel. What is recorded:

  "attention"         `received`: [B, N, T', H', W'] float32, the attention
                      each key token on the key grid receives: the class
                      token's row where the query has one, else the mean over
                      the queries of its group; a group's row is placed back
                      on the grid (so each group sums to 1 without a class
                      token, to 1 minus the class token's self-attention
                      with one).
  "attention_matrix"  `matrix`: [B, N, L, L] float32, the full token-to-token
                      matrix over L = [cls] + T·H·W tokens in (T, H, W)
                      order, for patterns where that matrix exists (for
                      attention rollout); requesting it from any other
                      pattern raises `RolloutUndefinedError`.

A stage that records more than one map (ViViT model 4's two halves of the
heads) names each; the default name is `WEIGHTS`.
"""

import math
from typing import Callable, NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from vst.errors import ConfigError
from vst.layers import attention_kernels
from vst.layers.attention_kernels import (IMPLEMENTATIONS, attention_choices,
                                          attention_implementation,
                                          choose_implementation,
                                          uses_attention_impl)
from vst.registry import PackageModules, Registry

_GRID_AXES = (1, 2, 3)  # T, H, W of a [B, T, H, W, ...] grid.

# Collections and the names sown into them.
ATTENTION = "attention"
ATTENTION_MATRIX = "attention_matrix"
RECEIVED = "received"
MATRIX = "matrix"
WEIGHTS = "weights"  # The recorder module of a stage with one map.


class Tokens(NamedTuple):
  """A token grid and the class tokens carried beside it.

  Attributes:
    grid: [B, T, H, W, ...] tokens on the space-time grid.
    cls: [B, ...] class tokens with the same trailing shape, or None.
  """
  grid: jax.Array
  cls: jax.Array | None = None


Mix = Callable[[Tokens, Tokens, Tokens], Tokens]


class RolloutUndefinedError(ValueError):
  """The full token-to-token matrix was requested from a pattern without one."""


class AttentionRecorder(nn.Module):
  """Sows attention maps into their collections, only where they are mutable.

  A module without parameters, created inside a pattern (so inside the
  calling `MultiHeadAttention`), because only a module can ask whether a
  collection is mutable and `sow` into it. `init` never records: the
  variables it returns stay exactly the model's.
  """

  @nn.compact
  def __call__(self, received: Callable[[], jax.Array],
               matrix: Callable[[], jax.Array] | None, pattern: str) -> None:
    if self.is_initializing():
      return
    if self.is_mutable_collection(ATTENTION):
      self.sow(ATTENTION, RECEIVED, received().astype(jnp.float32))
    if self.is_mutable_collection(ATTENTION_MATRIX):
      if matrix is None:
        raise RolloutUndefinedError(
            f"attention rollout is undefined for the {pattern} pattern: its "
            "attention is not one token-to-token matrix over the same tokens "
            "in every layer; record \"attention\" alone")
      self.sow(ATTENTION_MATRIX, MATRIX, matrix().astype(jnp.float32))


def record_attention(received: Callable[[], jax.Array],
                     matrix: Callable[[], jax.Array] | None = None, *,
                     pattern: str, name: str = WEIGHTS) -> None:
  """Records a pattern's attention maps when the caller asked for them.

  Call it inside a pattern. The closures run only when their collection is
  mutable, so an unrequested map costs nothing, even un-jitted.

  Args:
    received: () -> [B, N, T', H', W'], the attention received per key token.
    matrix: () -> [B, N, L, L], the full matrix over [cls] + T·H·W tokens;
      None where the pattern has none (rollout is then undefined).
    pattern: the pattern's name, for the error when `matrix` is None.
    name: the recorder's name, unique within the stage.
  """
  recorder = AttentionRecorder(name=name)
  if recorder.scope is None:  # A pattern called outside any module: no maps.
    return
  recorder(received, matrix, pattern)


def attention_weights(query: jax.Array, key: jax.Array,
                      bias: jax.Array | None = None) -> jax.Array:
  """softmax(q kᵀ / √Dh + bias) in float32, the weights the kernel applies.

  Args:
    query: [..., L, N, Dh].
    key: [..., S, N, Dh].
    bias: broadcastable to [..., N, L, S], or None.

  Returns:
    [..., N, L, S].
  """
  scale = 1.0 / math.sqrt(query.shape[-1])
  logits = jnp.einsum("...lnd,...snd->...nls", query.astype(jnp.float32),
                      key.astype(jnp.float32)) * scale
  if bias is not None:
    logits = logits + bias.astype(jnp.float32)
  return jax.nn.softmax(logits, axis=-1)


def received_attention(query: jax.Array, key: jax.Array, has_cls: bool,
                       bias: jax.Array | None = None) -> jax.Array:
  """[..., N, S'] attention received by each non-class key.

  With a class token (first of L and of S) it is the class token's row
  without its own column; only that row is computed. Without one it is the
  mean over the L queries.
  """
  if has_cls:
    if bias is not None:
      bias = bias[..., :1, :]
    return attention_weights(query[..., :1, :, :], key, bias)[..., 0, 1:]
  return attention_weights(query, key, bias).mean(axis=-2)


def token_positions(grid_shape: tuple[int, int, int],
                    index=(slice(None),) * 3,
                    axes: tuple[int, ...] | None = None) -> np.ndarray:
  """Flat (T, H, W)-order positions of grid tokens, group by group.

  Args:
    grid_shape: (T, H, W).
    index: a sub-grid (tuple of slices) to take the tokens of.
    axes: grid axes (1=T, 2=H, 3=W) of `attend_within`'s groups, which then
      split the sub-grid; None for one group.

  Returns:
    [G, S] int positions: row g lists group g's tokens in the order the
    pattern attends them.
  """
  flat = np.arange(math.prod(grid_shape)).reshape(grid_shape)[index]
  if axes is None:
    return flat.reshape(1, -1)
  group_axes = tuple(a for a in _GRID_AXES if a not in axes)
  flat = np.transpose(flat, [a - 1 for a in (*group_axes, *axes)])
  groups = math.prod(flat.shape[:len(group_axes)])
  return flat.reshape(groups, -1)


def group_matrix(weights: jax.Array, positions: np.ndarray, num_tokens: int,
                 has_cls: bool, num_groups: int) -> jax.Array:
  """Groups' attention scattered into the full [B, N, L, L] matrix.

  A grid token's row holds its group's weights; the class token's output is
  the mean over all `num_groups` groups, so its row gets each group's class
  row divided by that count (summing the results of several calls, one per
  group set, assembles it).

  Args:
    weights: [B, G, N, (1+)S, (1+)S] per-group weights, class token first.
    positions: [G, S] flat grid positions of the groups' tokens.
    num_tokens: T·H·W.
    has_cls: whether the first row/column is the class token.
    num_groups: groups the class token's output is averaged over.

  Returns:
    [B, N, L, L] with L = (1 +) T·H·W.
  """
  batch, _, heads = weights.shape[:3]
  offset = int(has_cls)
  size = num_tokens + offset
  pos = jnp.asarray(positions) + offset
  out = jnp.zeros((batch, heads, size, size), jnp.float32)
  grid = jnp.moveaxis(weights[..., offset:, offset:], 2, 1)  # [B, N, G, S, S]
  out = out.at[:, :, pos[:, :, None], pos[:, None, :]].set(grid)
  if not has_cls:
    return out
  cls_row = jnp.moveaxis(weights[..., 0, :], 2, 1) / num_groups  # [B,N,G,1+S]
  out = out.at[:, :, 0, 0].add(cls_row[..., 0].sum(axis=-1))
  out = out.at[:, :, 0, pos].add(cls_row[..., 1:])
  return out.at[:, :, pos, 0].set(jnp.moveaxis(weights[..., 1:, 0], 2, 1))


def dot_product_attention(query: jax.Array, key: jax.Array, value: jax.Array,
                          *, bias: jax.Array | None = None,
                          mask: jax.Array | None = None,
                          implementation: str | None = None) -> jax.Array:
  """softmax(q kᵀ / √Dh + bias) v per head: the one attention kernel of vst.

  Which implementation runs (XLA, blockwise, cuDNN, splash; see
  `vst.layers.attention_kernels`) is `implementation`, or else the one set
  around the model with `attention_implementation(name)`, `auto` by
  default; patterns never choose. `auto` on CPU runs
  `jax.nn.dot_product_attention(implementation=None)` below
  `BLOCKWISE_MIN_LOGITS`, as vst always has. Leading axes are folded into
  one batch axis, or mapped where the bias or mask varies along them. There
  is no dropout on the attention weights, hence neither do our models.

  Args:
    query: [..., L, N, Dh] queries.
    key: [..., S, N, Dh] keys.
    value: [..., S, N, Dh] values.
    bias: added to the logits, broadcastable to [..., N, L, S]; or None.
    mask: bool, broadcastable to [..., N, L, S], False where a query must
      not see a key; or None.
    implementation: one of `IMPLEMENTATIONS`; None for the one in force.

  Returns:
    [..., L, N, Dh].
  """
  return attention_kernels.attend(query, key, value, bias=bias, mask=mask,
                                  implementation=implementation)


def attend_within(query: Tokens, key: Tokens, value: Tokens,
                  axes: tuple[int, ...], *, record: str | None = WEIGHTS,
                  pattern: str = "joint", has_matrix: bool = True) -> Tokens:
  """Attention among grid tokens that share every index outside `axes`.

  The grid splits into groups (e.g. one per frame for axes=(2, 3)); tokens
  attend within their group only. The class token joins every group as one
  more token and its output is the mean over groups, as TimeSformer does for
  its spatial attention; with one group (joint attention) that is exact
  standard attention over [cls, grid].

  Args:
    query: Tokens with grid [B, T, H, W, N, Dh] and cls [B, N, Dh] or None.
    key: like `query`.
    value: like `query`.
    axes: grid axes (1=T, 2=H, 3=W) attended across.
    record: recorder name for `record_attention`, or None not to record
      (a caller that records the groups itself).
    pattern: the calling pattern's name, for errors.
    has_matrix: whether the full matrix exists (False where the query and
      key grids differ, as with pooled keys).

  Returns:
    Tokens shaped like `query`.
  """
  group_axes = tuple(a for a in _GRID_AXES if a not in axes)
  perm = (0, *group_axes, *axes, 4, 5)
  grouped_shape = jnp.transpose(query.grid, perm).shape
  batch = grouped_shape[0]
  groups = math.prod(grouped_shape[1:1 + len(group_axes)])

  def to_groups(tokens: Tokens) -> jax.Array:  # -> [B, G, (1+)S, N, Dh]
    x = jnp.transpose(tokens.grid, perm)
    x = x.reshape((batch, groups, -1) + x.shape[-2:])
    if tokens.cls is None:
      return x
    cls = jnp.broadcast_to(tokens.cls[:, None, None],
                           (batch, groups, 1) + tokens.cls.shape[1:])
    return jnp.concatenate([cls, x], axis=2)

  grouped_q, grouped_k = to_groups(query), to_groups(key)
  if record is not None:
    has_cls = query.cls is not None
    key_shape = key.grid.shape[1:4]
    received = lambda: _ungroup(
        received_attention(grouped_q, grouped_k, has_cls), key_shape, axes)
    matrix = None
    if has_matrix:
      matrix = lambda: group_matrix(
          attention_weights(grouped_q, grouped_k),
          token_positions(key_shape, axes=axes), math.prod(key_shape),
          has_cls, groups)
    record_attention(received, matrix, pattern=pattern, name=record)
  out = dot_product_attention(grouped_q, grouped_k, to_groups(value))
  cls = None
  if query.cls is not None:
    cls, out = out[:, :, 0].mean(axis=1), out[:, :, 1:]
  grid = jnp.transpose(out.reshape(grouped_shape), _inverse(perm))
  return Tokens(grid, cls)


def _ungroup(received: jax.Array, grid_shape: tuple[int, int, int],
             axes: tuple[int, ...]) -> jax.Array:
  """[B, G, N, S] per-group received attention -> [B, N, T, H, W]."""
  group_axes = tuple(a for a in _GRID_AXES if a not in axes)
  order = (*group_axes, *axes)
  x = jnp.moveaxis(received, 2, 1)
  x = x.reshape(x.shape[:2] + tuple(grid_shape[a - 1] for a in order))
  return jnp.transpose(x, (0, 1) + tuple(
      2 + i for i in _inverse(tuple(a - 1 for a in order))))


def _inverse(perm: tuple[int, ...]) -> tuple[int, ...]:
  inverse = [0] * len(perm)
  for i, p in enumerate(perm):
    inverse[p] = i
  return tuple(inverse)


# --- Patterns: how the heads group the grid ---------------------------------


def joint_attention(query: Tokens, key: Tokens, value: Tokens) -> Tokens:
  """Every token attends to all T·H·W tokens and the class token (ViViT 1)."""
  return attend_within(query, key, value, axes=(1, 2, 3), pattern="joint")


def space_attention(query: Tokens, key: Tokens, value: Tokens) -> Tokens:
  """Tokens attend within their own frame."""
  return attend_within(query, key, value, axes=(2, 3), pattern="space")


def time_attention(query: Tokens, key: Tokens, value: Tokens) -> Tokens:
  """Tokens attend across time at their own spatial location."""
  return attend_within(query, key, value, axes=(1,), pattern="time")


def factorized_dot_attention(query: Tokens, key: Tokens,
                             value: Tokens) -> Tokens:
  """ViViT model 4: half the heads attend across time, half within the frame.

  The first half of the heads is temporal and the second spatial, the order of
  Scenic's `factorized_dot_product_attention`, so its checkpoints load as they
  are. The halves are concatenated back before the shared output projection.
  """
  num_heads = query.grid.shape[-2]
  if num_heads % 2:
    raise ConfigError(
        f"model.num_heads={num_heads} must be even for factorized_dot "
        "attention: half the heads attend in time, half in space")
  half = lambda i: [jax.tree.map(lambda x: jnp.split(x, 2, axis=-2)[i], t)
                    for t in (query, key, value)]
  # Each half records its own map, named after it: [B, N/2, T, H, W] each.
  temporal = attend_within(*half(0), axes=(1,), record="time_heads",
                           pattern="factorized_dot")
  spatial = attend_within(*half(1), axes=(2, 3), record="space_heads",
                          pattern="factorized_dot")
  return jax.tree.map(lambda a, b: jnp.concatenate([a, b], axis=-2),
                      temporal, spatial)


# Name -> stages as (stage name, mix). The stage name names the block's
# parameters: "attention" for one stage, "<axis>_attention" for several. The
# patterns of a model family live in `vst/layers/patterns_<family>.py`, which
# the registry imports the first time a pattern is looked up.
PATTERNS: Registry[tuple[tuple[str, Mix], ...]] = Registry(
    "attention pattern", "model.attention",
    PackageModules("vst.layers", prefix="patterns_"))


def register_pattern(name: str, stages: tuple[tuple[str, Mix], ...], *,
                     builtin: bool = True) -> None:
  """Adds pattern `name`: its (stage name, mix) stages, in order.

  vst's own patterns are defined here or in a `vst/layers/patterns_*.py`
  file that calls this on import. A study, notebook or test that adds a
  pattern passes `builtin=False`, so `builtin_pattern_names` stays the list
  the attention-map tests cover.
  """
  PATTERNS.register(name, tuple(stages), builtin=builtin)


register_pattern("joint", (("attention", joint_attention),))
register_pattern("space", (("attention", space_attention),))
register_pattern("time", (("attention", time_attention),))
# ViViT model 3: spatial MSA then temporal MSA, each with its own residual.
register_pattern("factorized_self", (("space_attention", space_attention),
                                     ("time_attention", time_attention)))
register_pattern("factorized_dot", (("attention", factorized_dot_attention),))


def pattern_names() -> list[str]:
  return PATTERNS.names()


def builtin_pattern_names() -> list[str]:
  """The patterns vst defines, without those a study or notebook added."""
  return PATTERNS.builtin_names()


def get_pattern(name: str, field: str = "model.attention"
                ) -> tuple[tuple[str, Mix], ...]:
  """The stages of pattern `name`; ConfigError naming `field` if unknown."""
  return PATTERNS.get(name, field)


class MultiHeadAttention(nn.Module):
  """q/k/v projections, a pattern's mixing, and the output projection.

  Projections are DenseGeneral as in flax's MultiHeadDotProductAttention
  (`query/kernel` [D, N, Dh], `out/kernel` [N, Dh, D]), so Scenic checkpoints
  map one to one and HF's q/k/v/o Linear layers by a reshape.

  Attributes:
    num_heads: N; must divide the token width D.
    mix: the pattern stage, e.g. `joint_attention`.
    dtype: compute dtype; parameters stay float32.
    kernel_init: of the four projections (Xavier uniform as in flax and
      Scenic; Swin, MViT and UniFormer use truncated normal 0.02).
  """
  num_heads: int
  mix: Mix = joint_attention
  dtype: str = "float32"
  kernel_init: Callable = nn.initializers.xavier_uniform()

  @nn.compact
  def __call__(self, tokens: Tokens) -> Tokens:
    """Attention over `tokens` (grid [B, T, H, W, D], cls [B, D] or None)."""
    width = tokens.grid.shape[-1]
    if width % self.num_heads:
      raise ConfigError(f"model.hidden_size={width} is not divisible by "
                        f"model.num_heads={self.num_heads}")
    dtype = jnp.dtype(self.dtype)
    project = lambda name: nn.DenseGeneral(
        (self.num_heads, width // self.num_heads), dtype=dtype,
        kernel_init=self.kernel_init, name=name)
    query, key, value = (jax.tree.map(project(name), tokens)
                         for name in ("query", "key", "value"))
    out = nn.DenseGeneral(width, axis=(-2, -1), dtype=dtype,
                          kernel_init=self.kernel_init, name="out")
    return jax.tree.map(out, self.mix(query, key, value))
