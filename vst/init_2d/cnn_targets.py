"""Canonical 2D CNNs -> the 3D (and 2D-per-frame) CNNs built from them.

  resnet source    -> resnet3d (and the r2plus1d / p3d / csn registrations of
                      the same Module, which refuse: see below); TSN with a
                      ResNet backbone (resnet50, tiny_resnet: 2D, copied).
  googlenet source -> i3d (full 3×3×3 convs; needs model.bn_scale=True, since
                      torchvision's BatchNorm has a scale); s3d refuses
                      (separable convs).

Every 2D kernel [k, k, C, D] is inflated to the target's [t, k, k, C, D] by
`init_from.inflation` (vst.layers.inflate); 2D targets take it as is. An RGB
first conv feeding another input (flow: 2 channels, stacked snippets) gets
TSN's cross-modality init (the RGB mean, replicated).

A (2+1)D, P3D, separable or channel-separated conv holds a spatial and a
temporal factor (or a depthwise kernel) instead of one t×k×k kernel: a full
2D kernel has no faithful inflation into it, so such targets fail with a
ConfigError naming the parameter. Two-stream towers (CNN-M, VGG-16 without
BatchNorm) have no torchvision counterpart here and are refused.
"""

import re

from vst.errors import ConfigError
from vst.init_2d import transforms
from vst.init_2d.source import Source

RESNET_MODELS = ("resnet3d", "r2plus1d", "p3d", "csn", "tsn")
GOOGLENET_MODELS = ("i3d", "s3d")
_TSN_RESNETS = ("resnet50", "tiny_resnet")
# Sub-modules of a factorised SpaceTimeConv (vst.layers.conv3d).
_FACTORS = ("spatial_conv", "temporal_conv", "spatial_norm", "pointwise_conv",
            "pointwise_norm")


def _resnet3d_path(path: str) -> str | None:
  return path


def _tsn_path(modality: str):
  """TSN's ResNet (cnn_towers.ResNet) path -> canonical ResNet path."""
  prefix = f"{modality}_backbone/"

  def to_canonical(path: str) -> str | None:
    if path.startswith(f"{modality}_fc/"):
      return "head/" + path.split("/", 1)[1]
    if not path.startswith(prefix):
      return None
    path = path[len(prefix):]
    path = re.sub(r"^conv1/", "stem/", path)
    path = re.sub(r"^layer(\d+)_(\d+)/", r"stage\1_block\2/", path)
    path = re.sub(r"/downsample/", "/shortcut/", path)
    path = re.sub(r"/bn/", "/norm/", path)
    return path
  return to_canonical


def _i3d_path(stream: str):
  def to_canonical(path: str) -> str | None:
    if not path.startswith(f"{stream}/"):
      return None
    path = path[len(stream) + 1:]
    return re.sub(r"^logits/", "head/", path)
  return to_canonical


def _rules(targets, source: Source, mappers, inflation: str, model_name: str):
  allowed = ("a 2D kernel [k, k, C, D] with the same k, C (or C=3 for "
             "cross-modality) and D, inflated to [t, k, k, C, D]; grouped or "
             "channel-separated convs (model.groups, csn) differ in C")
  units = {k.rsplit("/", 2)[0] for k in source.arrays
           if k.endswith("/conv/kernel")}
  out = {}
  for key, shape in targets.items():
    collection, path = key.split("/", 1)
    canonical = next((c for c in (m(path) for m in mappers) if c), None)
    if canonical is None:
      continue
    ck = f"{collection}/{canonical}"
    if canonical.startswith("head/"):
      if ck in source.arrays:
        out[key] = transforms.Rule(ck, transforms.head(reshape=True))
      continue
    if ck in source.arrays:
      is_kernel = canonical.endswith("/kernel") and source.arrays[ck].ndim == 4
      out[key] = transforms.Rule(
          ck, transforms.kernel(inflation, allowed) if is_kernel
          else transforms.copy())
      continue
    parts = canonical.split("/")
    factor = next((p for p in parts if p in _FACTORS), None)
    if factor is not None:
      unit = "/".join(parts[:parts.index(factor)])
      if f"params/{unit}" in units:
        raise ConfigError(
            f"init_from: {key} is the {factor} of a factorised conv "
            f"(model.name={model_name!r}: (2+1)D, P3D, separable or "
            "channel-separated); the source's full 2D kernel "
            f"{source.origin[f'params/{unit}/conv/kernel']} cannot be "
            "inflated into a spatial and a temporal factor; allowed: targets "
            "whose t×k×k convs are full (resnet3d variants, i3d, "
            "factorization='full')")
    if "attention" in parts:
      continue  # SE / STC channel attention: new.
    raise ConfigError(
        f"init_from: {key} has no source parameter (expected {ck}): the 2D "
        "network's blocks or depths differ from the target's; allowed: a "
        "target with the source's blocks per stage and widths")
  return out


def _check_siblings(source: Source, used: set[str]) -> None:
  """ConfigError for a source weight dropped from a layer otherwise loaded:
  the target's layer computes something else (e.g. BN without scale)."""
  used_modules = {k.rsplit("/", 1)[0] for k in used}
  for key in sorted(set(source.arrays) - used):
    module = key.rsplit("/", 1)[0]
    if module in used_modules:
      hint = (" (an I3D with model.bn_scale=False has no BatchNorm scale: set "
              "model.bn_scale=True)" if key.endswith("/scale") else "")
      raise ConfigError(
          f"init_from: source {source.origin[key]} ({key}) has no "
          "counterpart in the target, though the rest of its layer loads: "
          f"the layers differ{hint}; allowed: targets whose layers hold the "
          "same parameters")


def rules(name: str, model, targets: dict[str, tuple], source: Source,
          options) -> tuple[dict[str, transforms.Rule], list[str]]:
  """({target key: Rule}, notes) for a CNN source and a CNN model."""
  notes = []
  if source.family == "resnet":
    if name == "tsn":
      if model.backbone not in _TSN_RESNETS:
        raise ConfigError(
            f"init_from: a ResNet checkpoint cannot initialise TSN's "
            f"model.backbone={model.backbone!r}; allowed: "
            f"{', '.join(_TSN_RESNETS)}")
      mappers = [_tsn_path(m) for m in model.modalities]
      if model.consensus not in ("avg", "max"):
        notes.append(f"consensus={model.consensus!r} has no single fc: "
                     "the source head is unused")
    elif name in RESNET_MODELS:
      mappers = [_resnet3d_path]
      if getattr(model, "shortcut", "B") == "A":
        notes.append("model.shortcut='A' (parameter-free) replaces the "
                     "source's projection shortcuts (downsample), left unused")
    else:
      raise ConfigError(
          f"init_from: a torchvision ResNet cannot initialise "
          f"model.name={name!r}; allowed: {', '.join(RESNET_MODELS)}"
          + (" (two_stream's towers are CNN-M-2048 / VGG-16, which no "
             "torchvision ResNet maps onto)" if name == "two_stream" else ""))
  else:
    if name not in GOOGLENET_MODELS:
      raise ConfigError(
          f"init_from: a torchvision GoogLeNet cannot initialise "
          f"model.name={name!r}; allowed: {', '.join(GOOGLENET_MODELS)}")
    mappers = [_i3d_path(s) for s in model.streams]
  out = _rules(targets, source, mappers, options.inflation, name)
  _check_siblings(source, {r.source for r in out.values()})
  return out, notes
