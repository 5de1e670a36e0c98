"""Segmental consensus: TSN average/max, TRN relations, TLE bilinear encoding."""

import itertools

import jax
import numpy as np
import pytest

from vst.errors import ConfigError
from vst.layers import consensus


def _normal(shape, seed=0):
  return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def test_tsn_consensus_averages_or_maxes_segment_scores():
  scores = _normal((2, 3, 5))
  np.testing.assert_allclose(consensus.segment_consensus(scores, "avg"),
                             scores.mean(1), rtol=1e-6)
  np.testing.assert_allclose(consensus.segment_consensus(scores, "max"),
                             scores.max(1), rtol=1e-6)
  with pytest.raises(ConfigError, match="model.consensus"):
    consensus.segment_consensus(scores, "median")


def test_relation_tuples_keep_temporal_order():
  tuples = consensus.relation_tuples(4, 3)
  assert len(tuples) == 4 and (np.diff(tuples, axis=1) > 0).all()
  # TRN scores 1 full-scale tuple plus 3 drawn tuples per smaller scale.
  assert consensus.num_relations(8, 3) == 1 + 3 * 6


def _trn(k=4, classes=5):
  module = consensus.TemporalRelation(classes, bottleneck=16, subsample=2)
  features = _normal((2, k, 8))
  variables = module.init(jax.random.key(0), features, train=False)
  return module, variables, features


def test_trn_has_one_relation_mlp_per_scale_and_sees_order():
  module, variables, features = _trn()
  assert sorted(variables["params"]) == sorted(
      f"g{d}_fc{i}" for d in (2, 3, 4) for i in (1, 2))
  assert variables["params"]["g3_fc1"]["kernel"].shape == (3 * 8, 16)
  logits = module.apply(variables, features, train=False)
  assert logits.shape == (2, 5)
  # Evaluation is deterministic; reversing time changes the relations.
  np.testing.assert_array_equal(
      module.apply(variables, features, train=False), logits)
  assert not np.allclose(
      module.apply(variables, features[:, ::-1], train=False), logits)


def test_trn_draws_tuples_at_random_in_training():
  module, variables, features = _trn(k=5)
  outs = [module.apply(variables, features, train=True,
                       rngs={"dropout": jax.random.key(seed)})
          for seed in range(4)]
  assert not all(np.allclose(outs[0], o) for o in outs[1:])


def test_compact_bilinear_is_the_tensor_sketch_of_the_outer_product():
  channels, dim = 6, 16
  x = _normal((1, 2, 1, channels))
  (h1, h2), (s1, s2) = consensus.tensor_sketch_params(channels, dim, seed=0)
  expected = np.zeros(dim)
  for loc in x.reshape(-1, channels):
    for i, j in itertools.product(range(channels), repeat=2):
      expected[(h1[i] + h2[j]) % dim] += s1[i] * s2[j] * loc[i] * loc[j]
  np.testing.assert_allclose(consensus.compact_bilinear(x, dim)[0], expected,
                             rtol=1e-4, atol=1e-4)


def test_tle_multiplies_segment_maps_before_encoding():
  module = consensus.TemporalLinearEncoding(3, dim=32)
  maps = np.abs(_normal((2, 3, 2, 2, 4))) + 0.1
  variables = module.init(jax.random.key(0), maps, train=False)
  logits, state = module.apply(variables, maps, train=False,
                               mutable=["intermediates"])
  assert logits.shape == (2, 3)
  (encoding,) = state["intermediates"]["tle_encoding"]
  np.testing.assert_allclose(np.linalg.norm(encoding, axis=-1), 1.0, rtol=1e-5)
  # Only the product of the segments matters: moving a factor of 2 from one
  # segment to another changes nothing.
  moved = maps.copy()
  moved[:, 0] *= 2.0
  moved[:, 1] /= 2.0
  np.testing.assert_allclose(module.apply(variables, moved, train=False),
                             logits, rtol=1e-4, atol=1e-5)
