"""Two-stream networks: score fusion, feature fusion, and the paper sizes."""

import functools
import json

import jax
import numpy as np
import pytest

from tests.conftest import tiny_config
from vst import flops
from vst import main as main_lib
from vst.errors import ConfigError
from vst.models import registry
from vst.models.two_stream import VARIANTS, TwoStream


def _model(variant="tiny", num_classes=4, **fields):
  return TwoStream(num_classes=num_classes, **{**VARIANTS[variant], **fields})


def _init(model, inputs):
  """model.init, jitted, with a fast rbg key (threefry compiles slowly)."""
  init = jax.jit(functools.partial(model.init, train=False))
  return init(jax.random.key(0, impl="rbg"), inputs)


def _inputs(frames=2, length=1, size=16, seed=0):
  key = jax.random.key(seed)
  return {"rgb": jax.random.normal(key, (2, frames, size, size, 3)),
          "flow": jax.random.normal(jax.random.fold_in(key, 1),
                                    (2, frames * length, size, size, 2))}


@functools.cache
def _tiny(**fields):
  model = _model(**fields)
  inputs = _inputs()
  variables = _init(model, inputs)
  return model, variables, inputs, model.apply(variables, inputs, train=False)


def _stream_logits(variables, inputs, stream):
  name = {"rgb": "spatial", "flow": "temporal"}[stream]
  model = _model(streams=(stream,))
  own = {k: v for k, v in variables["params"].items() if k.startswith(name)}
  return model.apply({"params": own}, inputs[stream], train=False)


def test_average_fusion_averages_the_streams_softmax_scores():
  _, variables, inputs, logits = _tiny()
  probs = [jax.nn.softmax(_stream_logits(variables, inputs, s))
           for s in ("rgb", "flow")]
  np.testing.assert_allclose(np.exp(logits), np.mean(probs, axis=0),
                             rtol=1e-4, atol=1e-6)


def test_linear_fusion_learns_weights_on_both_streams_scores():
  model, variables, _, logits = _tiny(score_fusion="linear")
  kernel = variables["params"]["score_fusion"]["linear"]["kernel"]
  assert kernel.shape == (2 * 4, 4) and logits.shape == (2, 4)


def test_temporal_stream_stacks_flows_on_channels():
  _, variables, _, _ = _tiny()
  assert variables["params"]["temporal"]["conv1"]["kernel"].shape[2] == 2
  model = _model(streams=("flow",), new_length=3)
  variables = _init(model, _inputs(length=3)["flow"])
  assert variables["params"]["temporal"]["conv1"]["kernel"].shape == (
      3, 3, 6, 16)


@pytest.mark.parametrize("kind", ["sum", "max", "concat", "conv", "bilinear"])
def test_feature_fusion_at_a_configurable_layer(kind):
  model, variables, _, logits = _tiny(fusion=kind, fusion_layer="conv2",
                                      keep_temporal=True)
  assert logits.shape == (2, 4) and np.isfinite(logits).all()
  params = variables["params"]
  # Both towers stop at the fusion layer; the spatial tower continues.
  assert sorted(params["spatial"]) == ["conv1", "conv2"]
  assert sorted(params["temporal"]) == ["conv1", "conv2"]
  if kind != "bilinear":
    assert sorted(params["spatial_top"]) == ["conv3"]
    width = params["spatial_top"]["conv3"]["kernel"].shape[2]
    assert width == (64 if kind == "concat" else 32)
  assert "temporal_top" in params  # keep_temporal


def test_3d_fusion_pools_the_fused_frames_over_time():
  model, variables, inputs, logits = _tiny(fusion="concat", fusion_3d=True,
                                           fusion_layer="conv3",
                                           keep_temporal=False)
  assert variables["params"]["fusion3d"]["conv3d"]["kernel"].shape == (
      3, 3, 3, 128, 64)
  # Reversing time changes a 3×3×3 conv's input, so it sees frame order.
  flipped = {k: v[:, ::-1] for k, v in inputs.items()}
  assert not np.allclose(model.apply(variables, flipped, train=False), logits,
                         atol=1e-5)


@pytest.mark.parametrize("variant,shape,params,gmacs", [
    ("cnn_m_spatial", (1, 224, 224, 3), 90.6e6, 1.66),
    ("cnn_m_temporal", (10, 224, 224, 2), 90.7e6, 2.61),
    ("vgg16_spatial", (1, 224, 224, 3), 134.7e6, 15.5),
])
def test_paper_towers_match_reference(variant, shape, params, gmacs):
  model = registry.build_model({"name": "two_stream", "variant": variant}, 101)
  measured_params, measured_gmacs = flops.model_cost(model, (1,) + shape)
  assert measured_params == pytest.approx(params, rel=0.01)
  assert measured_gmacs == pytest.approx(gmacs, rel=0.05)


def test_bad_config_values_name_the_field():
  with pytest.raises(ConfigError, match="model.fusion"):
    _model(fusion="product").validate_config()
  with pytest.raises(ConfigError, match="model.fusion_layer"):
    _model(fusion="sum", fusion_layer="conv5_3").validate_config()
  with pytest.raises(ConfigError, match="model.streams"):
    _model(fusion="sum", streams=("rgb",)).validate_config()
  with pytest.raises(ConfigError, match="model.spatial_tower"):
    _model(spatial_tower="resnet").validate_config()
  with pytest.raises(ConfigError, match="model.fusion_3d"):
    _model(fusion="bilinear", fusion_3d=True).validate_config()
  with pytest.raises(ConfigError, match="needs a dict of modalities"):
    _model().validate_input((2, 16, 16, 3))
  with pytest.raises(ConfigError, match="model.new_length=3"):
    _model(new_length=3).validate_input({"rgb": (2, 16, 16, 3),
                                         "flow": (4, 16, 16, 2)})


def test_loss_falls_on_rgb_and_flow_streams(tmp_path):
  config = tiny_config("two_stream")
  config.dataset.name = "synthetic_motion_appearance_streams"
  config.dataset.new_length = 1
  config.model.new_length = 1
  config.train.num_steps = 20
  config.train.learning_rate = 3e-3
  config.train.log_every_steps = 5
  config.checkpoint.every_steps = 20
  main_lib.run(config, str(tmp_path))
  with open(tmp_path / "metrics.jsonl") as f:
    losses = [m["train/loss"] for m in map(json.loads, f) if "train/loss" in m]
  assert losses[-1] < losses[0] - 0.05, losses
