"""Motionformer: variants build, paper sizes, Orthoformer swap, training."""

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
from vst.models.motionformer import VARIANTS, Motionformer

TINY_CLIPS = (2, 4, 16, 16, 3)


def _model(variant="tiny", num_classes=5, **fields):
  return Motionformer(num_classes=num_classes, **{**VARIANTS[variant], **fields})


@functools.cache
def _tiny_run(attention):
  model = _model(attention=attention)
  clips = jax.random.normal(jax.random.key(0), TINY_CLIPS)
  logits, variables = jax.jit(functools.partial(
      model.init_with_output, train=False))(jax.random.key(1), clips)
  return variables, logits


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_every_variant_builds(variant):
  model = registry.build_model({"name": "motionformer", "variant": variant}, 7)
  if variant == "tiny":
    _, logits = _tiny_run("trajectory")
    assert logits.shape == (2, 5) and np.isfinite(logits).all()
    return
  logits = jax.eval_shape(
      lambda x: model.init_with_output(jax.random.key(0), x, train=False)[0],
      jax.ShapeDtypeStruct((1, 4, 64, 64, 3), jnp.float32))
  assert logits.shape == (1, 7)


# (frames, size) -> (params M, GMACs): Mformer, -L, -HR (REFERENCE.md; params
# are C, as no count was published).
PUBLISHED = {(16, 224): (108.55, 369.5), (32, 224): (108.56, 1185.1),
             (16, 336): (108.55, 958.8)}


@pytest.mark.parametrize("key", sorted(PUBLISHED))
def test_paper_params_and_gflops(key):
  frames, size = key
  params, gflops = flops.model_cost(_model("B/16x2", 400),
                                    (1, frames, size, size, 3))
  published_params, published_gflops = PUBLISHED[key]
  assert params / 1e6 == pytest.approx(published_params, rel=0.01)
  assert gflops == pytest.approx(published_gflops, rel=0.05)
  if key == (16, 224):
    # ViT-B + 12 × (proj_q + proj_kv) + tubelets + separate position tables
    # + pre-logits + head, counted from the official definition.
    assert params == 108_554_128


def test_orthoformer_swaps_in_with_the_same_parameters():
  trajectory, _ = _tiny_run("trajectory")
  # Shapes only: the layer tests check Orthoformer's numbers.
  ortho_logits, orthoformer = jax.eval_shape(
      lambda x: _model(attention="orthoformer").init_with_output(
          jax.random.key(1), x, train=False), jnp.zeros(TINY_CLIPS))
  assert (jax.tree.map(jnp.shape, trajectory)
          == jax.tree.map(jnp.shape, orthoformer))
  assert ortho_logits.shape == (2, 5)
  block = trajectory["params"]["transformer"]["encoderblock_0"]["attention"]
  assert set(block) == {"query", "key", "value", "out", "proj_q", "proj_kv"}


def test_high_resolution_resizes_the_224_position_table():
  variables = flops.abstract_variables(_model("B/16x2", 400),
                                       (1, 16, 336, 336, 3))
  params = variables["params"]
  assert params["pos_embedding"].shape == (14, 14, 768)
  assert params["temporal_embedding"].shape == (8, 768)


@pytest.mark.parametrize("fields, message", [
    (dict(attention="diagonal"), "model.attention='diagonal' is not valid"),
    (dict(position_grid=(3,)), "model.position_grid=(3,) must be empty"),
    (dict(num_heads=3), "model.hidden_size=64 is not divisible by "
                        "model.num_heads=3"),
    (dict(head_init="ones"), "model.head_init='ones' is not valid"),
])
def test_bad_fields_fail_at_validation(fields, message):
  with pytest.raises(ConfigError, match=re.escape(message)):
    _model(**fields).validate_input((8, 32, 32, 3))


def test_validate_input_names_the_dataset_field():
  with pytest.raises(ConfigError, match=re.escape(
      "dataset.num_frames=7 is not divisible by the tubelet's temporal size")):
    _model().validate_input((7, 32, 32, 3))


def test_loss_falls_in_a_short_training(tmp_path):
  losses = short_training_losses("motionformer", tmp_path)
  assert losses[-1] < losses[0] - 0.05, losses
