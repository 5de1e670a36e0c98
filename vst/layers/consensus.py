"""Segmental consensus: one prediction from K segments of one video.

  segment_consensus   TSN (Wang et al. 2016): average or max of the
                      segments' class scores, [B, K, N] -> [B, N].
  TemporalRelation    TRN (Zhou et al. 2018), multi-scale: for every scale
                      d = K, K-1, ..., 2, ordered d-tuples of segment features
                      go through g_d (ReLU, Linear to `bottleneck`, ReLU,
                      Linear to classes, as in the official
                      RelationModuleMultiScale; optional dropout before the
                      last Linear) and all relation scores are summed. The full scale has one tuple; smaller ones draw
                      `subsample` of their C(K, d) tuples at random in
                      training, as the official code does, and use a fixed,
                      evenly spread choice in evaluation so it is
                      deterministic.
  TemporalLinearEncoding  TLE (Diba et al. 2017): the K segment feature maps
                      aggregated by element-wise product, then a bilinear
                      encoding (compact bilinear pooling by Tensor Sketch,
                      Gao et al. 2016, to `dim` features), signed square root
                      and L2 normalisation, then the classifier.
"""

import itertools
import math

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from vst.errors import check_choice

CONSENSUS = ("avg", "max", "trn", "tle")


def segment_consensus(scores: jax.Array, kind: str) -> jax.Array:
  """TSN's consensus over segments: [B, K, N] -> [B, N]."""
  check_choice("model.consensus", kind, ("avg", "max"))
  return scores.mean(axis=1) if kind == "avg" else scores.max(axis=1)


def relation_tuples(num_segments: int, scale: int) -> np.ndarray:
  """All ordered `scale`-tuples of segment indices, [C(K, scale), scale]."""
  return np.array(list(itertools.combinations(range(num_segments), scale)),
                  np.int32)


def _spread(count: int, keep: int) -> np.ndarray:
  """`keep` indices spread evenly over range(count)."""
  return np.unique(np.linspace(0, count - 1, keep).round().astype(np.int32))


class TemporalRelation(nn.Module):
  """TRN multi-scale temporal relations: [B, K, D] features -> [B, classes].

  Attributes:
    num_classes: output width of every g_d.
    bottleneck: hidden width of g_d (256 in TRN).
    subsample: tuples drawn per scale below the full one (3 in TRN).
    dropout_rate: dropout inside g_d before its last layer; 0 (none) as in
      the official code.
  """
  num_classes: int
  bottleneck: int = 256
  subsample: int = 3
  dropout_rate: float = 0.0
  dtype: str = "float32"

  @nn.compact
  def __call__(self, features: jax.Array, *, train: bool) -> jax.Array:
    batch, k, dim = features.shape
    total = jnp.zeros((batch, self.num_classes), jnp.float32)
    for scale in range(k, 1, -1) if k > 1 else (1,):
      tuples = relation_tuples(k, scale)
      keep = len(tuples) if scale == k else min(self.subsample, len(tuples))
      if keep < len(tuples):
        if train:
          rng = self.make_rng("dropout")
          choice = jax.random.choice(rng, len(tuples), (keep,), replace=False)
          chosen = jnp.asarray(tuples)[choice]
        else:
          chosen = jnp.asarray(tuples[_spread(len(tuples), keep)])
      else:
        chosen = jnp.asarray(tuples)
      # [B, R, scale·D]: each tuple's features in temporal order.
      x = features[:, chosen].reshape((batch, chosen.shape[0], scale * dim))
      x = nn.relu(x)
      x = nn.Dense(self.bottleneck, dtype=jnp.dtype(self.dtype),
                   name=f"g{scale}_fc1")(x)
      x = nn.relu(x)
      if self.dropout_rate > 0:
        x = nn.Dropout(self.dropout_rate, deterministic=not train)(x)
      x = nn.Dense(self.num_classes, dtype=jnp.dtype(self.dtype),
                   name=f"g{scale}_fc2")(x)
      total = total + x.astype(jnp.float32).sum(axis=1)
    return total


def tensor_sketch_params(in_dim: int, out_dim: int, seed: int):
  """Two fixed count sketches (hash [in_dim] in [0, out_dim), sign ±1)."""
  rng = np.random.default_rng(seed)
  hashes = rng.integers(0, out_dim, (2, in_dim))
  signs = rng.choice(np.array([-1.0, 1.0], np.float32), (2, in_dim))
  return hashes, signs


def compact_bilinear(x: jax.Array, dim: int, seed: int = 0) -> jax.Array:
  """Tensor Sketch compact bilinear pooling: [B, H, W, C] -> [B, dim].

  Approximates the flattened sum over locations of x xᵀ (C² features)
  projected to `dim`: the circular convolution of two count sketches of x,
  computed as a product of their FFTs.
  """
  channels = x.shape[-1]
  hashes, signs = tensor_sketch_params(channels, dim, seed)
  x = x.reshape((x.shape[0], -1, channels)).astype(jnp.float32)
  sketches = []
  for h, s in zip(hashes, signs):
    projection = np.zeros((channels, dim), np.float32)
    projection[np.arange(channels), h] = s
    sketches.append(jnp.fft.rfft(x @ projection, axis=-1))
  pooled = jnp.fft.irfft(sketches[0] * sketches[1], n=dim, axis=-1)
  return pooled.sum(axis=1)


class TemporalLinearEncoding(nn.Module):
  """TLE: [B, K, h, w, C] segment maps -> [B, classes].

  Attributes:
    num_classes: classifier width.
    dim: compact bilinear features (TLE's bilinear variant).
    dropout_rate: dropout before the classifier.
  """
  num_classes: int
  dim: int = 8192
  dropout_rate: float = 0.0
  dtype: str = "float32"

  @nn.compact
  def __call__(self, maps: jax.Array, *, train: bool) -> jax.Array:
    # The product keeps what all segments agree on; in float32, since K
    # factors of O(1) activations under- or overflow bfloat16 quickly.
    aggregated = jnp.prod(maps.astype(jnp.float32), axis=1)
    encoded = compact_bilinear(aggregated, self.dim)
    encoded = jnp.sign(encoded) * jnp.sqrt(jnp.abs(encoded) + 1e-12)
    encoded = encoded / (jnp.linalg.norm(encoded, axis=-1, keepdims=True)
                         + 1e-12)
    self.sow("intermediates", "tle_encoding", encoded)
    if self.dropout_rate > 0:
      encoded = nn.Dropout(self.dropout_rate, deterministic=not train)(encoded)
    logits = nn.Dense(self.num_classes, dtype=jnp.dtype(self.dtype),
                      name="fc")(encoded.astype(jnp.dtype(self.dtype)))
    return logits.astype(jnp.float32)


def num_relations(num_segments: int, subsample: int) -> int:
  """Relations TRN scores per clip (tests and docs)."""
  return 1 + sum(min(subsample, math.comb(num_segments, d))
                 for d in range(2, num_segments))
