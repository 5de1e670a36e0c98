"""Two-stream fusion operators and score fusion."""

import jax
import numpy as np
import pytest

from vst.errors import ConfigError
from vst.layers import fusion


def _maps(seed=0, shape=(2, 3, 3, 4)):
  rng = np.random.default_rng(seed)
  return rng.standard_normal(shape).astype(np.float32)


def _fuse(kind, a, b):
  module = fusion.FeatureFusion(kind)
  variables = module.init(jax.random.key(0), a, b)
  return module.apply(variables, a, b), variables


@pytest.mark.parametrize("kind,expected", [
    ("sum", lambda a, b: a + b),
    ("max", np.maximum),
    ("concat", lambda a, b: np.concatenate([a, b], -1)),
    # The conv filter starts as two stacked identities: a sum.
    ("conv", lambda a, b: a + b),
])
def test_feature_fusions(kind, expected):
  a, b = _maps(0), _maps(1)
  out, _ = _fuse(kind, a, b)
  np.testing.assert_allclose(out, expected(a, b), rtol=1e-5, atol=1e-5)


def test_conv_fusion_learns_a_one_by_one_filter_over_both_stacks():
  _, variables = _fuse("conv", _maps(0), _maps(1))
  assert variables["params"]["conv"]["kernel"].shape == (1, 1, 8, 4)


def test_bilinear_fusion_pools_outer_products_over_locations():
  a, b = _maps(0), _maps(1)
  out, _ = _fuse("bilinear", a, b)
  raw = np.einsum("nhwc,nhwd->ncd", a, b).reshape(2, -1)
  signed = np.sign(raw) * np.sqrt(np.abs(raw))
  np.testing.assert_allclose(
      out, signed / np.linalg.norm(signed, axis=-1, keepdims=True),
      rtol=1e-4, atol=1e-5)
  # Moving features between locations changes nothing: it is orderless.
  np.testing.assert_allclose(_fuse("bilinear", a[:, ::-1], b[:, ::-1])[0],
                             out, rtol=1e-5, atol=1e-6)


def test_3d_fusion_pools_over_all_frames():
  module = fusion.Fusion3D(features=5)
  x = _maps(0, (2, 4, 6, 6, 8))
  variables = module.init(jax.random.key(0), x)
  out = module.apply(variables, x)
  assert out.shape == (2, 3, 3, 5)
  assert variables["params"]["conv3d"]["kernel"].shape == (3, 3, 3, 8, 5)


def test_score_fusion_average_is_the_log_mean_softmax():
  logits = _maps(0, (2, 3, 5))
  module = fusion.ScoreFusion("average")
  out = module.apply({}, logits)
  probs = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
  np.testing.assert_allclose(np.exp(out), probs.mean(0), rtol=1e-5)


def test_linear_score_fusion_reads_normalised_scores_of_both_streams():
  logits = _maps(0, (2, 3, 5))
  module = fusion.ScoreFusion("linear")
  variables = module.init(jax.random.key(0), logits)
  assert variables["params"]["linear"]["kernel"].shape == (2 * 5, 5)
  # Softmax scores are shift invariant, so the fusion is too.
  np.testing.assert_allclose(module.apply(variables, logits + 3.0),
                             module.apply(variables, logits), rtol=1e-5,
                             atol=1e-5)


def test_unknown_fusions_name_the_field():
  with pytest.raises(ConfigError, match="model.fusion"):
    _fuse("product", _maps(0), _maps(1))
  with pytest.raises(ConfigError, match="model.score_fusion"):
    fusion.ScoreFusion("vote").apply({}, _maps(0, (2, 3, 5)))
