"""One registry of video models: a name, a Module class and its variants as data.

A model file registers itself with

  VARIANTS = {"B/16x2": dict(hidden_size=768, ...), ...}
  register("vivit", ViViT, VARIANTS)

and everything else (trainer, bench, model table, tests) builds models only via
`build_model(model_config, num_classes)`, so a name is checked once, here.
"""

import dataclasses
from typing import Any, Mapping

import flax.linen as nn
import ml_collections
from ml_collections import config_dict

from vst.errors import ConfigError, check_choice
from vst.registry import PackageModules, Registry


# Config fields of `config.model` that are not constructor arguments.
_NON_MODULE_FIELDS = ("name", "variant")


@dataclasses.dataclass(frozen=True)
class ModelEntry:
  name: str
  module_cls: type
  variants: Mapping[str, Mapping[str, Any]]

  def field_names(self) -> set[str]:
    return {f.name for f in dataclasses.fields(self.module_cls)} - {"parent", "name"}


# Every module of the `vst.models` package is a model file that registers
# itself on import, so adding a model is adding a file: nothing else in vst
# needs to know about it (and two new models never edit one shared list).
MODELS: Registry[ModelEntry] = Registry("model", "model.name",
                                        PackageModules("vst.models"))


def model_modules() -> list[str]:
  """The modules imported to find the models, `vst.models.<file>`, sorted:
  the model files, and this one (importing it again does nothing)."""
  return MODELS.discovery.modules()


def register(name: str, module_cls: type, variants: Mapping[str, Mapping[str, Any]]):
  MODELS.register(name, ModelEntry(name, module_cls, dict(variants)))


def list_models() -> list[str]:
  return MODELS.names()


def get_entry(name: str) -> ModelEntry:
  return MODELS.get(name)


def _not_a_field(entry: ModelEntry, key: str) -> ConfigError:
  return ConfigError(
      f"model.{key} is not a field of {entry.name}; allowed: "
      f"{', '.join(sorted(entry.field_names() - {'num_classes'}))}")


def module_kwargs(model_config: Mapping[str, Any], num_classes: int) -> dict[str, Any]:
  """Variant defaults overlaid with the config's explicit fields, checked."""
  entry = get_entry(model_config["name"])
  variant = model_config.get("variant")
  check_choice(f"model.variant (for {entry.name})", variant, entry.variants)
  kwargs = dict(entry.variants[variant])
  valid = entry.field_names()
  for key, value in model_config.items():
    # None is a `model_config` placeholder: the variant's value stands.
    if key in _NON_MODULE_FIELDS or value is None:
      continue
    if key not in valid:
      raise _not_a_field(entry, key)
    kwargs[key] = value
  kwargs["num_classes"] = num_classes
  return kwargs


def model_config(name: str, variant: str,
                 **fields: Any) -> ml_collections.ConfigDict:
  """`config.model` for `name`/`variant`, listing every field of the Module.

  Configs are locked, so only listed fields can be overridden from the command
  line; listing them all makes `--config.model.<any field>=...` work and shows
  a config's reader every knob. Fields the variant sets are typed placeholders
  left at None ("the variant's value"), so that `--config.model.variant=L/16x2`
  still changes the architecture; the others hold the Module's defaults.
  `fields` are a paper config's own settings (`drop_path_rate=0.2`), each
  checked to be a field of the Module.
  """
  entry = get_entry(name)
  check_choice(f"model.variant (for {name})", variant, entry.variants)
  preset = entry.variants[variant]
  c = ml_collections.ConfigDict()
  c.name, c.variant = name, variant
  for field in dataclasses.fields(entry.module_cls):
    if field.name in ("parent", "name", "num_classes"):
      continue
    if field.name in preset:
      c[field.name] = config_dict.placeholder(type(preset[field.name]))
    elif field.default is not dataclasses.MISSING:
      c[field.name] = field.default
  for key, value in fields.items():
    if key not in entry.field_names() - {"num_classes"}:
      raise _not_a_field(entry, key)
    c[key] = value
  return c


def build_model(model_config: Mapping[str, Any], num_classes: int) -> nn.Module:
  """The Module for `model_config` (a ConfigDict or dict with name, variant, ...)."""
  if hasattr(model_config, "to_dict"):
    model_config = model_config.to_dict()
  entry = get_entry(model_config["name"])
  kwargs = module_kwargs(model_config, num_classes)
  return entry.module_cls(**kwargs)


def check_input_shape(model: nn.Module, shape) -> None:
  """Raises ConfigError if `model` cannot take inputs of `shape`.

  `shape` is one example's (T, H, W, C), or {modality: (T, H, W, C)} for a
  multi-modal dataset. A model that constrains its input (a tubelet must
  divide the frames, a window the grid, a stream needs its modality) defines
  `validate_input(shape)` raising ConfigError that names the dataset field
  to change; a model that reads one clip array is told so when the dataset
  gives a dict.
  """
  validate = getattr(model, "validate_input", None)
  if validate is None:
    return
  if not isinstance(shape, Mapping):
    validate(tuple(shape))
    return
  shape = {name: tuple(s) for name, s in shape.items()}
  try:
    validate(shape)
  except ConfigError:
    raise
  except (TypeError, ValueError, KeyError, AttributeError) as e:
    # A model written for one clip array fails on a dict before it can say
    # anything useful; the dataset's modalities are the thing to change.
    raise ConfigError(
        f"{type(model).__name__} takes one clip array (T, H, W, C), but the "
        f"dataset gives a dict of modalities {sorted(shape)}; use a dataset "
        "that yields clip arrays (synthetic_motion, or a video dataset with "
        "one dataset.modalities entry)") from e