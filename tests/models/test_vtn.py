"""VTN: variants build, paper sizes, HF Longformer parity, chunked backbone."""

import functools
import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
import transformers

from tests.models.short_training import short_training_losses
from vst import flops
from vst.errors import ConfigError
from vst.models import registry
from vst.models.vtn import VARIANTS, VTN, LongformerEncoder

TINY_CLIPS = (2, 6, 16, 16, 3)


def _model(variant="tiny", num_classes=5, **fields):
  return VTN(num_classes=num_classes, **{**VARIANTS[variant], **fields})


@functools.cache
def _tiny_init():
  clips = jax.random.normal(jax.random.key(0), TINY_CLIPS)
  return clips, jax.jit(functools.partial(_model().init, train=False))(
      jax.random.key(1), clips)


@functools.cache
def _tiny_logits(frames_per_chunk):
  clips, variables = _tiny_init()
  model = _model(frames_per_chunk=frames_per_chunk)
  return jax.jit(functools.partial(model.apply, train=False))(variables, clips)


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_every_variant_builds(variant):
  model = registry.build_model({"name": "vtn", "variant": variant}, 7)
  if variant == "tiny":
    logits = _tiny_logits(0)
    assert logits.shape == (2, 5) and np.isfinite(logits).all()
    return
  logits = jax.eval_shape(
      lambda x: model.init_with_output(jax.random.key(0), x, train=False)[0],
      jax.ShapeDtypeStruct((1, 3, 32, 32, 3), jnp.float32))
  assert logits.shape == (1, 7)


# --- Paper sizes (Neimark et al. 2021, REFERENCE.md) -------------------------


@pytest.mark.parametrize("temporal_layers, published, exact", [
    (3, 114.0, 113_502_352), (1, 96, 95_783_056)])
def test_paper_parameter_counts(temporal_layers, published, exact):
  variables = flops.abstract_variables(
      _model("B/16", 400, temporal_layers=temporal_layers),
      (1, 16, 224, 224, 3))
  params = flops.count_params(variables["params"])
  assert params / 1e6 == pytest.approx(published, rel=0.01)
  # timm ViT-B/16 without head + HF Longformer (6 q/k/v projections per
  # layer) + VTN's [CLS] and MLP head, counted from the official modules.
  assert params == exact


def test_full_video_gflops():
  """4218 GFLOPs is one whole-video view: ~240 frames of ViT-B (N15)."""
  _, gflops = flops.model_cost(_model("B/16", 400, frames_per_chunk=16),
                               (1, 240, 224, 224, 3))
  assert gflops == pytest.approx(4218, rel=0.05)


# --- The temporal encoder is HF's Longformer with global [CLS] ----------------


def _hf_longformer(width=16, heads=2, layers=2, window=4, positions=40):
  config = transformers.LongformerConfig(
      hidden_size=width, num_attention_heads=heads, intermediate_size=32,
      num_hidden_layers=layers, attention_window=[window] * layers,
      max_position_embeddings=positions, vocab_size=5, pad_token_id=1,
      hidden_act="gelu", layer_norm_eps=1e-12)
  torch.manual_seed(0)
  model = transformers.LongformerModel(config, add_pooling_layer=False).eval()
  with torch.no_grad():  # Random LayerNorms and biases, to check every term.
    for name, p in model.named_parameters():
      if "LayerNorm" in name or name.endswith("bias"):
        p.add_(0.1 * torch.randn_like(p))
  return model, config


def _our_params(hf_state, config, cls):
  width, heads = config.hidden_size, config.num_attention_heads
  get = lambda k: np.asarray(hf_state[k].detach().numpy())
  dense = lambda p: {"kernel": get(p + ".weight").T, "bias": get(p + ".bias")}
  norm = lambda p: {"scale": get(p + ".weight"), "bias": get(p + ".bias")}

  def heads_in(p):
    return {"kernel": get(p + ".weight").T.reshape(width, heads, -1),
            "bias": get(p + ".bias").reshape(heads, -1)}

  params = {"cls": cls,
            "position_embeddings": get("embeddings.position_embeddings.weight"),
            "token_type_embedding": get(
                "embeddings.token_type_embeddings.weight"),
            "embeddings_norm": norm("embeddings.LayerNorm")}
  for i in range(config.num_hidden_layers):
    p = f"encoder.layer.{i}."
    attention = {n: heads_in(p + "attention.self." + n)
                 for n in ("query", "key", "value", "query_global",
                           "key_global", "value_global")}
    attention["out"] = {
        "kernel": get(p + "attention.output.dense.weight").T.reshape(
            heads, -1, width),
        "bias": get(p + "attention.output.dense.bias")}
    params[f"layer_{i}"] = {
        "attention": attention,
        "attention_norm": norm(p + "attention.output.LayerNorm"),
        "mlp_hidden": dense(p + "intermediate.dense"),
        "mlp_output": dense(p + "output.dense"),
        "mlp_norm": norm(p + "output.LayerNorm")}
  return params


@pytest.mark.parametrize("frames", [11, 9])  # 12 tokens; 10 (HF pads to 12).
def test_temporal_encoder_matches_hf_longformer(frames):
  hf, config = _hf_longformer()
  rng = np.random.default_rng(0)
  features = rng.normal(size=(2, frames, 16)).astype(np.float32)
  cls = rng.normal(size=(16,)).astype(np.float32)
  inputs = np.concatenate([np.broadcast_to(cls, (2, 1, 16)), features], 1)
  global_mask = np.zeros((2, frames + 1), np.int64)
  global_mask[:, 0] = 1
  with torch.no_grad():
    theirs = hf(inputs_embeds=torch.tensor(inputs),
                global_attention_mask=torch.tensor(global_mask),
                position_ids=torch.arange(frames + 1)[None].repeat(2, 1)
                ).last_hidden_state[:, 0].numpy()
  encoder = LongformerEncoder(2, 2, 32, attention_window=4, max_positions=40)
  ours = jax.jit(functools.partial(encoder.apply, train=False))(
      {"params": _our_params(hf.state_dict(), config, cls)}, features)
  assert np.abs(np.asarray(ours) - theirs).max() < 1e-5  # Measured 3.6e-7.


def test_temporal_encoder_cost_is_linear_in_frames():
  encoder = LongformerEncoder(1, 2, 64, max_positions=1024)

  def cost(frames):
    x = jnp.zeros((1, frames, 32))
    variables = jax.eval_shape(
        functools.partial(encoder.init, train=False), jax.random.key(0), x)
    return flops.xla_flops(
        lambda v, x: encoder.apply(v, x, train=False), variables, x)

  lengths = (90, 180, 360, 720)
  exponents = np.diff(np.log([cost(n) for n in lengths])) / np.diff(
      np.log(lengths))
  assert all(0.9 < e < 1.1 for e in exponents), exponents


# --- Full-video inference ----------------------------------------------------


def test_backbone_in_chunks_gives_the_same_logits():
  # 6 frames in chunks of 4: one full chunk and one zero-padded one.
  np.testing.assert_allclose(_tiny_logits(4), _tiny_logits(0), atol=1e-5)


def test_two_frame_tubelets_give_one_temporal_step_per_pair():
  model = _model(tubelet_frames=2)
  clips = jax.random.normal(jax.random.key(0), TINY_CLIPS)
  variables = model.init(jax.random.key(1), clips, train=False)
  params = variables["params"]
  assert params["backbone"]["vit"]["patch_embed"]["kernel"].shape[:3] == (
      2, 8, 8)
  # The Longformer gets 3 steps for 6 frames: [CLS] + 3 positions.
  _model(tubelet_frames=2, max_positions=4).validate_input(TINY_CLIPS[1:])
  with pytest.raises(ConfigError, match="needs 7 positions"):
    _model(max_positions=4).validate_input(TINY_CLIPS[1:])
  # In chunks of 4 frames (2 tubelets): one full chunk, one zero-padded.
  chunked = _model(tubelet_frames=2, frames_per_chunk=4).apply(
      variables, clips, train=False)
  np.testing.assert_allclose(
      chunked, model.apply(variables, clips, train=False), atol=1e-5)


def test_one_chunk_of_frames_is_traced_whatever_the_video_length():
  """A scan over chunks: the backbone appears once in the program."""
  model = _model("tiny", frames_per_chunk=4)
  clips, variables = _tiny_init()
  long_video = jnp.zeros((1, 40) + TINY_CLIPS[2:])
  jaxpr = jax.make_jaxpr(functools.partial(model.apply, train=False))(
      variables, long_video)
  (scan,) = [e for e in jaxpr.eqns if e.primitive.name == "scan"]
  assert scan.params["length"] == 10
  assert scan.outvars[0].aval.shape[:2] == (10, 4)


# --- Config checks -----------------------------------------------------------


@pytest.mark.parametrize("fields, shape, message", [
    ({}, (300, 16, 16, 3), "dataset.num_frames=300 needs 301 positions"),
    ({}, (8, 12, 16, 3), "dataset.crop_size: 12×16 frames are not divisible"),
    (dict(attention_window=5), (8, 16, 16, 3),
     "model.attention_window=5 must be an even number"),
    (dict(temporal_heads=3), (8, 16, 16, 3),
     "model.hidden_size=64 is not divisible by model.temporal_heads=3"),
    (dict(frames_per_chunk=-1), (8, 16, 16, 3),
     "model.frames_per_chunk=-1 must be ≥ 0"),
    (dict(tubelet_frames=3), (8, 16, 16, 3),
     "dataset.num_frames=8 is not divisible by model.tubelet_frames=3"),
    (dict(tubelet_frames=2, frames_per_chunk=3), (8, 16, 16, 3),
     "model.frames_per_chunk=3 is not a multiple of model.tubelet_frames=2"),
])
def test_bad_fields_fail_at_validation(fields, shape, message):
  with pytest.raises(ConfigError, match=re.escape(message)):
    _model(**fields).validate_input(shape)


def test_loss_falls_in_a_short_training(tmp_path):
  losses = short_training_losses("vtn", tmp_path)
  assert losses[-1] < losses[0] - 0.05, losses
