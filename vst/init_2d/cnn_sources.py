"""torchvision 2D CNN state dicts (ResNet, GoogLeNet) in canonical layouts.

The canonical paths are those of the video networks the sources inflate
into, so the ResNet3D and I3D mappings are nearly the identity:

  resnet     (torchvision resnet18/34/50/101/152, resnext, wide_resnet)
    stem/conv/kernel [7, 7, 3, 64], stem/norm/{scale,bias} (+ batch_stats
    mean/var), stage{i}_block{j}/conv{k}/{conv,norm}, .../shortcut/{conv,norm}
    (torchvision's `layer{i}.{j}.downsample`), head/{kernel,bias} (`fc`).
  googlenet  (torchvision googlenet, Inception-v1 with BatchNorm)
    conv1a, conv2b, conv2c, mixed_{3b..5c}/branch{0,1_reduce,1,2_reduce,2,3}
    each {conv,norm} as in `vst.models.i3d`; head/{kernel,bias} (`fc`).
    torchvision's "5×5" branch is 3×3 (a known deviation it keeps for
    its weights), which is exactly I3D's branch2.

Conv weights [O, I/g, k_h, k_w] become flax kernels [k_h, k_w, I/g, O];
BatchNorm weight/bias become scale/bias and running_mean/var the batch_stats
mean/var; Linear [out, in] becomes a Dense kernel [in, out].
"""

import numpy as np

from vst.errors import ConfigError
from vst.init_2d.source import KeyTaker, Source

_IGNORED = ("num_batches_tracked",)


def _conv(w: KeyTaker, source: Source, theirs: str, ours: str) -> None:
  source.put(f"params/{ours}/kernel",
             w.take(f"{theirs}.weight").transpose(2, 3, 1, 0),
             f"{theirs}.weight [O,I,h,w]→[h,w,I,O]")
  if w.has(f"{theirs}.bias"):
    source.put(f"params/{ours}/bias", w.take(f"{theirs}.bias"),
               f"{theirs}.bias")


def _bn(w: KeyTaker, source: Source, theirs: str, ours: str) -> None:
  for collection, ours_leaf, theirs_leaf in (
      ("params", "scale", "weight"), ("params", "bias", "bias"),
      ("batch_stats", "mean", "running_mean"),
      ("batch_stats", "var", "running_var")):
    source.put(f"{collection}/{ours}/{ours_leaf}",
               w.take(f"{theirs}.{theirs_leaf}"), f"{theirs}.{theirs_leaf}")


def _head(w: KeyTaker, source: Source) -> None:
  if w.has("fc.weight"):
    source.put("params/head/kernel", w.take("fc.weight").T, "fc.weight ᵀ")
    source.put("params/head/bias", w.take("fc.bias"), "fc.bias")


def _resnet(w: KeyTaker) -> Source:
  source = Source("resnet")
  _conv(w, source, "conv1", "stem/conv")
  _bn(w, source, "bn1", "stem/norm")
  for i in range(1, 5):
    j = 0
    while w.has(f"layer{i}.{j}.conv1.weight"):
      theirs, ours = f"layer{i}.{j}", f"stage{i}_block{j}"
      k = 1
      while w.has(f"{theirs}.conv{k}.weight"):
        _conv(w, source, f"{theirs}.conv{k}", f"{ours}/conv{k}/conv")
        _bn(w, source, f"{theirs}.bn{k}", f"{ours}/conv{k}/norm")
        k += 1
      if w.has(f"{theirs}.downsample.0.weight"):
        _conv(w, source, f"{theirs}.downsample.0", f"{ours}/shortcut/conv")
        _bn(w, source, f"{theirs}.downsample.1", f"{ours}/shortcut/norm")
      j += 1
  _head(w, source)
  return source


# torchvision GoogLeNet module -> I3D trunk module.
GOOGLENET_MODULES = {
    "conv1": "conv1a", "conv2": "conv2b", "conv3": "conv2c",
    "inception3a": "mixed_3b", "inception3b": "mixed_3c",
    "inception4a": "mixed_4b", "inception4b": "mixed_4c",
    "inception4c": "mixed_4d", "inception4d": "mixed_4e",
    "inception4e": "mixed_4f", "inception5a": "mixed_5b",
    "inception5b": "mixed_5c",
}
GOOGLENET_BRANCHES = {
    "branch1": "branch0", "branch2.0": "branch1_reduce", "branch2.1": "branch1",
    "branch3.0": "branch2_reduce", "branch3.1": "branch2",
    "branch4.1": "branch3",
}


def _googlenet(w: KeyTaker) -> Source:
  source = Source("googlenet")
  for theirs, ours in GOOGLENET_MODULES.items():
    units = ({theirs: ours} if theirs.startswith("conv") else
             {f"{theirs}.{b}": f"{ours}/{o}"
              for b, o in GOOGLENET_BRANCHES.items()})
    for unit_theirs, unit_ours in units.items():
      _conv(w, source, f"{unit_theirs}.conv", f"{unit_ours}/conv")
      _bn(w, source, f"{unit_theirs}.bn", f"{unit_ours}/norm")
  _head(w, source)
  source.notes.append(
      "torchvision GoogLeNet max-pools with ceil_mode and no padding where "
      "I3D pads symmetrically, and its pretrained weights expect "
      "transform_input (ImageNet normalisation re-done inside the model): the "
      "inflated I3D starts from the GoogLeNet weights but does not reproduce "
      "its outputs exactly")
  return source


def from_torchvision(arrays: dict[str, np.ndarray]) -> Source:
  """A torchvision ResNet or GoogLeNet state dict, told apart by its keys."""
  arrays = {k: v for k, v in arrays.items() if not k.endswith(_IGNORED)}
  if "layer1.0.conv1.weight" in arrays:
    w = KeyTaker(arrays, "torchvision ResNet")
    source = _resnet(w)
  elif "inception3a.branch1.conv.weight" in arrays:
    w = KeyTaker(arrays, "torchvision GoogLeNet")
    source = _googlenet(w)
  else:
    raise ConfigError(
        "init_from: a torchvision checkpoint must be a ResNet (keys "
        "'conv1.weight', 'layer1.0.conv1.weight', ...) or a GoogLeNet "
        "('conv1.conv.weight', 'inception3a.branch1.conv.weight', ...); "
        f"found {', '.join(sorted(arrays)[:8])} ...")
  source.unused = w.left()
  return source
