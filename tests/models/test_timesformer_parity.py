"""HF transformers TimeSformer weights converted into ours give the same logits."""

import functools

import jax
import numpy as np
import pytest

from vst.models import registry
from vst.models.convert import timesformer_hf

torch = pytest.importorskip(
    "torch", reason="parity with HF TimeSformer needs torch and transformers")
transformers = pytest.importorskip(
    "transformers",
    reason="parity with HF TimeSformer needs torch and transformers")

# Small enough for a unit test; every other option at HF's default.
HF_CONFIG = dict(hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                 intermediate_size=128, image_size=32, patch_size=8,
                 num_frames=4, num_labels=5)
CLIPS = (2, 4, 32, 32, 3)


@functools.cache
def _hf_model(attention_type):
  config = transformers.TimesformerConfig(attention_type=attention_type,
                                          **HF_CONFIG)
  torch.manual_seed(0)
  model = transformers.TimesformerForVideoClassification(config).eval()
  # HF zero-initialises the time table and sets LayerNorms to the identity;
  # random values everywhere make the comparison see every weight's layout.
  with torch.no_grad():
    for tensor in model.state_dict().values():
      tensor.copy_(0.5 * torch.randn_like(tensor))
  return model


def _ours(hf_model):
  model = registry.build_model(
      timesformer_hf.model_config_from_hf(hf_model.config),
      hf_model.config.num_labels)
  params = timesformer_hf.params_from_hf_timesformer(hf_model.state_dict(),
                                                     hf_model.config)
  return model, params


@pytest.mark.parametrize("attention_type",
                         ["divided_space_time", "joint_space_time"])
def test_logits_match_hf_in_eval_mode(attention_type):
  hf_model = _hf_model(attention_type)
  clips = np.random.default_rng(0).normal(size=CLIPS).astype(np.float32)
  with torch.no_grad():  # HF takes (B, T, C, H, W).
    expected = hf_model(torch.from_numpy(clips.transpose(0, 1, 4, 2, 3)))
  model, params = _ours(hf_model)
  logits = jax.jit(functools.partial(model.apply, train=False))(
      {"params": params}, clips)
  np.testing.assert_allclose(logits, expected.logits.numpy(), atol=1e-4,
                             rtol=0)


def test_converted_tree_is_the_initialised_tree():
  hf_model = _hf_model("divided_space_time")
  model, params = _ours(hf_model)
  initialised = jax.eval_shape(
      functools.partial(model.init, train=False), jax.random.key(0),
      np.zeros(CLIPS, np.float32))["params"]
  assert (jax.tree.map(np.shape, params)
          == jax.tree.map(lambda x: x.shape, initialised))
  hf_count = sum(p.numel() for p in hf_model.parameters())
  assert sum(x.size for x in jax.tree.leaves(params)) == hf_count


def test_unconverted_keys_are_reported():
  hf_model = _hf_model("divided_space_time")
  state_dict = dict(hf_model.state_dict())
  state_dict["timesformer.extra.weight"] = torch.zeros(1)
  with pytest.raises(ValueError, match="extra.weight"):
    timesformer_hf.params_from_hf_timesformer(state_dict, hf_model.config)
