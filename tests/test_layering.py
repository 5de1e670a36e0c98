"""Imports point down only: base ← layers ← models ← everything else.

Every module under vst/ is parsed (not imported) and each of its import
statements, lazy ones inside functions included, is an edge. A layer or a
model may import only what sits below it, so a model can be built, converted
and tested without the trainer, the bench or the tools, and no import cycle
runs through them.
"""

import ast
import pathlib

VST = pathlib.Path(__file__).parents[1] / "vst"

# Modules that import nothing of vst but each other: any layer may use them.
BASE = ("vst.errors", "vst.registry", "vst.flops", "vst.timing")

# Package -> the vst modules (and packages) its modules may import.
ALLOWED = {
    "vst.layers": BASE + ("vst.layers",),
    "vst.models": BASE + ("vst.layers", "vst.models"),
}
ALLOWED.update({module: BASE for module in BASE})


def _module_name(path: pathlib.Path) -> str:
  parts = path.relative_to(VST.parent).with_suffix("").parts
  return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imported(node: ast.AST, module: str, is_package: bool) -> list[str]:
  """The vst modules an import statement names (for `from vst import x`,
  `vst.x`, which may be a module)."""
  if isinstance(node, ast.Import):
    return [alias.name for alias in node.names]
  if not isinstance(node, ast.ImportFrom):
    return []
  base = node.module or ""
  if node.level:  # Relative: resolve against this module's package.
    package = module.split(".")
    package = package if is_package else package[:-1]
    package = package[:len(package) - (node.level - 1)]
    base = ".".join(package + ([node.module] if node.module else []))
  if base == "vst":
    return [f"vst.{alias.name}" for alias in node.names]
  return [base]


def _within(name: str, prefixes) -> bool:
  return any(name == p or name.startswith(p + ".") for p in prefixes)


def _rule(module: str):
  """(owner, allowed prefixes) of the layer `module` belongs to, or None."""
  for owner in sorted(ALLOWED, key=len, reverse=True):
    if _within(module, (owner,)):
      return owner, ALLOWED[owner]
  return None


def import_edges():
  """(file, line, importer, imported) for every vst import under vst/."""
  for path in sorted(VST.rglob("*.py")):
    module = _module_name(path)
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
      for name in _imported(node, module, path.name == "__init__.py"):
        if _within(name, ("vst",)):
          yield path.relative_to(VST.parent), node.lineno, module, name


def upward_edges():
  bad = []
  for path, line, module, name in import_edges():
    rule = _rule(module)
    if rule and not _within(name, rule[1]):
      bad.append(f"{path}:{line}: {module} imports {name}, above "
                 f"{rule[0]} (it may import {', '.join(rule[1])})")
  return bad


def test_layers_and_models_import_nothing_above_them():
  bad = upward_edges()
  assert not bad, ("imports that point up (move the shared code down, or "
                   "import it where it is used):\n  " + "\n  ".join(bad))


def test_the_checker_sees_lazy_relative_and_from_vst_imports():
  source = ("def f():\n"
            "  from vst import train\n"
            "  from ..tools import flops\n"
            "  import vst.bench\n")
  found = sorted(name for node in ast.walk(ast.parse(source))
                 for name in _imported(node, "vst.models.convert.x", False))
  assert found == ["vst.bench", "vst.models.tools", "vst.train"]
  assert not _within("vst.train", ALLOWED["vst.models"])
  assert not _within("vst.models.vivit", ALLOWED["vst.layers"])
  assert _within("vst.layers.attention", ALLOWED["vst.models"])


def test_the_base_modules_exist():
  """A renamed base module must be renamed here too, or its importers fail."""
  for module in BASE:
    assert (VST.parent / (module.replace(".", "/") + ".py")).is_file(), module
