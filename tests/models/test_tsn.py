"""TSN: segments, modalities, partial BN, cross-modality init, paper sizes."""

import functools
import json

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from tests.conftest import tiny_config
from vst import flops
from vst import main as main_lib
from vst.errors import ConfigError
from vst.models import registry
from vst.models.tsn import VARIANTS, TSN, cross_modality_init


def _model(variant="tiny", num_classes=4, **fields):
  return TSN(num_classes=num_classes, **{**VARIANTS[variant], **fields})


def _init(model, inputs):
  """model.init, jitted, with an rbg key: threefry's initialisers alone take
  most of a tiny model's compile time on CPU."""
  init = jax.jit(functools.partial(model.init, train=False))
  return init(jax.random.key(0, impl="rbg"), inputs)


def _inputs(k=3, length=1, size=16, seed=0):
  key = jax.random.key(seed)
  return {"rgb": jax.random.normal(key, (2, k, size, size, 3)),
          "flow": jax.random.normal(jax.random.fold_in(key, 1),
                                    (2, k * length, size, size, 2))}


@functools.cache
def _tiny(consensus="avg"):
  model = _model(consensus=consensus, tle_dim=64)
  inputs = _inputs()
  if consensus == "max":  # Same parameters as avg: share one init.
    variables = _tiny("avg")[1]
  else:
    variables = _init(model, inputs)
  return model, variables, inputs, model.apply(variables, inputs, train=False)


def _only(variables, modality):
  """The variables of one modality's backbone and head."""
  return {c: {k: v for k, v in tree.items() if k.startswith(modality)}
          for c, tree in variables.items()}


@pytest.mark.parametrize("consensus", ["avg", "max", "trn", "tle"])
def test_every_consensus_gives_logits(consensus):
  model, variables, _, logits = _tiny(consensus)
  assert logits.shape == (2, 4) and np.isfinite(logits).all()
  assert {"rgb_backbone", "flow_backbone"} <= set(variables["params"])


def test_average_consensus_is_blind_to_segment_order_and_trn_is_not():
  for consensus, blind in (("avg", True), ("trn", False)):
    model, variables, inputs, logits = _tiny(consensus)
    shuffled = {m: x[:, ::-1] for m, x in inputs.items()}
    same = np.allclose(model.apply(variables, shuffled, train=False), logits,
                       atol=1e-5)
    assert same == blind, consensus


def test_modalities_are_fused_by_weighted_scores():
  model, variables, inputs, logits = _tiny()
  weighted = _model(modality_weights=(1.0, 3.0))
  only = lambda m: _model(modalities=(m,)).apply(
      _only(variables, m), inputs[m], train=False)
  rgb, flow = only("rgb"), only("flow")
  np.testing.assert_allclose(logits, (rgb + flow) / 2, rtol=1e-4, atol=1e-5)
  np.testing.assert_allclose(weighted.apply(variables, inputs, train=False),
                             (rgb + 3 * flow) / 4, rtol=1e-4, atol=1e-5)


def test_rgb_from_a_shared_clip_sampler_uses_each_snippets_first_frame():
  model = _model(new_length=2)
  inputs = _inputs(k=3, length=2)
  # _tiny's weights, with conv1 of the flow backbone widened to 2L = 4.
  variables = jax.tree_util.tree_map(lambda x: x, _tiny()[1])
  conv1 = variables["params"]["flow_backbone"]["conv1"]["conv"]
  conv1["kernel"] = jnp.concatenate([conv1["kernel"]] * 2, axis=2)
  long_rgb = {"rgb": jnp.repeat(inputs["rgb"], 2, axis=1).at[:, 1::2].set(9.0),
              "flow": inputs["flow"]}
  np.testing.assert_allclose(model.apply(variables, long_rgb, train=False),
                             model.apply(variables, inputs, train=False),
                             rtol=1e-5, atol=1e-5)


def _bn_layers(tree, prefix=()):
  """{path: {"mean", "var"}} of every BN in a batch_stats tree."""
  out = {}
  for key, value in tree.items():
    if "mean" in value:
      out[prefix + (key,)] = value
    else:
      out.update(_bn_layers(value, prefix + (key,)))
  return out


def test_partial_bn_updates_only_the_first_bn_layer():
  model = _model(partial_bn=True, modalities=("rgb",))
  frames = jax.random.normal(jax.random.key(0), (4, 3, 16, 16, 3)) * 3 + 1
  variables = _only(_tiny()[1], "rgb")  # partial_bn leaves params alike.

  def loss(params):
    logits, updates = model.apply(
        {"params": params, "batch_stats": variables["batch_stats"]}, frames,
        train=True, mutable=["batch_stats"])
    return logits.sum(), updates

  grads, updates = jax.grad(loss, has_aux=True)(variables["params"])
  before = _bn_layers(variables["batch_stats"])
  after = _bn_layers(updates["batch_stats"])
  first = ("rgb_backbone", "conv1", "bn")
  assert len(before) > 5 and first in before
  for path in before:
    changed = not np.allclose(before[path]["mean"], after[path]["mean"])
    assert changed == (path == first), path
  conv1_bn = grads["rgb_backbone"]["conv1"]["bn"]
  frozen_bn = grads["rgb_backbone"]["layer1_0"]["conv1"]["bn"]
  assert np.abs(conv1_bn["scale"]).sum() > 0
  assert not np.abs(frozen_bn["scale"]).any()
  assert not np.abs(frozen_bn["bias"]).any()


def test_cross_modality_init_averages_rgb_kernels_over_flow_channels():
  variables = _tiny()[1]  # L=1: two flow channels.
  init = cross_modality_init(variables, "rgb", "flow")
  rgb = init["params"]["rgb_backbone"]
  flow = init["params"]["flow_backbone"]
  assert flow["conv1"]["conv"]["kernel"].shape[2] == 2  # 2L channels.
  same = jax.tree_util.tree_map(np.array_equal, rgb["layer1_0"],
                                flow["layer1_0"])
  assert all(jax.tree_util.tree_leaves(same))
  # On any 2L-channel input, conv1 responds like the RGB conv1 on the
  # input's channel mean, scaled by 2L/3.
  x = jax.random.normal(jax.random.key(3), (1, 8, 8, 2))
  conv = nn.Conv(8, (7, 7), padding=3, use_bias=False)
  flow_out = conv.apply({"params": flow["conv1"]["conv"]}, x)
  grey = jnp.repeat(x.mean(-1, keepdims=True), 3, axis=-1)
  rgb_out = conv.apply({"params": rgb["conv1"]["conv"]}, grey)
  np.testing.assert_allclose(flow_out, rgb_out * 2 / 3, rtol=1e-4, atol=1e-4)
  assert not np.allclose(variables["params"]["flow_backbone"]["conv1"][
      "conv"]["kernel"], flow["conv1"]["conv"]["kernel"])
  np.testing.assert_array_equal(
      init["batch_stats"]["flow_backbone"]["conv1"]["bn"]["mean"],
      variables["batch_stats"]["rgb_backbone"]["conv1"]["bn"]["mean"])


@pytest.mark.parametrize("variant,shape,params,gmacs", [
    ("bn_inception", (1, 224, 224, 3), 10.37e6, 2.03),
    ("bn_inception_flow", (5, 224, 224, 2), 10.40e6, 2.31),
])
def test_bn_inception_matches_the_official_prototxt(variant, shape, params,
                                                    gmacs):
  model = registry.build_model({"name": "tsn", "variant": variant}, 101)
  measured_params, measured_gmacs = flops.model_cost(model, (1,) + shape)
  assert measured_params == pytest.approx(params, rel=0.01)
  assert measured_gmacs == pytest.approx(gmacs, rel=0.05)


def test_resnet50_backbone_has_torchvisions_parameters():
  torchvision = pytest.importorskip("torchvision")
  reference = sum(p.numel() for p in torchvision.models.resnet50(
      num_classes=101).parameters())
  variables = flops.abstract_variables(_model("resnet50", 101),
                                       (1, 1, 224, 224, 3))
  assert flops.count_params(variables["params"]) == reference


def test_bad_config_values_name_the_field():
  with pytest.raises(ConfigError, match="model.consensus"):
    _model(consensus="median").validate_input((3, 16, 16, 3))
  with pytest.raises(ConfigError, match="model.modalities"):
    _model(modalities=("depth",)).validate_input((3, 16, 16, 3))
  with pytest.raises(ConfigError, match="needs a dict of modalities"):
    _model().validate_input((3, 16, 16, 3))
  with pytest.raises(ConfigError, match="dataset.modalities lacks flow"):
    _model().validate_input({"rgb": (3, 16, 16, 3)})
  with pytest.raises(ConfigError, match="model.new_length=2"):
    _model(new_length=2).validate_input({"rgb": (3, 16, 16, 3),
                                         "flow": (3, 16, 16, 2)})
  with pytest.raises(ConfigError, match="model.backbone"):
    _model(backbone="alexnet").validate_input({"rgb": (3, 16, 16, 3),
                                               "flow": (3, 16, 16, 2)})


def test_loss_falls_on_rgb_and_flow_streams(tmp_path):
  config = tiny_config("tsn")
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


def test_resnet_backbone_matches_torchvision_features():
  """torchvision's bottleneck ResNet (one block per stage, so it compiles
  fast) with its random weights ported: the same features."""
  torch = pytest.importorskip("torch")
  resnet = pytest.importorskip("torchvision.models.resnet")
  from vst.layers import cnn_towers  # pylint: disable=g-import-not-at-top
  torch.manual_seed(0)
  reference = resnet.ResNet(resnet.Bottleneck, [1, 1, 1, 1]).eval()
  for module in reference.modules():
    if isinstance(module, torch.nn.BatchNorm2d):
      # Non-trivial statistics, so the port of each BN is checked.
      module.running_mean.uniform_(-0.5, 0.5)
      module.running_var.uniform_(0.5, 2.0)
      module.weight.data.uniform_(0.5, 1.5)
      module.bias.data.uniform_(-0.5, 0.5)
  state = {k: v.numpy() for k, v in reference.state_dict().items()}

  def conv_bn(conv, bn):
    return {"conv": {"kernel": state[f"{conv}.weight"].transpose(2, 3, 1, 0)},
            "bn": {"scale": state[f"{bn}.weight"], "bias": state[f"{bn}.bias"]}}

  def stats(bn):
    return {"bn": {"mean": state[f"{bn}.running_mean"],
                   "var": state[f"{bn}.running_var"]}}

  params, batch_stats = {"conv1": conv_bn("conv1", "bn1")}, {
      "conv1": stats("bn1")}
  for stage in range(1, 5):
    block, prefix = f"layer{stage}_0", f"layer{stage}.0"
    params[block], batch_stats[block] = {}, {}
    names = [(f"conv{j}", f"{prefix}.conv{j}", f"{prefix}.bn{j}")
             for j in (1, 2, 3)]
    names.append(("downsample", f"{prefix}.downsample.0",
                  f"{prefix}.downsample.1"))
    for name, conv, bn in names:
      params[block][name] = conv_bn(conv, bn)
      batch_stats[block][name] = stats(bn)
  ours = cnn_towers.ResNet(depths=(1, 1, 1, 1))
  frames = np.random.default_rng(0).standard_normal(
      (2, 64, 64, 3)).astype(np.float32)
  features = jax.jit(lambda x: ours.apply(
      {"params": params, "batch_stats": batch_stats}, x, train=False))(frames)
  with torch.no_grad():
    trunk = torch.nn.Sequential(*list(reference.children())[:-2])
    expected = trunk(torch.from_numpy(frames.transpose(0, 3, 1, 2)))
  expected = expected.numpy().transpose(0, 2, 3, 1)
  assert features.shape == expected.shape
  np.testing.assert_allclose(features, expected, rtol=1e-3, atol=1e-3)


@pytest.mark.parametrize("modality,channels", [
    ("rgb_diff", 3), ("warped_flow", 2), ("flow", 2)])
def test_stacked_modalities_put_l_frames_on_conv1_channels(modality,
                                                            channels):
  model = _model(modalities=(modality,), new_length=3)
  variables = flops.abstract_variables(model, (2, 2 * 3, 16, 16, channels))
  kernel = variables["params"][f"{modality}_backbone"]["conv1"]["conv"][
      "kernel"]
  assert kernel.shape == (7, 7, 3 * channels, 8)
