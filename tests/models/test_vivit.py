"""ViViT: every variant and model builds, paper sizes, tubelet initialisers."""

import functools
import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from vst import flops
from vst.errors import ConfigError
from vst.layers import embed
from vst.models import registry
from vst.models.vivit import VARIANTS, VIVIT_MODELS, ViViT

SMALL_VARIANTS = ("tiny",)
TINY_CLIPS = (2, 4, 16, 16, 3)


def _model(variant="tiny", num_classes=5, **fields):
  return ViViT(num_classes=num_classes, **{**VARIANTS[variant], **fields})


@functools.cache
def _tiny_run(vivit_model, **fields):
  """(variables, logits, sown intermediates) of a jitted tiny forward pass."""
  model = _model(vivit_model=vivit_model, **fields)
  clips = jax.random.normal(jax.random.key(0), TINY_CLIPS)
  # One jitted init runs the forward pass too, and keeps what it sowed.
  logits, variables = jax.jit(functools.partial(
      model.init_with_output, train=False, mutable=True))(
          jax.random.key(1), clips)
  intermediates = variables.pop("intermediates")
  return variables, logits, intermediates


# --- Every registered name builds: tiny ones run, big ones trace -------------


@pytest.mark.parametrize("vivit_model", sorted(VIVIT_MODELS))
@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_every_variant_and_model_builds(variant, vivit_model):
  model = registry.build_model(
      {"name": "vivit", "variant": variant, "vivit_model": vivit_model}, 7)
  t, p, _ = VARIANTS[variant]["tubelet_size"]
  shape = (2 * t, 2 * p, 2 * p, 3)
  registry.check_input_shape(model, shape)
  if variant in SMALL_VARIANTS:
    _, logits, intermediates = _tiny_run(vivit_model)
    assert logits.shape == (2, 5) and logits.dtype == jnp.float32
    assert np.isfinite(logits).all()
    (pre_logits,) = intermediates["pre_logits"]
    assert pre_logits.shape == (2, VARIANTS[variant]["hidden_size"])
    return
  if VARIANTS[variant]["num_heads"] % 2 and vivit_model == "factorised_dot_product":
    with pytest.raises(ConfigError, match="must be even"):
      flops.abstract_variables(model, (1,) + shape)
    return
  logits = jax.eval_shape(
      lambda x: model.init_with_output(jax.random.key(0), x, train=False)[0],
      jax.ShapeDtypeStruct((1,) + shape, jnp.float32))
  assert logits.shape == (1, 7)


# --- Paper fidelity: Arnab et al. 2021, Table 1, and REFERENCE.md ------------

# (variant, vivit_model, frame size) -> (params M, GMACs) as published.
PUBLISHED = {
    ("B/16x2", "spatio_temporal", 224): (88.9, 455.2),
    ("B/16x2", "factorised_encoder", 224): (115.1, 284.4),
    ("B/16x2", "factorised_self_attention", 224): (117.3, 372.3),
    ("B/16x2", "factorised_dot_product", 224): (88.9, 277.1),
    ("B/16x2", "avg_pool", 224): (86.7, 283.9),
    # 307.5M is ViViT-L at 224 (REFERENCE.md N4); 1446 GFLOPs from Swin's table.
    ("L/16x2", "spatio_temporal", 224): (307.5, 1446),
}


@pytest.mark.parametrize("key", sorted(PUBLISHED))
def test_paper_params_and_gflops(key):
  variant, vivit_model, size = key
  params, gflops = flops.model_cost(
      _model(variant, num_classes=400, vivit_model=vivit_model),
      (1, 32, size, size, 3))
  published_params, published_gflops = PUBLISHED[key]
  assert params / 1e6 == pytest.approx(published_params, rel=0.01)
  assert gflops == pytest.approx(published_gflops, rel=0.05)


def test_model_1_has_exactly_hf_vivit_parameter_count():
  variables = flops.abstract_variables(
      _model("B/16x2", num_classes=400), (1, 32, 224, 224, 3))
  assert flops.count_params(variables["params"]) == 88_954_000


# --- Config checks name the field to change ----------------------------------


@pytest.mark.parametrize("shape, message", [
    ((7, 32, 32, 3), "dataset.num_frames=7 is not divisible by the tubelet's "
                     "temporal size 2 (model.tubelet_size)"),
    ((8, 30, 32, 3), "dataset.crop_size: 30×32 frames are not divisible by "
                     "the tubelet's patch size 8×8"),
])
def test_validate_input_names_the_dataset_field(shape, message):
  with pytest.raises(ConfigError, match=re.escape(message)):
    _model().validate_input(shape)


@pytest.mark.parametrize("fields, message", [
    (dict(vivit_model="model_5"), "model.vivit_model='model_5' is not valid"),
    (dict(attention="diagonal"), "model.attention='diagonal' is not valid"),
    (dict(vivit_model="factorised_encoder", attention="space"),
     "cannot apply to vivit_model='factorised_encoder'"),
    (dict(classifier="mean"), "model.classifier='mean' is not valid"),
    (dict(tubelet_init="zeros"), "model.tubelet_init='zeros' is not valid"),
    (dict(num_heads=3), "model.hidden_size=64 is not divisible by "
                        "model.num_heads=3"),
])
def test_bad_fields_fail_at_validation(fields, message):
  with pytest.raises(ConfigError, match=re.escape(message)):
    _model(**fields).validate_input((8, 32, 32, 3))


# --- Behaviour ---------------------------------------------------------------


def test_max_classifier_pools_the_grid_tokens_by_their_max():
  model = _model(vivit_model="spatio_temporal", classifier="max")
  clips = jax.random.normal(jax.random.key(0), TINY_CLIPS)
  variables = model.init(jax.random.key(1), clips, train=False)
  assert "cls" not in variables["params"]
  _, state = model.apply(variables, clips, train=False,
                         capture_intermediates=True, mutable=["intermediates"])
  grid = state["intermediates"]["transformer"]["__call__"][0][0]
  np.testing.assert_allclose(state["intermediates"]["pre_logits"][0],
                             grid.max(axis=(1, 2, 3)), rtol=1e-6)


def test_attention_override_replaces_the_pattern():
  variables, logits, _ = _tiny_run("spatio_temporal", attention="space")
  assert logits.shape == (2, 5)
  block = variables["params"]["transformer"]["encoderblock_0"]
  assert "attention" in block


def test_factorised_self_attention_has_two_attentions_per_block_and_no_cls():
  variables, _, _ = _tiny_run("factorised_self_attention")
  params = variables["params"]
  assert "cls" not in params
  assert {"space_attention", "time_attention"} <= set(
      params["transformer"]["encoderblock_0"])


def test_factorised_encoder_has_spatial_and_temporal_encoders():
  params = _tiny_run("factorised_encoder")[0]["params"]
  assert len(params["temporal_transformer"]) == 4 + 1  # Blocks + final norm.
  # One spatial position table for every time index, one temporal per index.
  grid = (TINY_CLIPS[1] // 2, TINY_CLIPS[2] // 8, TINY_CLIPS[3] // 8)
  assert params["spatial_posembed_input"]["pos_embedding"].shape == (
      (1,) + grid[1:] + (64,))
  assert params["temporal_posembed_input"]["pos_embedding"].shape == (
      grid[0], 1, 1, 64)


def test_dropout_only_in_training_and_remat_changes_nothing():
  model = _model(dropout_rate=0.3, drop_path_rate=0.3)
  clips = jax.random.normal(jax.random.key(0), TINY_CLIPS)
  variables = model.init(jax.random.key(1), clips, train=False)
  # A random nonzero head, so that the logits show what the body does.
  leaves, treedef = jax.tree.flatten(variables)
  keys = jax.random.split(jax.random.key(2), len(leaves))
  variables = treedef.unflatten(
      [x + 0.1 * jax.random.normal(k, x.shape) for x, k in zip(leaves, keys)])

  @functools.partial(jax.jit, static_argnames=("train", "remat"))
  def logits(seed, train, remat):
    return model.clone(remat=remat).apply(
        variables, clips, train=train, rngs={"dropout": jax.random.key(seed)})

  assert not np.allclose(logits(0, True, False), logits(1, True, False))
  np.testing.assert_array_equal(logits(0, False, False),
                                logits(1, False, False))
  np.testing.assert_allclose(logits(0, True, True), logits(0, True, False),
                             atol=1e-5)


def test_bfloat16_compute_keeps_float32_params_and_logits():
  model = _model(dtype="bfloat16")
  clips = jnp.ones(TINY_CLIPS)
  logits, variables = jax.eval_shape(
      lambda x: model.init_with_output(jax.random.key(0), x, train=False), clips)
  assert logits.dtype == jnp.float32
  assert {x.dtype for x in jax.tree.leaves(variables)} == {jnp.dtype("float32")}


# --- Tubelet embedding and position tables -----------------------------------


@pytest.mark.parametrize("inflation", sorted(embed.INFLATIONS))
def test_video_of_identical_frames_embeds_like_its_frame(inflation):
  """Both 2D->3D initialisers make a still video look like one image."""
  k_frame, k_kernel = jax.random.split(jax.random.key(0))
  frame = jax.random.normal(k_frame, (2, 16, 16, 3))
  kernel_2d = jax.random.normal(k_kernel, (8, 8, 3, 6))
  video = jnp.repeat(frame[:, None], 4, axis=1)  # [B, T=4, H, W, C]

  conv3d = embed.tubelet_embedding(6, (2, 8, 8))
  kernel_3d = embed.INFLATIONS[inflation](kernel_2d, 2)
  tokens = conv3d.apply({"params": {"kernel": kernel_3d,
                                    "bias": jnp.zeros(6)}}, video)
  image_tokens = jax.lax.conv_general_dilated(
      frame, kernel_2d, (8, 8), "VALID",
      dimension_numbers=("NHWC", "HWIO", "NHWC"))
  assert tokens.shape == (2, 2, 2, 2, 6)
  for t in range(2):
    np.testing.assert_allclose(tokens[:, t], image_tokens, atol=1e-4)


def test_central_frame_init_sees_only_the_middle_frame():
  kernel = embed.tubelet_kernel_init("central_frame")(
      jax.random.key(0), (3, 4, 4, 3, 8))
  assert np.abs(kernel[1]).sum() > 0
  assert np.abs(kernel[0]).sum() == 0 and np.abs(kernel[2]).sum() == 0


def test_position_table_resizes_to_another_grid():
  table = jax.random.normal(jax.random.key(0), (4, 2, 2, 3))
  assert embed.resize_position_embedding(table, (4, 2, 2)) is table
  resized = embed.resize_position_embedding(table, (8, 4, 4))
  assert resized.shape == (8, 4, 4, 3)
  # A table constant in space stays so, at every new position.
  constant = jnp.broadcast_to(table[:, :1, :1], table.shape)
  resized = embed.resize_position_embedding(constant, (4, 7, 7))
  np.testing.assert_allclose(resized, jnp.broadcast_to(
      constant[:, :1, :1], resized.shape), atol=1e-6)
