"""One registry of video models: a name, a Module class and its variants as data.

A model file registers itself with

  VARIANTS = {"B/16x2": dict(hidden_size=768, ...), ...}
  register("vivit", ViViT, VARIANTS)

and everything else (trainer, bench, model table, tests) builds models only via
`build_model(model_config, num_classes)`, so a name is checked once, here.
"""

import dataclasses
import importlib
from typing import Any, Mapping

import flax.linen as nn

from vst.errors import ConfigError, check_choice

# Model files imported on first use of the registry. A new model file adds its
# module name here; nothing else in vst needs to know about it.
MODEL_MODULES = (
    "vst.models.single_frame",
    "vst.models.vivit",
)

# Config fields of `config.model` that are not constructor arguments.
_NON_MODULE_FIELDS = ("name", "variant")


@dataclasses.dataclass(frozen=True)
class ModelEntry:
  name: str
  module_cls: type
  variants: Mapping[str, Mapping[str, Any]]

  def field_names(self) -> set[str]:
    return {f.name for f in dataclasses.fields(self.module_cls)} - {"parent", "name"}


_REGISTRY: dict[str, ModelEntry] = {}
_loaded = False


def register(name: str, module_cls: type, variants: Mapping[str, Mapping[str, Any]]):
  if name in _REGISTRY:
    raise ValueError(f"model {name!r} registered twice")
  _REGISTRY[name] = ModelEntry(name, module_cls, dict(variants))


def _load_all():
  global _loaded
  if not _loaded:
    _loaded = True
    for module in MODEL_MODULES:
      importlib.import_module(module)


def list_models() -> list[str]:
  _load_all()
  return sorted(_REGISTRY)


def get_entry(name: str) -> ModelEntry:
  _load_all()
  check_choice("model.name", name, sorted(_REGISTRY))
  return _REGISTRY[name]


def module_kwargs(model_config: Mapping[str, Any], num_classes: int) -> dict[str, Any]:
  """Variant defaults overlaid with the config's explicit fields, checked."""
  entry = get_entry(model_config["name"])
  variant = model_config.get("variant")
  check_choice(f"model.variant (for {entry.name})", variant, entry.variants)
  kwargs = dict(entry.variants[variant])
  valid = entry.field_names()
  for key, value in model_config.items():
    if key in _NON_MODULE_FIELDS:
      continue
    if key not in valid:
      raise ConfigError(
          f"model.{key} is not a field of {entry.name}; allowed: "
          f"{', '.join(sorted(valid - {'num_classes'}))}")
    kwargs[key] = value
  kwargs["num_classes"] = num_classes
  return kwargs


def build_model(model_config: Mapping[str, Any], num_classes: int) -> nn.Module:
  """The Module for `model_config` (a ConfigDict or dict with name, variant, ...)."""
  if hasattr(model_config, "to_dict"):
    model_config = model_config.to_dict()
  entry = get_entry(model_config["name"])
  kwargs = module_kwargs(model_config, num_classes)
  return entry.module_cls(**kwargs)


def check_input_shape(model: nn.Module, shape) -> None:
  """Raises ConfigError if `model` cannot take clips of `shape` = (T, H, W, C).

  A model that constrains its input (a tubelet must divide the frames, a window
  the grid) defines `validate_input(shape)` raising ConfigError that names the
  dataset field to change.
  """
  validate = getattr(model, "validate_input", None)
  if validate is not None:
    validate(tuple(shape))
