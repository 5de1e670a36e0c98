"""Two-stream fusion operators (Feichtenhofer et al. 2016) and score fusion.

Feature fusion of an appearance map a and a motion map b, both [N, h, w, C]
at the same layer of two towers:

  sum        a + b
  max        max(a, b)
  concat     [a, b] on channels (2C; the next layer learns the mix)
  conv       [a, b] then a 1×1 conv 2C -> C, initialised to a + b (the paper
             initialises the filter as two stacked identity matrices)
  bilinear   Σ over locations of the outer product a bᵀ, flattened to C² and
             signed-square-root / L2 normalised; a vector, so only the
             classifier can follow it

`Fusion3D` is the paper's spatio-temporal fusion: the fused maps of T frames
are stacked in time, a 3×3×3 conv mixes them (2C -> C for a concatenation),
and a 3D max pool over all T frames and 2×2 pixels replaces the tower's pool5.

Score fusion (Simonyan and Zisserman 2014), on per-stream logits:

  average    the mean of the streams' softmax scores (returned as its log, so
             it is a proper log-probability to train and evaluate)
  linear     a learned linear layer on the streams' L2-normalised softmax
             scores, the paper's linear SVM trained on those scores
"""

import flax.linen as nn
import jax
import jax.numpy as jnp

from vst.errors import check_choice

FEATURE_FUSIONS = ("sum", "max", "concat", "conv", "bilinear")
SCORE_FUSIONS = ("average", "linear")


def _sum_init(key, shape, dtype=jnp.float32):
  """1×1 conv kernel [1, 1, 2C, C] = [I; I]: the conv starts as a + b."""
  del key
  channels = shape[-1]
  eye = jnp.eye(channels, dtype=dtype)
  return jnp.concatenate([eye, eye], axis=0).reshape(shape)


def bilinear_pool(a: jax.Array, b: jax.Array) -> jax.Array:
  """Σ_locations a bᵀ of [N, h, w, C] maps, flattened and normalised: [N, C²]."""
  n = a.shape[0]
  a = a.reshape((n, -1, a.shape[-1])).astype(jnp.float32)
  b = b.reshape((n, -1, b.shape[-1])).astype(jnp.float32)
  x = jnp.einsum("nlc,nld->ncd", a, b).reshape((n, -1))
  x = jnp.sign(x) * jnp.sqrt(jnp.abs(x) + 1e-12)
  return x / (jnp.linalg.norm(x, axis=-1, keepdims=True) + 1e-12)


class FeatureFusion(nn.Module):
  """One of FEATURE_FUSIONS on two [N, h, w, C] maps."""
  kind: str
  dtype: str = "float32"

  @nn.compact
  def __call__(self, a: jax.Array, b: jax.Array) -> jax.Array:
    check_choice("model.fusion", self.kind, FEATURE_FUSIONS)
    if self.kind == "sum":
      return a + b
    if self.kind == "max":
      return jnp.maximum(a, b)
    if self.kind == "bilinear":
      return bilinear_pool(a, b)
    x = jnp.concatenate([a, b], axis=-1)
    if self.kind == "concat":
      return x
    return nn.Conv(a.shape[-1], (1, 1), kernel_init=_sum_init,
                   dtype=jnp.dtype(self.dtype), name="conv")(x)


class Fusion3D(nn.Module):
  """[B, T, h, w, C_in] fused maps -> [B, h/2, w/2, features].

  Attributes:
    features: output channels of the 3×3×3 conv (512 for VGG-16).
    pool: spatial window and stride of the 3D max pool (pool5's 2).
  """
  features: int
  pool: int = 2
  dtype: str = "float32"

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    x = nn.Conv(self.features, (3, 3, 3), padding="SAME",
                kernel_init=nn.initializers.he_normal(),
                dtype=jnp.dtype(self.dtype), name="conv3d")(x)
    x = nn.relu(x)
    window = (x.shape[1], self.pool, self.pool)
    return nn.max_pool(x, window, strides=window)[:, 0]


class ScoreFusion(nn.Module):
  """One of SCORE_FUSIONS on stream logits [S, B, N] -> [B, N]."""
  kind: str
  dtype: str = "float32"

  @nn.compact
  def __call__(self, logits: jax.Array) -> jax.Array:
    check_choice("model.score_fusion", self.kind, SCORE_FUSIONS)
    probs = jax.nn.softmax(logits.astype(jnp.float32), axis=-1)
    if self.kind == "average":
      return jnp.log(probs.mean(axis=0) + 1e-12)
    scores = probs / jnp.linalg.norm(probs, axis=-1, keepdims=True)
    scores = jnp.moveaxis(scores, 0, 1).reshape((logits.shape[1], -1))
    return nn.Dense(logits.shape[-1], dtype=jnp.dtype(self.dtype),
                    name="linear")(scores).astype(jnp.float32)
