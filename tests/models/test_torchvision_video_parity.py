"""torchvision video CNNs converted into ours give the same logits (eval mode).

Random init, every weight and BatchNorm running statistic randomised so that
each layout is seen; max |Δlogit| ≤ 1e-4 in float32 on 1×8×64×64 clips.
"""

import functools

import jax
import numpy as np
import pytest

from vst import flops
from vst.models import registry
from vst.models.convert import torchvision_video

torch = pytest.importorskip(
    "torch", reason="parity with torchvision needs torch and torchvision")
torchvision = pytest.importorskip(
    "torchvision", reason="parity with torchvision needs torch and torchvision")

NUM_CLASSES = 5
# S3D's 2×7×7 final pool needs ≥ 16 frames and 224² in torchvision; ours
# clips the window, so torchvision's is clipped the same way at 16×112².
CLIP_SHAPES = {"r3d_18": (1, 8, 64, 64, 3), "mc3_18": (1, 8, 64, 64, 3),
               "r2plus1d_18": (1, 8, 64, 64, 3), "s3d": (1, 16, 112, 112, 3)}


def _randomise(module):
  torch.manual_seed(0)
  with torch.no_grad():
    for key, tensor in module.state_dict().items():
      if key.endswith("num_batches_tracked"):
        continue
      if key.endswith("running_var"):
        tensor.copy_(0.5 + torch.rand_like(tensor))
      elif key.endswith(("weight", "bias", "running_mean")) and tensor.ndim == 1:
        tensor.copy_(0.5 * torch.randn_like(tensor) + (
            1.0 if key.endswith("weight") else 0.0))
      else:  # Conv and linear weights: keep activations O(1).
        fan_in = tensor[0].numel()
        tensor.copy_(torch.randn_like(tensor) * (2.0 / fan_in) ** 0.5)
  return module.eval()


def _classifier(module):
  return module.fc if hasattr(module, "fc") else module.classifier[1]


@functools.cache
def _torchvision_model(arch):
  """Randomised, with logits O(1) on `_clips(arch)`.

  Random BatchNorm statistics let activations grow through the blocks; the
  classifier is rescaled by its input's size so that the 1e-4 tolerance is
  tight relative to the logits (float32 keeps ~7 digits).
  """
  module = _randomise(getattr(torchvision.models.video, arch)(
      num_classes=NUM_CLASSES))
  if arch == "s3d":  # Clip the final pool's window as ours does.
    with torch.no_grad():
      features = module.features(_torch_clips(arch))
    window = tuple(min(w, s) for w, s in zip((2, 7, 7), features.shape[2:]))
    module.avgpool = torch.nn.AvgPool3d(window, stride=1)
  sizes = []
  hook = _classifier(module).register_forward_hook(
      lambda _, args, __: sizes.append(args[0].abs().max().item()))
  with torch.no_grad():
    module(_torch_clips(arch))
  hook.remove()
  with torch.no_grad():
    _classifier(module).weight /= sizes[0]
  return module


def _clips(arch):
  clips = np.random.default_rng(0).normal(size=CLIP_SHAPES[arch])
  return clips.astype(np.float32)


def _torch_clips(arch):
  return torch.from_numpy(_clips(arch).transpose(0, 4, 1, 2, 3))


def _ours(arch):
  name, variant = torchvision_video.TORCHVISION_MODELS[arch]
  return registry.build_model({"name": name, "variant": variant}, NUM_CLASSES)


@pytest.mark.parametrize("arch", sorted(CLIP_SHAPES))
def test_logits_match_torchvision_in_eval_mode(arch):
  reference = _torchvision_model(arch)
  clips, torch_clips = _clips(arch), _torch_clips(arch)
  with torch.no_grad():
    expected = reference(torch_clips).numpy()
  variables = torchvision_video.variables_from_torchvision(
      reference.state_dict(), arch)
  logits = jax.jit(functools.partial(_ours(arch).apply, train=False))(
      variables, clips)
  assert 0.1 < np.abs(expected).max() < 100  # a comparison of something
  np.testing.assert_allclose(logits, expected, atol=1e-4, rtol=0)


@pytest.mark.parametrize("arch", sorted(CLIP_SHAPES))
def test_converted_tree_is_the_initialised_tree(arch):
  reference = _torchvision_model(arch)
  variables = torchvision_video.variables_from_torchvision(
      reference.state_dict(), arch)
  initialised = flops.abstract_variables(_ours(arch), CLIP_SHAPES[arch])
  assert (jax.tree.map(np.shape, variables)
          == jax.tree.map(lambda x: x.shape, initialised))
  torch_count = sum(p.numel() for p in reference.parameters())
  assert flops.count_params(variables["params"]) == torch_count


def test_unconverted_keys_are_reported():
  state_dict = dict(_torchvision_model("r3d_18").state_dict())
  state_dict["extra.weight"] = torch.zeros(1)
  with pytest.raises(ValueError, match="extra.weight"):
    torchvision_video.variables_from_torchvision(state_dict, "r3d_18")


def test_bench_reference_only_for_the_same_architecture():
  kwargs = registry.module_kwargs({"name": "r2plus1d",
                                   "variant": "18_torchvision"}, 8)
  assert torchvision_video.torchvision_arch("r2plus1d", kwargs) == "r2plus1d_18"
  paper = registry.module_kwargs({"name": "r2plus1d", "variant": "18"}, 8)
  assert torchvision_video.torchvision_arch("r2plus1d", paper) is None
