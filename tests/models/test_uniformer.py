"""UniFormer: variants build, paper sizes, local/global stages, bad sizes."""

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
from vst.models.uniformer import VARIANTS, UniFormer

# (variant, frames) -> (params M, GMACs per view) at 224², REFERENCE.md
# (repo totals over 4 views divided by 4; params from mmaction2).
PUBLISHED = {("S", 16): (21.4, 41.8), ("B", 16): (49.8, 96.7),
             ("B", 32): (49.8, 259)}


def _model(variant="tiny", num_classes=5, **fields):
  return UniFormer(num_classes=num_classes, **{**VARIANTS[variant], **fields})


@functools.cache
def _tiny_run(shape):
  model = _model()
  clips = jax.random.normal(jax.random.key(0), (2,) + shape + (3,))
  return jax.jit(functools.partial(model.init_with_output, train=False))(
      jax.random.key(1), clips)


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_every_variant_builds(variant):
  model = registry.build_model({"name": "uniformer", "variant": variant}, 7)
  if variant == "tiny":
    logits, variables = _tiny_run((8, 32, 32))
    assert logits.shape == (2, 5) and np.isfinite(logits).all()
    assert "batch_stats" in variables  # The local stages' BatchNorms.
    return
  logits = jax.eval_shape(
      lambda x: model.init_with_output(jax.random.key(0), x, train=False)[0],
      jax.ShapeDtypeStruct((1, 4, 64, 64, 3), jnp.float32))
  assert logits.shape == (1, 7)


@pytest.mark.parametrize("key", sorted(PUBLISHED))
def test_paper_params_and_gflops(key):
  variant, frames = key
  params, gflops = flops.model_cost(_model(variant, 400),
                                    (1, frames, 224, 224, 3))
  published_params, published_gflops = PUBLISHED[key]
  assert params / 1e6 == pytest.approx(published_params, rel=0.01)
  assert gflops == pytest.approx(published_gflops, rel=0.05)


def test_shallow_stages_are_local_and_deep_stages_global():
  params = _tiny_run((8, 32, 32))[1]["params"]
  assert set(params["stage0_block0"]) == {"dpe", "norm1", "mhra", "norm2",
                                          "mlp"}
  assert set(params["stage2_block0"]["transformer"]) >= {"attention",
                                                         "attention_norm"}
  assert params["stage0_block0"]["mhra"]["affinity"]["kernel"].shape == (
      5, 5, 5, 1, 32)


@pytest.mark.parametrize("shape", [(5, 24, 40)])  # odd T, H ≠ W
def test_other_clip_sizes_work(shape):
  logits, _ = _tiny_run(shape)
  assert logits.shape == (2, 5) and np.isfinite(logits).all()


@pytest.mark.parametrize("variant, fields, shape, message", [
    ("tiny", dict(depths=(1, 1)), (8, 32, 32),
     "model.embed_dims=(32, 64, 128) and model.depths=(1, 1) must list"),
    ("tiny", dict(head_dim=48), (8, 32, 32),
     "model.head_dim=48 does not divide the width 128 of global stage 2"),
    ("S", {}, (16, 16, 16),
     "16×16×16 clips leave stage 3 without tokens; the stem and 3 "
     "downsamplings (model.stem_*, model.downsample) need at least 1×32×32"),
])
def test_bad_fields_and_sizes_fail_at_validation(variant, fields, shape,
                                                 message):
  with pytest.raises(ConfigError, match=re.escape(message)):
    _model(variant, **fields).validate_input(shape + (3,))


def test_loss_falls_in_a_short_training(tmp_path):
  losses = short_training_losses("uniformer", tmp_path)
  assert losses[-1] < losses[0] - 0.05, losses
