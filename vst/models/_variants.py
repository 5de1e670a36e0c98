"""Helper for model files: variants that all name the same fields."""

import dataclasses
from typing import Any, Mapping


def complete_variants(module_cls: type,
                      variants: Mapping[str, Mapping[str, Any]]) -> dict:
  """`variants` with every field any of them sets, Module defaults filled in.

  `registry.model_config(name, variant)` leaves the fields its variant sets as
  placeholders and writes the Module default for the others, so
  `--config.model.variant=X` can only change fields the config's variant also
  sets. Naming the same fields in every variant of a model makes every
  variant reachable from any config.
  """
  defaults = {f.name: f.default for f in dataclasses.fields(module_cls)
              if f.default is not dataclasses.MISSING}
  keys = set().union(*variants.values())
  return {name: {key: fields.get(key, defaults.get(key)) for key in keys}
          for name, fields in variants.items()}
