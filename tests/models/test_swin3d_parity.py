"""torchvision's SwinTransformer3d weights converted into ours: same logits."""

import functools

import jax
import numpy as np
import pytest

from vst.models import registry
from vst.models.convert import swin3d_torchvision

torch = pytest.importorskip(
    "torch", reason="parity with torchvision's swin3d needs torch")
pytest.importorskip("torchvision",
                    reason="parity with torchvision's swin3d needs torchvision")

# 8×24×24 clips give a 4×6×6 grid: the 2×4×4 windows pad 6 to 8 and shift by
# 1×2×2 under the mask; after merging, 4×3×3 clips the window to 2×3×3 (its
# bias read from the full window's index, as torchvision does) and the last
# merging pads the odd 3.
FIELDS = dict(embed_dim=16, depths=(2, 2, 2), num_heads=(2, 2, 4),
              window_size=(2, 4, 4), patch_size=(2, 4, 4))
CLIPS = (2, 8, 24, 24, 3)
NUM_CLASSES = 5


@pytest.fixture(scope="module")
def torch_model():
  torch.manual_seed(0)
  model = swin3d_torchvision.torchvision_swin3d(FIELDS, NUM_CLASSES).eval()
  # Random norms, biases and bias tables, so every layout is exercised.
  with torch.no_grad():
    for name, tensor in model.state_dict().items():
      if tensor.is_floating_point():
        tensor.copy_(0.5 * torch.randn_like(tensor))
  return model


def _ours(torch_model):
  model = registry.build_model(
      {"name": "swin3d", "variant": "tiny", **FIELDS}, NUM_CLASSES)
  params = swin3d_torchvision.params_from_torchvision_swin3d(
      torch_model.state_dict(), FIELDS["depths"], FIELDS["num_heads"])
  return model, params


def test_logits_match_torchvision_in_eval_mode(torch_model):
  clips = np.random.default_rng(0).normal(size=CLIPS).astype(np.float32)
  with torch.no_grad():
    expected = torch_model(torch.from_numpy(clips.transpose(0, 4, 1, 2, 3)))
  model, params = _ours(torch_model)
  logits = jax.jit(functools.partial(model.apply, train=False))(
      {"params": params}, clips)
  np.testing.assert_allclose(logits, expected.numpy(), atol=1e-4, rtol=0)


def test_converted_tree_is_the_initialised_tree(torch_model):
  model, params = _ours(torch_model)
  initialised = jax.eval_shape(
      functools.partial(model.init, train=False), jax.random.key(0),
      jax.ShapeDtypeStruct(CLIPS, np.float32))["params"]
  assert (jax.tree.map(np.shape, params)
          == jax.tree.map(lambda x: x.shape, initialised))
  count = sum(p.numel() for p in torch_model.parameters())
  assert sum(x.size for x in jax.tree.leaves(params)) == count


def test_unconverted_keys_are_reported(torch_model):
  state_dict = dict(torch_model.state_dict())
  state_dict["features.0.0.extra.weight"] = torch.zeros(1)
  with pytest.raises(ValueError, match="extra.weight"):
    swin3d_torchvision.params_from_torchvision_swin3d(
        state_dict, FIELDS["depths"], FIELDS["num_heads"])
