"""HF transformers ViViT weights converted into ours give the same logits."""

import functools

import jax
import numpy as np
import pytest

from vst.models import registry
from vst.models.convert import vivit_hf

torch = pytest.importorskip(
    "torch", reason="parity with HF ViViT needs torch and transformers")
transformers = pytest.importorskip(
    "transformers", reason="parity with HF ViViT needs torch and transformers")

# Small enough for a unit test; every architectural option at HF's default.
HF_CONFIG = dict(hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                 intermediate_size=128, image_size=32, num_frames=8,
                 tubelet_size=[2, 8, 8], num_labels=5)


@pytest.fixture(scope="module")
def hf_model():
  config = transformers.VivitConfig(**HF_CONFIG)
  torch.manual_seed(0)
  model = transformers.VivitForVideoClassification(config).eval()
  # HF initialises the CLS token and positions to zero and LayerNorms to the
  # identity; random values make the comparison see every weight's layout.
  with torch.no_grad():
    for tensor in model.state_dict().values():
      tensor.copy_(0.5 * torch.randn_like(tensor))
  return model


def _ours(hf_model, state_dict):
  model = registry.build_model(vivit_hf.model_config_from_hf(hf_model.config),
                               hf_model.config.num_labels)
  return model, vivit_hf.params_from_hf_vivit(state_dict, hf_model.config)


def test_logits_match_hf_in_eval_mode(hf_model):
  clips = np.random.default_rng(0).normal(size=(2, 8, 32, 32, 3))
  clips = clips.astype(np.float32)
  with torch.no_grad():  # HF takes (B, T, C, H, W).
    expected = hf_model(torch.from_numpy(clips.transpose(0, 1, 4, 2, 3)))
  model, params = _ours(hf_model, hf_model.state_dict())
  logits = model.apply({"params": params}, clips, train=False)
  np.testing.assert_allclose(logits, expected.logits.numpy(), atol=1e-4,
                             rtol=0)


def test_converted_tree_is_the_initialised_tree(hf_model):
  model, params = _ours(hf_model, hf_model.state_dict())
  initialised = jax.eval_shape(
      functools.partial(model.init, train=False), jax.random.key(0),
      np.zeros((1, 8, 32, 32, 3), np.float32))["params"]
  assert (jax.tree.map(np.shape, params)
          == jax.tree.map(lambda x: x.shape, initialised))
  hf_count = sum(p.numel() for p in hf_model.parameters())
  assert sum(x.size for x in jax.tree.leaves(params)) == hf_count


def test_published_checkpoint_key_names_convert_the_same(hf_model):
  """google/vivit-b-16x2-kinetics400 predates HF's q_proj/o_proj/mlp names."""
  renames = (("layers.", "encoder.layer."),
             ("attention.q_proj", "attention.attention.query"),
             ("attention.k_proj", "attention.attention.key"),
             ("attention.v_proj", "attention.attention.value"),
             ("attention.o_proj", "attention.output.dense"),
             ("mlp.fc1", "intermediate.dense"),
             ("mlp.fc2", "output.dense"))
  legacy = {}
  for key, value in hf_model.state_dict().items():
    for new, old in renames:
      key = key.replace(new, old)
    legacy[key] = value.numpy()
  _, params = _ours(hf_model, hf_model.state_dict())
  _, legacy_params = _ours(hf_model, legacy)
  jax.tree.map(np.testing.assert_array_equal, params, legacy_params)


def test_unconverted_keys_are_reported(hf_model):
  state_dict = dict(hf_model.state_dict())
  state_dict["vivit.extra.weight"] = torch.zeros(1)
  with pytest.raises(ValueError, match="extra.weight"):
    vivit_hf.params_from_hf_vivit(state_dict, hf_model.config)
