"""Things looked up by name: models, datasets, attention patterns, references.

Each kind has one `Registry`. A file that defines an entry registers it when
it is imported, and the registry imports those files itself the first time a
name is looked up, by one rule (`PackageModules`): every public module of a
package, optionally only those whose name starts with a prefix. So adding a
model, dataset or pattern is adding a file; no shared list changes.

  MODELS = Registry("model", "model.name", PackageModules("vst.models"))
  MODELS.register("vivit", entry)
  MODELS.get("vivt")  # ConfigError: model.name='vivt' is not valid; allowed: ...

This module imports nothing of vst but `vst.errors`, so any layer may hold a
registry without an import pointing up.
"""

import dataclasses
import importlib
import pkgutil
from typing import Generic, TypeVar

from vst.errors import check_choice

Value = TypeVar("Value")


@dataclasses.dataclass(frozen=True)
class PackageModules:
  """The discovery rule: every public module (no leading underscore, not a
  subpackage) of `package` whose name starts with `prefix`."""
  package: str
  prefix: str = ""

  def modules(self) -> list[str]:
    """Full module names, sorted."""
    package = importlib.import_module(self.package)
    return sorted(
        f"{self.package}.{info.name}"
        for info in pkgutil.iter_modules(package.__path__)
        if not info.ispkg and not info.name.startswith("_")
        and info.name.startswith(self.prefix))


class Registry(Generic[Value]):
  """Names of one `kind` mapped to values, checked against config `field`.

  Entries registered by the discovered modules (or with `builtin=True`, the
  default) are vst's own; a study, notebook or test that adds one passes
  `builtin=False`, so `builtin_names()` lists what vst defines.
  """

  def __init__(self, kind: str, field: str,
               discover: PackageModules | None = None):
    self.kind = kind
    self.field = field
    self.discovery = discover
    self._values: dict[str, Value] = {}
    self._builtin: set[str] = set()
    self._discovered = discover is None

  def register(self, name: str, value: Value, *, builtin: bool = True) -> None:
    if name in self._values:
      raise ValueError(f"{self.kind} {name!r} registered twice")
    self._values[name] = value
    if builtin:
      self._builtin.add(name)

  def discover(self) -> None:
    """Imports the discovery rule's modules, once. The registry counts as
    discovered before the imports run, so a module that fails to import
    raises here once and later look-ups see everything that did import (the
    model table reports a model file still being written that way)."""
    if self._discovered:
      return
    self._discovered = True
    for module in self.discovery.modules():
      importlib.import_module(module)

  def names(self) -> list[str]:
    self.discover()
    return sorted(self._values)

  def builtin_names(self) -> list[str]:
    self.discover()
    return sorted(self._builtin)

  def __contains__(self, name: str) -> bool:
    self.discover()
    return name in self._values

  def get(self, name: str, field: str | None = None) -> Value:
    """The value of `name`; ConfigError naming `field` (by default the
    registry's) and listing the valid names if there is none."""
    check_choice(field or self.field, name, self.names())
    return self._values[name]
