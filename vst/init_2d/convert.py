"""Image checkpoint -> a video model's variables, with the report.

  values, report = convert(init_from, "vivit", model, abstract_variables)

reads the file (`readers`), brings it to its family's canonical layout
(`vit_sources`, `cnn_sources`), asks the target family's mapping
(`vit_targets`, `cnn_targets`) for one rule per mappable target parameter,
applies them and records every target parameter's fate (`report`). Target
parameters without a rule keep their fresh initialisation ("new").
"""

from typing import Any, Mapping

from flax import traverse_util
import numpy as np

from vst.errors import ConfigError, check_choice
from vst.init_2d import cnn_sources
from vst.init_2d import cnn_targets
from vst.init_2d import readers
from vst.init_2d import transforms
from vst.init_2d import vit_sources
from vst.init_2d import vit_targets
from vst.init_2d.report import Entry, Report
from vst.init_2d.source import Source

_CANONICALISE = {
    "big_vision_npz": vit_sources.from_jax_npz,
    "timm_safetensors": vit_sources.from_timm,
    "torchvision": cnn_sources.from_torchvision,
}
_TARGETS = {
    "vit": vit_targets.rules,
    "resnet": cnn_targets.rules,
    "googlenet": cnn_targets.rules,
}
COLLECTIONS = ("params", "batch_stats")


def check_options(init_from) -> None:
  """ConfigError for a bad `init_from` choice (the file is checked on read)."""
  check_choice("init_from.format", init_from.format, readers.FORMATS)
  check_choice("init_from.tubelet_init", init_from.tubelet_init,
               transforms.TUBELET_INITS)
  check_choice("init_from.inflation", init_from.inflation,
               transforms.INFLATIONS)


def load_source(path: str, fmt: str = "auto") -> tuple[str, Source]:
  """(resolved format, canonical Source) of a checkpoint file."""
  fmt, arrays = readers.read(path, fmt)
  return fmt, _CANONICALISE[fmt](arrays)


def flat_shapes(variables: Mapping[str, Any]) -> dict[str, tuple]:
  """{"params/<path>": shape} of the params and batch_stats collections."""
  out = {}
  for collection in COLLECTIONS:
    tree = variables.get(collection) or {}
    for path, leaf in traverse_util.flatten_dict(dict(tree), sep="/").items():
      out[f"{collection}/{path}"] = tuple(np.shape(leaf))
  return out


def convert(init_from, model_name: str, model, variables: Mapping[str, Any],
            model_label: str = "") -> tuple[dict[str, np.ndarray], Report]:
  """Target values from the checkpoint `init_from.path`, and the report.

  Args:
    init_from: the `config.init_from` section (path, format, tubelet_init,
      inflation).
    model_name: `config.model.name`.
    model: the built Module (its fields pick the layout, e.g. vivit_model).
    variables: the model's variables or their shapes (`jax.eval_shape`),
      with "params" and optionally "batch_stats".
    model_label: how the report names the model (default `model_name`).

  Returns:
    ({"params/<path>" | "batch_stats/<path>": array} for every parameter the
    checkpoint initialises, the Report covering every target parameter).

  Raises:
    ConfigError: bad options or file, an unsupported source/target pair, or a
      shape no allowed transformation maps (naming the target path).
  """
  check_options(init_from)
  fmt, source = load_source(init_from.path, init_from.format)
  targets = flat_shapes(variables)
  rules, notes = _TARGETS[source.family](model_name, model, targets, source,
                                         init_from)
  values, entries, used = {}, [], set()
  for key, shape in sorted(targets.items()):
    rule = rules.get(key)
    result = None
    if rule is not None:
      value = source.arrays[rule.source]
      result = rule.transform(value, shape, key, source.origin[rule.source])
    if result is None:
      detail = ("the source head has another class count"
                if rule is not None else "")
      entries.append(Entry(key, "new", shape, detail=detail))
      continue
    array, status, detail = result
    if tuple(array.shape) != shape:  # A transform bug, never a user error.
      raise AssertionError(f"{key}: made {array.shape}, needs {shape}")
    values[key] = np.asarray(array, np.float32)
    used.add(rule.source)
    entries.append(Entry(key, status, shape, source.origin[rule.source],
                         tuple(source.arrays[rule.source].shape), detail))
  unused = sorted(source.origin[k] for k in set(source.arrays) - used)
  unused += [f"{k} (not converted)" for k in source.unused]
  if not values:
    raise ConfigError(f"init_from: nothing in {init_from.path} maps onto "
                      f"{model_name}")
  report = Report(init_from.path, fmt, source.family,
                  model_label or model_name, entries, unused,
                  source.notes + notes)
  return values, report


def merge(tree: Mapping[str, Any], values: Mapping[str, Any],
          collection: str, put=lambda value, old: value) -> dict:
  """`tree` (one collection) with the leaves `values` names replaced.

  `put(value, old_leaf)` makes the new leaf (e.g. places it with the old
  leaf's sharding).
  """
  flat = traverse_util.flatten_dict(dict(tree), sep="/")
  prefix = f"{collection}/"
  for key, value in values.items():
    if key.startswith(prefix):
      path = key[len(prefix):]
      flat[path] = put(value.astype(flat[path].dtype), flat[path])
  return traverse_util.unflatten_dict(flat, sep="/")
