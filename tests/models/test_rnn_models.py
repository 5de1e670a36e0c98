"""CNN+RNN video models: LRCN, Beyond Short Snippets, ConvLSTM, L²STM, FASTER.

Every registered tiny variant runs on padded batches (padding changes
nothing), the recurrent models' inference memory is flat from 16 to 128
frames, the paper variants have the sizes the papers imply, and a short run
through the trainer lowers the loss.
"""

import functools
import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from tests.conftest import tiny_config
from vst import flops
from vst import main as main_lib
from vst.errors import ConfigError
from vst.layers import recurrent
from vst.models import registry
from vst.models import snippets_lstm

RNN_MODELS = ("lrcn", "snippets_lstm", "convlstm", "lattice_lstm", "faster")


def _build(name, variant="tiny", num_classes=4, **fields):
  return registry.build_model(dict(name=name, variant=variant, **fields),
                              num_classes)


def _clips(batch=2, time=8, size=16, channels=3, seed=0):
  return jax.random.normal(jax.random.key(seed),
                           (batch, time, size, size, channels))


def _jit_apply(model):
  """model.apply(variables, inputs, train=False), compiled once per shape:
  far faster than flax's op-by-op dispatch on a busy 2-core CPU."""
  return jax.jit(functools.partial(model.apply, train=False))


def _init(model, inputs):
  init = jax.jit(functools.partial(model.init, train=False))
  return init(jax.random.key(1), inputs)


def _fresh(model, train=False):
  """inputs -> (output, variables) of the model initialised with a fixed
  seed: one compile serves every call of the same shapes."""
  return jax.jit(lambda x: model.init_with_output(
      jax.random.key(1), x, train=train, mutable=True))


def _fresh_output(model, inputs, train=False):
  return _fresh(model, train)(inputs)


@pytest.mark.parametrize("name", RNN_MODELS)
def test_padded_frames_do_not_change_the_prediction(name):
  # One compiled function (lengths are values, not shapes); that a padded
  # scan equals the truncated one is tests/layers/test_recurrent.py's check.
  model, clips = _build(name), _clips()
  model.validate_input(clips.shape[1:])
  fresh = _fresh(model)
  run = lambda video, lengths: fresh(
      {"rgb": video, "lengths": jnp.array(lengths)})[0]
  padded = run(clips.at[1, 4:].set(7.0), [8, 4])
  assert padded.shape == (2, 4) and padded.dtype == jnp.float32
  np.testing.assert_allclose(run(clips.at[1, 4:].set(-3.0), [8, 4]), padded,
                             atol=1e-5)
  unpadded = run(clips, [8, 8])
  np.testing.assert_allclose(unpadded[0], padded[0], atol=1e-5)
  assert not np.allclose(unpadded[1], padded[1], atol=1e-4)


def _temp_bytes(model, time):
  clips = jax.ShapeDtypeStruct((1, time, 16, 16, 3), jnp.float32)
  variables = jax.eval_shape(
      functools.partial(model.init, train=False), jax.random.key(0), clips)
  fn = jax.jit(functools.partial(model.apply, train=False))
  return fn.lower(variables, clips).compile().memory_analysis().temp_size_in_bytes


@pytest.mark.parametrize("name", RNN_MODELS)
def test_inference_memory_is_flat_from_16_to_128_frames(name):
  model = _build(name)
  assert _temp_bytes(model, 128) <= _temp_bytes(model, 16) + 4096


def test_faster_backbones_on_all_clips_at_once_grow_memory():
  # The training path's layout at inference: measured 0.54 MB of
  # temporaries at 16 frames, 1.40 MB at 128, on these 16×16 frames.
  model = _build("faster", scan_backbones=False)
  assert _temp_bytes(model, 128) > 2 * _temp_bytes(model, 16)


def test_faster_scanned_clip_groups_match_all_clips_at_once():
  # 5 clips in groups of 2: the first group, a scanned one, and a last
  # incomplete one; the second video is padded after its first clip.
  every, time = 2, 20
  clips = _clips(time=time)
  inputs = {"rgb": clips, "lengths": jnp.array([time, 4])}
  scanned = _build("faster", expensive_every=every)
  batched = _build("faster", expensive_every=every, scan_backbones=False)
  variables = _init(batched, inputs)
  assert (jax.tree.structure(_init(scanned, inputs))
          == jax.tree.structure(variables))
  np.testing.assert_allclose(_jit_apply(scanned)(variables, inputs),
                             _jit_apply(batched)(variables, inputs),
                             atol=1e-6)


def test_lrcn_late_fusion_weights_the_streams_probabilities():
  model = _build("lrcn", streams=("rgb", "flow"), fusion_weights=(1.0, 2.0))
  inputs = {"rgb": _clips(), "flow": _clips(channels=2, seed=3)}
  variables = _init(model, inputs)
  fused = jax.nn.softmax(_jit_apply(model)(variables, inputs))
  per_stream = []
  for stream in ("rgb", "flow"):
    single = _build("lrcn", streams=(stream,))
    per_stream.append(jax.nn.softmax(_jit_apply(single)(
        {"params": {stream: variables["params"][stream]}},
        {stream: inputs[stream]})))
  np.testing.assert_allclose(fused, (per_stream[0] + 2 * per_stream[1]) / 3,
                             atol=1e-5)
  with pytest.raises(ConfigError, match="model.streams"):
    model.apply(variables, inputs["rgb"], train=False)


def test_max_pooling_ignores_frame_order_and_the_lstm_does_not():
  clips = _clips(batch=1, time=4)
  both = jnp.concatenate([clips, clips[:, ::-1]])  # The clip, reversed.
  results = {}
  for aggregation in ("conv_pooling", "lstm"):
    model = _build("snippets_lstm", aggregation=aggregation)
    results[aggregation], _ = _fresh_output(model, both)
  np.testing.assert_allclose(*results["conv_pooling"], atol=1e-5)
  assert not np.allclose(*results["lstm"], atol=1e-4)


@pytest.mark.parametrize("aggregation", ["late_pooling", "slow_pooling",
                                         "local_pooling", "time_conv"])
def test_every_pooling_architecture_runs_padded(aggregation):
  model = _build("snippets_lstm", aggregation=aggregation, pool_window=2,
                 pool_stride=2)
  clips = _clips(time=4)
  model.validate_input(clips.shape[1:])
  inputs = {"rgb": clips, "lengths": jnp.array([4, 2])}
  logits, _ = _fresh_output(model, inputs)
  assert logits.shape == (2, 4) and np.all(np.isfinite(logits))
  if aggregation != "late_pooling":  # The windowed ones need enough frames.
    with pytest.raises(ConfigError, match="dataset.num_frames"):
      _build("snippets_lstm", aggregation=aggregation, pool_window=6
             ).validate_input((4, 16, 16, 3))


def test_deep_lstm_sows_frame_probabilities_for_the_weighted_loss():
  model = _build("snippets_lstm", aggregation="lstm")
  clips = _clips(time=4)
  logits, state = _fresh_output(model, clips, train=True)
  (frames,), (weights,) = (state["intermediates"]["frame_probs"],
                           state["intermediates"]["step_weights"])
  np.testing.assert_allclose(weights, [0.25, 0.5, 0.75, 1.0])
  # The returned prediction is the g-weighted mean of the step predictions.
  np.testing.assert_allclose(
      jax.nn.softmax(logits), (frames * weights[:, None]).sum(1) / 2.5,
      atol=1e-5)
  labels = jnp.array([1, 3])
  loss = snippets_lstm.frame_weighted_loss(frames, weights, labels,
                                           jnp.ones((2, 4), bool))
  manual = -(np.log(frames[np.arange(2), :, labels]) * weights).sum(1) / 2.5
  np.testing.assert_allclose(loss, manual, rtol=1e-5)


def test_paper_deep_lstm_is_five_layers_of_512_cells():
  model = _build("snippets_lstm", "lstm", num_classes=101)
  variables = flops.abstract_variables(
      model, jax.ShapeDtypeStruct((1, 30, 220, 220, 3), jnp.float32))
  rgb = variables["params"]["rgb"]
  lstm = [rgb[f"lstm{k}"] for k in range(5)]
  assert "lstm5" not in rgb
  widths = [4096] + [512] * 4
  for layer, width in zip(lstm, widths):
    assert layer["input"]["kernel"].shape == (width, 4 * 512)
    assert layer["recurrent"]["kernel"].shape == (512, 4 * 512)


def test_faster32_costs_67_7_gflops_per_clip_over_8_clips():
  model = _build("faster", "32", num_classes=400)
  params, gmacs = flops.model_cost(
      model, jax.ShapeDtypeStruct((1, 8 * 32, 112, 112, 3), jnp.float32))
  assert gmacs / 8 == pytest.approx(67.7, rel=0.01)
  assert params == pytest.approx(66.72e6, rel=0.01)  # Both backbones + GRU.


def test_faster_runs_expensive_and_cheap_clips_in_order():
  model = _build("faster")
  expensive, cheap = model.clip_plan(16)
  assert expensive == [0, 2] and cheap == [1, 3]
  with pytest.raises(ConfigError, match="dataset.num_frames"):
    model.validate_input((6, 16, 16, 3))
  with pytest.raises(ConfigError, match="model.cheap"):
    _build("faster", cheap="r3d").validate_input((8, 16, 16, 3))


def test_convlstm_moving_mnist_stack_has_shi_et_al_layer_sizes():
  model = _build("convlstm", "moving_mnist", num_classes=10)
  params, _ = flops.model_cost(
      model, jax.ShapeDtypeStruct((1, 2, 64, 64, 1), jnp.float32))
  expected, channels = 0, 16  # 4×4 patches of a 1-channel frame.
  for n in (128, 64, 64):
    expected += 25 * (channels + n) * 4 * n + 4 * n + 3 * 16 * 16 * n
    channels = n
  assert params == expected + 64 * 10 + 10
  with pytest.raises(ConfigError, match="dataset.crop_size"):
    model.validate_input((2, 30, 30, 1))


def test_bad_choices_name_the_field():
  with pytest.raises(ConfigError, match="model.readout"):
    _build("convlstm", readout="max").validate_input((4, 16, 16, 3))
  with pytest.raises(ConfigError, match="model.aggregation"):
    _build("snippets_lstm", aggregation="avg").validate_input((4, 16, 16, 3))
  with pytest.raises(ConfigError, match="model.fusion_weights"):
    _build("lattice_lstm", streams=("rgb", "flow")).validate_input(
        (4, 16, 16, 3))
  with pytest.raises(ConfigError, match="dataset.crop_size"):
    _build("lrcn", "fc6").validate_input((4, 32, 32, 3))


@pytest.mark.parametrize("name", ["lrcn", "convlstm"])
def test_loss_falls_through_the_trainer(tmp_path, name):
  # Recurrent models start slower than the 3D CNNs at the shared 3e-3.
  # One RGB stream: the appearance half of the label is in every frame.
  config = tiny_config(name, **({"streams": ("rgb",), "fusion_weights": (1.0,)}
                                if name == "lrcn" else {}))
  config.dataset.name = "synthetic_motion_appearance"
  config.train.num_steps = 30
  config.train.learning_rate = 1e-2
  config.train.log_every_steps = 10
  config.checkpoint.every_steps = 30
  main_lib.run(config, str(tmp_path))
  with open(tmp_path / "metrics.jsonl") as f:
    losses = [m["train/loss"] for m in map(json.loads, f) if "train/loss" in m]
  assert losses[-1] < losses[0] - 0.05, losses
