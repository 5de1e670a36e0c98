"""DeepVideo's fusions: where each one lets time in, and the paper's sizes."""

import functools

import jax
import numpy as np
import pytest

from tests.models.short_training import short_training_losses
from vst import flops
from vst.errors import ConfigError
from vst.models import registry
from vst.models.deepvideo import VARIANTS, DeepVideo


def _model(variant="tiny", num_classes=5, **fields):
  return DeepVideo(num_classes=num_classes, **{**VARIANTS[variant], **fields})


def _init(model, inputs):
  """model.init, jitted, with an rbg key: threefry's initialisers alone take
  most of a tiny model's compile time on CPU."""
  init = jax.jit(functools.partial(model.init, train=False))
  return init(jax.random.key(0, impl="rbg"), inputs)


def _clips(shape, seed=0):
  return jax.random.normal(jax.random.key(seed), shape)


@functools.cache
def _tiny(fusion, multires=False):
  """(model, variables, clips, logits) of a tiny model on 2 windows of 4."""
  window = 1 if fusion == "single" else 4
  model = _model(fusion=fusion, window=window, multires=multires)
  clips = _clips((2, 8, 16, 16, 3))
  variables = _init(model, clips)
  apply = lambda x: model.apply(variables, x, train=False)
  return model, variables, apply, clips, apply(clips)


@pytest.mark.parametrize("fusion", ["single", "early", "late", "slow"])
def test_tiny_fusions_give_logits(fusion):
  *_, logits = _tiny(fusion)
  assert logits.shape == (2, 5) and np.isfinite(logits).all()


def test_late_fusion_sees_only_the_first_and_last_frame_of_a_window():
  _, _, apply, clips, logits = _tiny("late")
  middle = clips.at[:, 1:3].set(0.0).at[:, 5:7].set(0.0)
  np.testing.assert_allclose(apply(middle), logits, rtol=1e-5, atol=1e-5)
  last = clips.at[:, 3].set(0.0)
  assert not np.allclose(apply(last), logits, atol=1e-4)


@pytest.mark.parametrize("fusion", ["early", "slow"])
def test_early_and_slow_fusion_see_frame_order(fusion):
  # The single-frame tower is blind to order (tests/models/test_single_frame);
  # a conv that spans frames is not.
  _, _, apply, clips, logits = _tiny(fusion)
  reversed_ = clips.reshape((2, 2, 4) + clips.shape[2:])[:, :, ::-1].reshape(
      clips.shape)
  assert not np.allclose(apply(reversed_), logits, atol=1e-4)


def test_clip_logits_average_over_windows():
  model, variables, apply, clips, logits = _tiny("early")
  halves = [model.apply(variables, clips[:, :4], train=False),
            model.apply(variables, clips[:, 4:], train=False)]
  # The head is linear, so mean features give mean logits.
  np.testing.assert_allclose(logits, np.mean(halves, axis=0), rtol=1e-4,
                             atol=1e-4)


def test_multires_fovea_sees_only_the_centre():
  model, variables, apply, clips, logits = _tiny("single", multires=True)
  assert {"fovea", "context"} <= set(variables["params"])
  # The fovea reads the centre 8×8 of 16×16; the context sees all of it at
  # half resolution, so an edge change reaches the logits only through it.
  edge = clips.at[:, :, 0].add(1.0)
  fovea_only = jax.tree_util.tree_map(np.asarray, variables)
  fovea_only["params"]["context"] = jax.tree_util.tree_map(
      np.zeros_like, fovea_only["params"]["context"])
  out = lambda x: model.apply(fovea_only, x, train=False)
  np.testing.assert_allclose(out(edge), out(clips), rtol=1e-5, atol=1e-5)
  assert not np.allclose(apply(edge), logits, atol=1e-5)


def _paper_cost(variant, frames, size=170):
  model = registry.build_model({"name": "deepvideo", "variant": variant}, 487)
  return flops.model_cost(model, (1, frames, size, size, 3))


@pytest.mark.parametrize("variant,frames,params,gmacs", [
    ("single", 1, 60.3e6, 1.13),  # Same network as single_frame/paper.
    ("early", 10, 60.6e6, 2.04),
    ("late", 16, 98.0e6, 2.3),
])
def test_paper_sizes_match_reference(variant, frames, params, gmacs):
  measured_params, measured_gmacs = _paper_cost(variant, frames)
  assert measured_params == pytest.approx(params, rel=0.01)
  assert measured_gmacs == pytest.approx(gmacs, rel=0.05)


def test_paper_early_fusion_conv1_spans_ten_frames():
  variables = flops.abstract_variables(_model("early", 487),
                                       (1, 10, 170, 170, 3))
  kernel = variables["params"]["encoder"]["trunk"]["conv1"]["kernel"]
  assert kernel.shape == (11, 11, 3 * 10, 96)


def test_paper_slow_fusion_kernels_widen_in_time():
  variables = flops.abstract_variables(_model("slow", 487),
                                       (1, 10, 170, 170, 3))
  slow = variables["params"]["encoder"]["slow"]
  assert [slow[f"conv{i}"]["kernel"].shape[0] for i in (1, 2, 3)] == [4, 2, 2]
  # conv4 and conv5 are 2D, run on the single remaining response.
  assert variables["params"]["encoder"]["trunk"]["conv1"]["kernel"].shape == (
      3, 3, 384, 384)


def test_bad_config_values_name_the_field():
  with pytest.raises(ConfigError, match="model.fusion"):
    _model(fusion="middle").validate_input((4, 16, 16, 3))
  with pytest.raises(ConfigError, match="model.window"):
    _model(window=8).validate_input((8, 16, 16, 3))  # slow fusion leaves 2.
  with pytest.raises(ConfigError, match="dataset.num_frames"):
    _model().validate_input((6, 16, 16, 3))
  with pytest.raises(ConfigError, match="dataset.crop_size"):
    _model("slow").validate_input((10, 16, 16, 3))


def test_loss_falls(tmp_path):
  losses = short_training_losses("deepvideo", tmp_path)
  assert losses[-1] < losses[0] - 0.05, losses
