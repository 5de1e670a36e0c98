"""DeepVideo's single-frame baseline (`single_frame`, DeepVideo's fusion
"single"): frame predictions averaged, paper size."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from vst import flops
from vst.errors import ConfigError
from vst.layers import alexnet_tower
from vst.models import registry


def _model(variant="tiny", num_classes=5, **fields):
  entry = registry.get_entry("single_frame")
  return entry.module_cls(num_classes=num_classes,
                          **{**entry.variants[variant], **fields})


def _clips(shape, seed=0):
  return jax.random.normal(jax.random.key(seed), shape)


@pytest.mark.parametrize("size", [16, 32])
def test_tiny_forward_shapes(size):
  model = _model(dropout_rate=0.5)
  clips = _clips((2, 4, size, size, 3))
  variables = model.init(jax.random.key(0), clips, train=False)
  logits, state = model.apply(variables, clips, train=True,
                              rngs={"dropout": jax.random.key(1)},
                              mutable=["intermediates"])
  assert logits.shape == (2, 5) and logits.dtype == jnp.float32
  (pre_logits,) = state["intermediates"]["pre_logits"]
  assert pre_logits.shape == (2, alexnet_tower.TOWER_SPECS["tiny"].fc[-1])


def test_frame_order_does_not_change_logits():
  model = _model()
  clips = _clips((3, 6, 16, 16, 3))
  variables = model.init(jax.random.key(0), clips, train=False)
  logits = model.apply(variables, clips, train=False)
  shuffled = clips[:, np.random.default_rng(0).permutation(6)]
  np.testing.assert_allclose(model.apply(variables, shuffled, train=False),
                             logits, rtol=1e-5, atol=1e-5)
  assert not np.allclose(logits[0], logits[1])  # The check is not vacuous.


def test_clip_logits_are_the_mean_of_frame_logits():
  model = _model()
  clips = _clips((2, 4, 16, 16, 3))
  variables = model.init(jax.random.key(0), clips, train=False)
  per_frame = [model.apply(variables, clips[:, t:t + 1], train=False)
               for t in range(4)]
  np.testing.assert_allclose(model.apply(variables, clips, train=False),
                             np.mean(per_frame, axis=0), rtol=1e-5, atol=1e-5)


def test_first_conv_takes_any_number_of_channels():
  model = _model()
  clips = _clips((2, 3, 16, 16, 6))
  variables = model.init(jax.random.key(0), clips, train=False)
  kernel = variables["params"]["encoder"]["trunk"]["conv1"]["kernel"]
  assert kernel.shape == (3, 3, 6, 16)


def test_bfloat16_and_remat_keep_float32_params_and_logits():
  clips = _clips((2, 2, 16, 16, 3))
  reference = _model()
  variables = reference.init(jax.random.key(0), clips, train=False)
  expected = reference.apply(variables, clips, train=False)
  remat = _model(remat=True)
  np.testing.assert_allclose(remat.apply(variables, clips, train=False),
                             expected, rtol=1e-5, atol=1e-5)
  bf16 = _model(dtype="bfloat16")
  assert all(p.dtype == jnp.float32 for p in jax.tree_util.tree_leaves(
      bf16.init(jax.random.key(0), clips, train=False)))
  logits = bf16.apply(variables, clips, train=False)
  assert logits.dtype == jnp.float32
  np.testing.assert_allclose(logits, expected, rtol=0.1, atol=0.1)
  loss = lambda p: remat.apply({"params": p}, clips, train=False).sum()
  grads = jax.jit(jax.grad(loss))(variables["params"])
  assert all(np.isfinite(g).all() for g in jax.tree_util.tree_leaves(grads))


def _spec_params(spec, frame_size, in_channels, num_classes):
  """Parameter count of a tower spec plus classifier, from the spec alone."""
  total, channels = 0, in_channels
  for layer in spec.convs:
    total += layer.kernel**2 * channels * layer.features + layer.features
    channels = layer.features
  width = spec.trunk_output_size(frame_size) ** 2 * channels
  for features in spec.fc + (num_classes,):
    total += width * features + features
    width = features
  return total


def test_paper_spec_has_deepvideos_60_3m_params_and_1_13_gmacs():
  spec = alexnet_tower.TOWER_SPECS["deepvideo"]
  assert spec.trunk_output_size(170) == 6  # The 6×6×256 map FC1 reads.
  params, gmacs = flops.model_cost(_model("paper", 487), (1, 1, 170, 170, 3))
  assert params == pytest.approx(_spec_params(spec, 170, 3, 487), rel=0.01)
  assert params == pytest.approx(60.3e6, rel=0.01)
  assert gmacs == pytest.approx(1.13, rel=0.01)


def test_frames_too_small_for_the_paper_tower_name_the_dataset_field():
  _model().validate_input((8, 16, 16, 3))
  with pytest.raises(ConfigError, match="dataset.crop_size"):
    _model("paper").validate_input((8, 16, 16, 3))
  _model("paper").validate_input((1, 170, 170, 3))


def test_unknown_tower_names_the_model_field():
  with pytest.raises(ConfigError, match="model.tower"):
    _model(tower="vgg").validate_input((8, 32, 32, 3))


def test_single_frame_is_deepvideos_single_fusion():
  clips = _clips((2, 4, 16, 16, 3))
  single = _model()
  deepvideo = registry.build_model(
      {"name": "deepvideo", "variant": "tiny", "fusion": "single",
       "window": 1}, 5)
  variables = single.init(jax.random.key(0), clips, train=False)
  np.testing.assert_array_equal(
      single.apply(variables, clips, train=False),
      deepvideo.apply(variables, clips, train=False))


def test_local_response_norm_matches_alexnet_formula():
  x = _clips((2, 3, 3, 7)) * 30
  y = alexnet_tower.local_response_norm(x)
  sq = np.pad(np.asarray(x) ** 2, ((0, 0),) * 3 + ((2, 2),))
  window_sum = sum(sq[..., i:i + 7] for i in range(5))
  np.testing.assert_allclose(y, x / (2.0 + 1e-4 * window_sum) ** 0.75,
                             rtol=1e-5)
