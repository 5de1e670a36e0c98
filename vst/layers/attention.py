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
pattern is one function and one line in `_PATTERNS`.
"""

import importlib
import math
import pkgutil
from typing import Callable, NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp

from vst.errors import ConfigError, check_choice

_GRID_AXES = (1, 2, 3)  # T, H, W of a [B, T, H, W, ...] grid.


class Tokens(NamedTuple):
  """A token grid and the class tokens carried beside it.

  Attributes:
    grid: [B, T, H, W, ...] tokens on the space-time grid.
    cls: [B, ...] class tokens with the same trailing shape, or None.
  """
  grid: jax.Array
  cls: jax.Array | None = None


Mix = Callable[[Tokens, Tokens, Tokens], Tokens]


def dot_product_attention(query: jax.Array, key: jax.Array,
                          value: jax.Array) -> jax.Array:
  """softmax(q kᵀ / √Dh) v per head: the one attention kernel of vst.

  `jax.nn.dot_product_attention` with `implementation=None` picks XLA on
  CPU/TPU and cuDNN's fused (flash) kernel on GPU where it applies. It takes a
  single batch axis, so leading axes are folded into one. It has no dropout on
  the attention weights, hence neither do our models.

  Args:
    query: [..., L, N, Dh] queries.
    key: [..., S, N, Dh] keys.
    value: [..., S, N, Dh] values.

  Returns:
    [..., L, N, Dh].
  """
  batch_shape = query.shape[:-3]
  fold = lambda x: x.reshape((-1,) + x.shape[-3:])
  out = jax.nn.dot_product_attention(fold(query), fold(key), fold(value),
                                     implementation=None)
  return out.reshape(batch_shape + out.shape[1:])


def attend_within(query: Tokens, key: Tokens, value: Tokens,
                  axes: tuple[int, ...]) -> Tokens:
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

  out = dot_product_attention(to_groups(query), to_groups(key),
                              to_groups(value))
  cls = None
  if query.cls is not None:
    cls, out = out[:, :, 0].mean(axis=1), out[:, :, 1:]
  grid = jnp.transpose(out.reshape(grouped_shape), _inverse(perm))
  return Tokens(grid, cls)


def _inverse(perm: tuple[int, ...]) -> tuple[int, ...]:
  inverse = [0] * len(perm)
  for i, p in enumerate(perm):
    inverse[p] = i
  return tuple(inverse)


# --- Patterns: how the heads group the grid ---------------------------------


def joint_attention(query: Tokens, key: Tokens, value: Tokens) -> Tokens:
  """Every token attends to all T·H·W tokens and the class token (ViViT 1)."""
  return attend_within(query, key, value, axes=(1, 2, 3))


def space_attention(query: Tokens, key: Tokens, value: Tokens) -> Tokens:
  """Tokens attend within their own frame."""
  return attend_within(query, key, value, axes=(2, 3))


def time_attention(query: Tokens, key: Tokens, value: Tokens) -> Tokens:
  """Tokens attend across time at their own spatial location."""
  return attend_within(query, key, value, axes=(1,))


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
  temporal = time_attention(*half(0))
  spatial = space_attention(*half(1))
  return jax.tree.map(lambda a, b: jnp.concatenate([a, b], axis=-2),
                      temporal, spatial)


# Name -> stages as (stage name, mix). The stage name names the block's
# parameters: "attention" for one stage, "<axis>_attention" for several.
_PATTERNS: dict[str, tuple[tuple[str, Mix], ...]] = {
    "joint": (("attention", joint_attention),),
    "space": (("attention", space_attention),),
    "time": (("attention", time_attention),),
    # ViViT model 3: spatial MSA then temporal MSA, each with its own residual.
    "factorized_self": (("space_attention", space_attention),
                        ("time_attention", time_attention)),
    "factorized_dot": (("attention", factorized_dot_attention),),
}


def register_pattern(name: str, stages: tuple[tuple[str, Mix], ...]) -> None:
  """Adds pattern `name`: its (stage name, mix) stages, in order.

  Patterns of a model family may live in their own `vst/layers/patterns_*.py`
  file that calls this on import; `get_pattern` imports those files.
  """
  if name in _PATTERNS:
    raise ValueError(f"attention pattern {name!r} registered twice")
  _PATTERNS[name] = tuple(stages)


_pattern_files_loaded = False


def _load_pattern_files() -> None:
  global _pattern_files_loaded
  if _pattern_files_loaded:
    return
  _pattern_files_loaded = True
  package = importlib.import_module("vst.layers")
  for info in pkgutil.iter_modules(package.__path__):
    if info.name.startswith("patterns_"):
      importlib.import_module(f"vst.layers.{info.name}")


def pattern_names() -> list[str]:
  _load_pattern_files()
  return sorted(_PATTERNS)


def get_pattern(name: str, field: str = "model.attention"
                ) -> tuple[tuple[str, Mix], ...]:
  """The stages of pattern `name`; ConfigError naming `field` if unknown."""
  check_choice(field, name, pattern_names())
  return _PATTERNS[name]


class MultiHeadAttention(nn.Module):
  """q/k/v projections, a pattern's mixing, and the output projection.

  Projections are DenseGeneral as in flax's MultiHeadDotProductAttention
  (`query/kernel` [D, N, Dh], `out/kernel` [N, Dh, D]), so Scenic checkpoints
  map one to one and HF's q/k/v/o Linear layers by a reshape.

  Attributes:
    num_heads: N; must divide the token width D.
    mix: the pattern stage, e.g. `joint_attention`.
    dtype: compute dtype; parameters stay float32.
  """
  num_heads: int
  mix: Mix = joint_attention
  dtype: str = "float32"

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
        kernel_init=nn.initializers.xavier_uniform(), name=name)
    query, key, value = (jax.tree.map(project(name), tokens)
                         for name in ("query", "key", "value"))
    out = nn.DenseGeneral(width, axis=(-2, -1), dtype=dtype,
                          kernel_init=nn.initializers.xavier_uniform(),
                          name="out")
    return jax.tree.map(out, self.mix(query, key, value))
