"""One residual block around token mixers, and the drop-path schedule.

Every transformer block of vst is a sequence of residual sub-layers,

  pre-norm   tokens + drop_path(dropout(mixer(norm(tokens))))
  post-norm  norm(tokens + dropout(mixer(tokens)))

where the mixer of the last sub-layer is usually the MLP. What the papers
vary is the mixer: a registered attention pattern (one sub-layer per stage,
`vst.layers.transformer`), Swin's shifted windows (`swin_blocks`), MViT's
pooling attention with its pooled shortcut (`multiscale_block`), UniFormer's
local MHRA with BatchNorm (`mhra`). So `Block` knows none of them: a
`Sublayer` carries its mixer and what the block must do around it.

Tokens travel as `Tokens(grid [B, T, H, W, D], cls [B, D] | None)`, and every
per-token op is mapped over both, so class tokens never need splicing.
"""

import dataclasses
from typing import Callable

import flax.linen as nn
import jax
import jax.numpy as jnp

from vst.layers.attention import Mix, MultiHeadAttention, Tokens

# A mixer runs inside the block: `build(name)` creates its modules there (so
# they are the block's children, named `name`) and returns
# (normed tokens, train) -> tokens.
MixerBuilder = Callable[[str], Callable[[Tokens, bool], Tokens]]

# The attribute a pattern stage carries when the class token sits it out.
_SKIPS_CLASS_TOKEN = "skips_class_token"


def without_class_token(mix: Mix) -> Mix:
  """`mix`, marked as a stage the class token does not take part in.

  TimeSformer's temporal stage is one: in the official code the class token
  skips it. A block built with `class_token_skips` honours the mark.
  """
  def marked(query: Tokens, key: Tokens, value: Tokens) -> Tokens:
    return mix(query, key, value)
  setattr(marked, _SKIPS_CLASS_TOKEN, True)
  return marked


def skips_class_token(mix: Mix) -> bool:
  """Whether pattern stage `mix` is marked by `without_class_token`."""
  return getattr(mix, _SKIPS_CLASS_TOKEN, False)


def drop_path(tokens: Tokens, rate: float, rng: jax.Array) -> Tokens:
  """Stochastic depth: zeroes a residual branch per example, rescales the rest.

  One draw per example covers its grid and its class token, since they are
  one branch.
  """
  keep = jax.random.bernoulli(rng, 1.0 - rate, (tokens.grid.shape[0],))

  def apply(x):
    mask = keep.reshape((-1,) + (1,) * (x.ndim - 1))
    return jnp.where(mask, x / (1.0 - rate), jnp.zeros_like(x))

  return jax.tree.map(apply, tokens)


def drop_path_rates(rate: float, depth: int) -> list[float]:
  """Stochastic depth per block, rising linearly from 0 to `rate` at the
  last of `depth` blocks (Scenic's ViViT, Swin, MViT, UniFormer)."""
  return [rate * i / max(depth - 1, 1) for i in range(depth)]


@dataclasses.dataclass(frozen=True)
class Sublayer:
  """One residual branch of a `Block`.

  Attributes:
    name: the mixer's name (its parameters'), e.g. "attention", "mlp".
    norm_name: the name of the norm before (pre-norm) or after it.
    build: see `MixerBuilder`.
    skips_class_token: the class token passes this branch unchanged.
    shortcut: (tokens, normed tokens) -> the residual path, where it is not
      the identity (MViT pools it, or projects it to a new width).
  """
  name: str
  norm_name: str
  build: MixerBuilder
  skips_class_token: bool = False
  shortcut: Callable[[Tokens, Tokens], Tokens] | None = None


class Mlp(nn.Module):
  """Dense → GELU → dropout → Dense → dropout, token-wise.

  Attributes:
    mlp_dim: hidden width.
    dropout_rate: dropout after each Dense.
    gelu_approximate: tanh GELU (Scenic, big_vision, HF ViViT's "gelu_fast")
      or the exact erf GELU.
    dtype: compute dtype.
    kernel_init: of both Dense layers (Xavier uniform as in Scenic).
    out_features: output width; None keeps the input's (MViT's last block
      of a stage widens the channels here).
  """
  mlp_dim: int
  dropout_rate: float = 0.0
  gelu_approximate: bool = True
  dtype: str = "float32"
  kernel_init: Callable = nn.initializers.xavier_uniform()
  out_features: int | None = None

  @nn.compact
  def __call__(self, x: jax.Array, *, train: bool) -> jax.Array:
    dtype = jnp.dtype(self.dtype)
    dense = lambda features, name: nn.Dense(
        features, dtype=dtype, kernel_init=self.kernel_init, name=name)
    y = dense(self.mlp_dim, "fc1")(x)
    y = nn.gelu(y, approximate=self.gelu_approximate)
    y = nn.Dropout(self.dropout_rate)(y, deterministic=not train)
    y = dense(self.out_features or x.shape[-1], "fc2")(y)
    return nn.Dropout(self.dropout_rate)(y, deterministic=not train)


def mlp_sublayer(mlp_dim: int, *, dropout_rate: float = 0.0,
                 gelu_approximate: bool = True, dtype: str = "float32",
                 kernel_init: Callable = nn.initializers.xavier_uniform(),
                 out_features: int | None = None, name: str = "mlp",
                 norm_name: str = "mlp_norm",
                 shortcut: Callable[[Tokens, Tokens], Tokens] | None = None
                 ) -> Sublayer:
  """The MLP branch (`Mlp`, applied to the grid and the class token)."""
  def build(module_name):
    mlp = Mlp(mlp_dim, dropout_rate, gelu_approximate, dtype=dtype,
              kernel_init=kernel_init, out_features=out_features,
              name=module_name)
    return lambda tokens, train: jax.tree.map(
        lambda x: mlp(x, train=train), tokens)
  return Sublayer(name, norm_name, build, shortcut=shortcut)


def attention_sublayer(name: str, norm_name: str, num_heads: int, mix: Mix,
                       *, dtype: str = "float32",
                       kernel_init: Callable = nn.initializers.xavier_uniform(),
                       skips_class_token: bool = False,
                       shortcut: Callable[[Tokens, Tokens], Tokens] | None = None
                       ) -> Sublayer:
  """A branch of multi-head attention whose heads `mix` groups the tokens."""
  def build(module_name):
    attend = MultiHeadAttention(num_heads, mix, dtype=dtype,
                                kernel_init=kernel_init, name=module_name)
    return lambda tokens, train: attend(tokens)
  return Sublayer(name, norm_name, build, skips_class_token, shortcut)


def layer_norm(eps: float, dtype: str) -> Callable[..., nn.Module]:
  """The norm factory of a LayerNorm block: name -> nn.LayerNorm."""
  return lambda name: nn.LayerNorm(eps, dtype=jnp.dtype(dtype), name=name)


class Block(nn.Module):
  """Residual sub-layers in order, on (grid [B, T, H, W, D], cls [B, D] | None).

  Attributes:
    sublayers: the branches, e.g. attention stages then the MLP.
    norm: name -> the norm module of a branch (`layer_norm`, or a BatchNorm).
    dropout_rate: dropout on each branch's output.
    drop_path_rate: probability of dropping each branch (train only).
    post_norm: norm after the residual add (BERT, VTN's Longformer) rather
      than before the mixer.
  """
  sublayers: tuple[Sublayer, ...]
  norm: Callable[..., nn.Module]
  dropout_rate: float = 0.0
  drop_path_rate: float = 0.0
  post_norm: bool = False

  @nn.compact
  def __call__(self, grid: jax.Array, cls: jax.Array | None,
               train: bool) -> tuple[jax.Array, jax.Array | None]:
    """Applies the block.

    `train` is positional (not keyword-only) so that `nn.remat` can mark it
    static.

    Args:
      grid: [B, T, H, W, D] tokens.
      cls: [B, D] class tokens, or None.
      train: enables dropout and drop path (rng collection "dropout").

    Returns:
      (grid, cls); the grid may be pooled and widened by a sub-layer.
    """
    for sublayer in self.sublayers:
      if sublayer.skips_class_token and cls is not None:
        grid = self._residual(sublayer, Tokens(grid), train).grid
      else:
        grid, cls = self._residual(sublayer, Tokens(grid, cls), train)
    return grid, cls

  def _residual(self, sublayer: Sublayer, tokens: Tokens,
                train: bool) -> Tokens:
    norm = self.norm(sublayer.norm_name)
    normed = tokens if self.post_norm else jax.tree.map(norm, tokens)
    y = sublayer.build(sublayer.name)(normed, train)
    y = jax.tree.map(
        lambda x: nn.Dropout(self.dropout_rate)(x, deterministic=not train), y)
    if train and self.drop_path_rate > 0:
      y = drop_path(y, self.drop_path_rate, self.make_rng("dropout"))
    if sublayer.shortcut is not None:
      tokens = sublayer.shortcut(tokens, normed)
    out = jax.tree.map(jnp.add, tokens, y)
    return jax.tree.map(norm, out) if self.post_norm else out
