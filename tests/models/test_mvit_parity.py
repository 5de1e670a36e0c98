"""torchvision's MViT (v1) weights converted into ours: same logits."""

import functools

import jax
import numpy as np
import pytest

from vst.models import registry
from vst.models.convert import mvit_torchvision

torch = pytest.importorskip(
    "torch", reason="parity with torchvision's mvit_v1_b needs torch")
pytest.importorskip("torchvision",
                    reason="parity with torchvision's mvit_v1_b needs "
                    "torchvision")

# The tiny variant: 8×32×32 clips make a 4×8×8 grid, Q pooled twice, K/V
# pooled 1×4×4 → 1×2×2 → 1×1×1, width 32 → 64 → 128 with 1 → 2 → 4 heads.
CLIPS = (2, 8, 32, 32, 3)
NUM_CLASSES = 5


@pytest.fixture(scope="module")
def models():
  ours = registry.build_model({"name": "mvit", "variant": "tiny"},
                              NUM_CLASSES)
  torch.manual_seed(0)
  theirs = mvit_torchvision.torchvision_mvit(ours, CLIPS[1], CLIPS[2]).eval()
  with torch.no_grad():  # Random norms and biases: every layout is seen.
    for tensor in theirs.state_dict().values():
      if tensor.is_floating_point():
        tensor.copy_(0.5 * torch.randn_like(tensor))
  return ours, theirs


def test_logits_match_torchvision_in_eval_mode(models):
  ours, theirs = models
  clips = np.random.default_rng(0).normal(size=CLIPS).astype(np.float32)
  with torch.no_grad():
    expected = theirs(torch.from_numpy(clips.transpose(0, 4, 1, 2, 3)))
  params = mvit_torchvision.params_from_torchvision_mvit(
      theirs.state_dict(), ours)
  logits = jax.jit(functools.partial(ours.apply, train=False))(
      {"params": params}, clips)
  np.testing.assert_allclose(logits, expected.numpy(), atol=1e-4, rtol=0)


def test_converted_tree_is_the_initialised_tree(models):
  ours, theirs = models
  params = mvit_torchvision.params_from_torchvision_mvit(
      theirs.state_dict(), ours)
  initialised = jax.eval_shape(
      functools.partial(ours.init, train=False), jax.random.key(0),
      jax.ShapeDtypeStruct(CLIPS, np.float32))["params"]
  assert (jax.tree.map(np.shape, params)
          == jax.tree.map(lambda x: x.shape, initialised))
  assert (sum(x.size for x in jax.tree.leaves(params))
          == sum(p.numel() for p in theirs.parameters()))


def test_position_tables_resize_for_shorter_clips(models):
  ours, theirs = models
  params = mvit_torchvision.params_from_torchvision_mvit(
      theirs.state_dict(), ours, target_grid=(2, 4, 4))
  logits = jax.jit(functools.partial(ours.apply, train=False))(
      {"params": params}, np.zeros((1, 4, 16, 16, 3), np.float32))
  assert logits.shape == (1, NUM_CLASSES) and np.isfinite(logits).all()


def test_block_settings_reproduce_torchvision_mvit_v1_b():
  from torchvision.models.video import mvit  # pylint: disable=g-import-not-at-top
  ours = registry.build_model({"name": "mvit", "variant": "B"}, 400)
  with torch.device("meta"):  # Shapes only: no 36M-parameter init.
    theirs = mvit.mvit_v1_b()
  for setting, block in zip(ours.settings(), theirs.blocks, strict=True):
    assert block.attn.num_heads == setting.num_heads
    assert block.norm1.normalized_shape[0] == setting.in_features
    assert block.mlp[3].out_features == setting.out_features
    assert tuple(block.attn.pool_k.pool.stride) == setting.stride_kv
    pool_q = block.attn.pool_q
    assert (tuple(pool_q.pool.stride) if pool_q else (1, 1, 1)
            ) == setting.stride_q
