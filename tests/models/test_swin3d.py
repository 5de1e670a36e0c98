"""Video Swin: variants build, paper sizes, other clip sizes, bad fields."""

import functools
import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from tests.models.short_training import short_training_losses
from vst import flops
from vst.errors import ConfigError
from vst.models import registry
from vst.models.swin3d import VARIANTS, VideoSwin

# Liu et al. 2022, Tab. 1 (REFERENCE.md): variant -> (params M, GMACs), 32×224².
PUBLISHED = {"T": (28.2, 88), "S": (49.8, 166), "B": (88.1, 282),
             "L": (197.0, 604)}


def _model(variant="tiny", num_classes=5, **fields):
  return VideoSwin(num_classes=num_classes, **{**VARIANTS[variant], **fields})


@functools.cache
def _tiny_logits(shape):
  model = _model()
  clips = jax.random.normal(jax.random.key(0), (2,) + shape + (3,))
  return jax.jit(functools.partial(model.init_with_output, train=False))(
      jax.random.key(1), clips)[0]


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_every_variant_builds(variant):
  model = registry.build_model({"name": "swin3d", "variant": variant}, 7)
  if variant == "tiny":
    logits = _tiny_logits((8, 32, 32))
    assert logits.shape == (2, 5) and np.isfinite(logits).all()
    return
  logits = jax.eval_shape(
      lambda x: model.init_with_output(jax.random.key(0), x, train=False)[0],
      jax.ShapeDtypeStruct((1, 4, 64, 64, 3), jnp.float32))
  assert logits.shape == (1, 7)


@pytest.mark.parametrize("variant", sorted(PUBLISHED))
def test_paper_params_and_gflops(variant):
  params, gflops = flops.model_cost(_model(variant, 400), (1, 32, 224, 224, 3))
  published_params, published_gflops = PUBLISHED[variant]
  assert params / 1e6 == pytest.approx(published_params, rel=0.01)
  assert gflops == pytest.approx(published_gflops, rel=0.05)


def test_torchvision_swin3d_t_parameter_count_exactly():
  variables = flops.abstract_variables(_model("T", 400), (1, 32, 224, 224, 3))
  assert flops.count_params(variables["params"]) == 28_158_070


@pytest.mark.parametrize("shape", [(4, 16, 16), (5, 20, 28)])
def test_other_clip_sizes_pad_and_clip_windows(shape):
  logits = _tiny_logits(shape)
  assert logits.shape == (2, 5) and np.isfinite(logits).all()


@pytest.mark.parametrize("fields, message", [
    (dict(num_heads=(2, 4)), "model.depths=(2, 2, 2) and model.num_heads="
                             "(2, 4) must list one value per stage"),
    (dict(num_heads=(3, 4, 8)), "model.num_heads[0]=3 does not divide stage "
                                "0's width 32"),
    (dict(window_size=(2, 4)), "model.window_size=(2, 4) must be three"),
    (dict(pooling="sum"), "model.pooling='sum' is not valid; allowed: mean, "
                          "max"),
])
def test_bad_fields_fail_at_validation(fields, message):
  with pytest.raises(ConfigError, match=re.escape(message)):
    _model(**fields).validate_input((8, 32, 32, 3))


def test_loss_falls_in_a_short_training(tmp_path):
  losses = short_training_losses("swin3d", tmp_path)
  assert losses[-1] < losses[0] - 0.05, losses


def test_initialisation_is_the_official_one():
  """Dense kernels truncated normal σ 0.02 (torchvision's and the official
  `_init_weights`), the patch conv PyTorch's default: from scratch, flax's
  default kernels (≈9× larger here) left the tiny model at chance."""
  variables = _model("tiny").init(jax.random.key(0),
                                  jnp.zeros((1, 8, 32, 32, 3)), train=False)
  flat = jax.tree_util.tree_flatten_with_path(variables["params"])[0]
  stds = {jax.tree_util.keystr(path): float(v.std()) for path, v in flat
          if path[-1].key == "kernel" and "patch_embed" not in str(path)}
  # 6 blocks × (q, k, v, out, fc1, fc2), 2 mergings, the head.
  assert len(stds) == 6 * 6 + 2 + 1
  # flax's truncation at ±2σ leaves σ ≈ 0.0176.
  assert all(0.015 < s < 0.021 for s in stds.values()), stds
  conv = np.asarray(variables["params"]["patch_embed"]["proj"]["kernel"])
  fan_in = np.prod(conv.shape[:-1])
  assert conv.std() == pytest.approx((3 * fan_in) ** -0.5, rel=0.15)
