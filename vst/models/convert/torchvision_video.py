"""torchvision video CNNs -> `vst.models.resnet3d` / `vst.models.i3d` variables.

  tv = torchvision.models.video.r2plus1d_18(weights=...)
  name, variant = TORCHVISION_MODELS["r2plus1d_18"]
  model = vst.models.build_model({"name": name, "variant": variant}, 400)
  variables = variables_from_torchvision(tv.state_dict(), "r2plus1d_18")
  logits = model.apply(variables, clips, train=False)

`clips` is [B, T, H, W, C], the transpose of torchvision's (B, C, T, H, W).
The variables hold "params" and "batch_stats" (BatchNorm running averages).

Layouts that differ:
  - Conv3d weight [O, I/groups, t, h, w] -> flax kernel [t, h, w, I/groups, O].
  - BatchNorm weight/bias -> scale/bias; running_mean/var -> batch_stats
    mean/var. Momentum conventions differ (flax = 1 - torch) but only matter
    when training; the variants set torchvision's.
  - Linear weight [out, in] -> Dense kernel [in, out].

Module paths: VideoResNet `stem`, `layer{i}.{j}.conv{1,2}`, `downsample`, `fc`
map to our `stem`, `stage{i}_block{j}/conv{1,2}`, `shortcut`, `head`; S3D's
`features.{k}` map to our I3D trunk's `conv1a` ... `mixed_5c`, and
`classifier.1` to `logits`.
"""

from typing import Any, Mapping

import numpy as np

from vst.models.convert import references

# torchvision builder -> (our registry name, variant).
TORCHVISION_MODELS = {
    "r3d_18": ("resnet3d", "r3d_18"),
    "mc3_18": ("resnet3d", "mc3_18"),
    "r2plus1d_18": ("r2plus1d", "18_torchvision"),
    "s3d": ("s3d", "torchvision"),
}


class _Weights:
  """A state dict as float32 numpy, consumed key by key."""

  def __init__(self, state_dict: Mapping[str, Any]):
    self.weights = {}
    for key, value in state_dict.items():
      if key.endswith("num_batches_tracked"):
        continue
      if hasattr(value, "detach"):  # A torch tensor.
        value = value.detach().cpu().float().numpy()
      self.weights[key] = np.asarray(value, np.float32)

  def take(self, key: str) -> np.ndarray:
    if key not in self.weights:
      raise ValueError(f"torchvision state dict has no {key!r}")
    return self.weights.pop(key)

  def conv(self, prefix: str, bias: bool = False) -> dict:
    out = {"kernel": self.take(f"{prefix}.weight").transpose(2, 3, 4, 1, 0)}
    if bias:
      out["bias"] = self.take(f"{prefix}.bias")
    return out

  def norm(self, prefix: str) -> tuple[dict, dict]:
    return ({"scale": self.take(f"{prefix}.weight"),
             "bias": self.take(f"{prefix}.bias")},
            {"mean": self.take(f"{prefix}.running_mean"),
             "var": self.take(f"{prefix}.running_var")})

  def check_consumed(self) -> None:
    if self.weights:
      raise ValueError(f"torchvision keys not converted: {sorted(self.weights)}")


def _unit(w: _Weights, params: dict, stats: dict, name: str,
          convs: dict[str, str], norms: dict[str, str]) -> None:
  """One `SpaceTimeConv` from its torch convs and norms (ours -> theirs)."""
  params[name], stats[name] = {}, {}
  for ours, theirs in convs.items():
    params[name][ours] = w.conv(theirs)
  for ours, theirs in norms.items():
    params[name][ours], stats[name][ours] = w.norm(theirs)


def _space_time(w, params, stats, name, conv_prefix, norm_prefix):
  """A VideoResNet conv builder: Conv3DSimple/NoTemporal or Conv2Plus1D."""
  if f"{conv_prefix}.weight" in w.weights:
    _unit(w, params, stats, name, {"conv": conv_prefix}, {"norm": norm_prefix})
  else:  # Conv2Plus1D: Sequential(spatial conv, BN, ReLU, temporal conv).
    _unit(w, params, stats, name,
          {"spatial_conv": f"{conv_prefix}.0", "temporal_conv": f"{conv_prefix}.3"},
          {"spatial_norm": f"{conv_prefix}.1", "norm": norm_prefix})


def _video_resnet(w: _Weights) -> dict:
  params, stats = {}, {}
  if "stem.3.weight" in w.weights:  # R2Plus1dStem.
    _unit(w, params, stats, "stem",
          {"spatial_conv": "stem.0", "temporal_conv": "stem.3"},
          {"spatial_norm": "stem.1", "norm": "stem.4"})
  else:
    _unit(w, params, stats, "stem", {"conv": "stem.0"}, {"norm": "stem.1"})
  for i in range(1, 5):
    j = 0
    while f"layer{i}.{j}.conv1.1.weight" in w.weights:
      prefix, name = f"layer{i}.{j}", f"stage{i}_block{j}"
      p, s = params.setdefault(name, {}), stats.setdefault(name, {})
      for conv in ("conv1", "conv2"):
        _space_time(w, p, s, conv, f"{prefix}.{conv}.0", f"{prefix}.{conv}.1")
      if f"{prefix}.downsample.0.weight" in w.weights:
        _unit(w, p, s, "shortcut", {"conv": f"{prefix}.downsample.0"},
              {"norm": f"{prefix}.downsample.1"})
      j += 1
  params["head"] = {"kernel": w.take("fc.weight").T, "bias": w.take("fc.bias")}
  return {"params": params, "batch_stats": stats}


# S3D's `features` Sequential, index -> our trunk module (pools skipped).
_S3D_FEATURES = {0: "conv1a", 2: "conv2b", 3: "conv2c", 5: "mixed_3b",
                 6: "mixed_3c", 8: "mixed_4b", 9: "mixed_4c", 10: "mixed_4d",
                 11: "mixed_4e", 12: "mixed_4f", 14: "mixed_5b", 15: "mixed_5c"}


def _s3d_unit(w, params, stats, name, prefix):
  """Conv3dNormActivation (`.0` conv, `.1` BN) or TemporalSeparableConv."""
  if f"{prefix}.0.weight" in w.weights:
    _unit(w, params, stats, name, {"conv": f"{prefix}.0"},
          {"norm": f"{prefix}.1"})
  else:
    _unit(w, params, stats, name,
          {"spatial_conv": f"{prefix}.0.0", "temporal_conv": f"{prefix}.1.0"},
          {"spatial_norm": f"{prefix}.0.1", "norm": f"{prefix}.1.1"})


def _s3d(w: _Weights) -> dict:
  params, stats = {}, {}
  for index, name in _S3D_FEATURES.items():
    prefix = f"features.{index}"
    if name.startswith("mixed"):
      p, s = params.setdefault(name, {}), stats.setdefault(name, {})
      for ours, theirs in (("branch0", "branch0"),
                           ("branch1_reduce", "branch1.0"),
                           ("branch1", "branch1.1"),
                           ("branch2_reduce", "branch2.0"),
                           ("branch2", "branch2.1"),
                           ("branch3", "branch3.1")):
        _s3d_unit(w, p, s, ours, f"{prefix}.{theirs}")
    else:
      _s3d_unit(w, params, stats, name, prefix)
  params["logits"] = w.conv("classifier.1", bias=True)
  return {"params": {"rgb": params}, "batch_stats": {"rgb": stats}}


def variables_from_torchvision(state_dict: Mapping[str, Any],
                               arch: str) -> dict[str, Any]:
  """Our {"params", "batch_stats"} from a torchvision video model's state dict.

  Args:
    state_dict: of `torchvision.models.video.<arch>` (tensors or numpy).
    arch: a key of `TORCHVISION_MODELS`.

  Returns:
    Nested dicts of numpy arrays for `model.apply(variables, ...)` with the
    model `TORCHVISION_MODELS[arch]` names.

  Raises:
    ValueError: if a key is missing or left over.
  """
  if arch not in TORCHVISION_MODELS:
    raise ValueError(f"unknown torchvision video model {arch!r}; known: "
                     f"{', '.join(TORCHVISION_MODELS)}")
  w = _Weights(state_dict)
  variables = _s3d(w) if arch == "s3d" else _video_resnet(w)
  w.check_consumed()
  return variables


def torchvision_arch(name: str, kwargs: Mapping[str, Any]) -> str | None:
  """The torchvision builder computing what our `name` with `kwargs` does."""
  from vst.models import registry  # pylint: disable=g-import-not-at-top
  for arch, (model_name, variant) in TORCHVISION_MODELS.items():
    if model_name != name:
      continue
    fields = registry.get_entry(name).variants[variant]
    if all(kwargs.get(k) == v for k, v in fields.items()):
      return arch
  return None


def _reference(name: str):
  def build(config, kwargs):
    arch = torchvision_arch(name, kwargs)
    if arch is None:
      return None
    import torchvision  # pylint: disable=g-import-not-at-top
    return getattr(torchvision.models.video, arch)(
        num_classes=int(config.dataset.num_classes))
  build.__doc__ = f"torchvision.models.video for {name}, when it has one."
  return build


for _name in ("resnet3d", "r2plus1d", "s3d"):
  references.register(_name, layout="BCTHW")(_reference(_name))
