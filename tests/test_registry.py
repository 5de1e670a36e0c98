"""The one Registry type: discovery by package, one error listing the names."""

import pytest

from vst.data import registry as data_registry
from vst.errors import ConfigError
from vst.layers import attention
from vst.models import registry as model_registry
from vst.models.convert import references
from vst.registry import PackageModules, Registry


def test_an_unknown_name_names_the_field_and_lists_the_valid_ones():
  colours = Registry("colour", "model.colour")
  colours.register("red", 1)
  colours.register("blue", 2)
  assert colours.get("red") == 1 and colours.names() == ["blue", "red"]
  with pytest.raises(ConfigError, match="model.colour='green' is not valid; "
                     "allowed: blue, red"):
    colours.get("green")
  with pytest.raises(ConfigError, match="eval.colour='green'"):
    colours.get("green", field="eval.colour")


def test_a_name_registers_once():
  colours = Registry("colour", "model.colour")
  colours.register("red", 1)
  with pytest.raises(ValueError, match="colour 'red' registered twice"):
    colours.register("red", 3)


def test_builtin_names_leave_out_what_a_study_added():
  colours = Registry("colour", "model.colour")
  colours.register("red", 1)
  colours.register("mauve", 2, builtin=False)
  assert colours.builtin_names() == ["red"]
  assert colours.names() == ["mauve", "red"]


def test_discovery_imports_a_packages_public_modules_by_prefix():
  rule = PackageModules("vst.layers", prefix="patterns_")
  modules = rule.modules()
  assert "vst.layers.patterns_timesformer" in modules
  assert all(m.startswith("vst.layers.patterns_") for m in modules)
  # Private modules are helpers, not entries.
  assert "vst.models._variants" not in PackageModules("vst.models").modules()


@pytest.mark.parametrize("names,expected", [
    # Each kind finds the entries of files nothing else lists.
    (model_registry.list_models, {"vivit", "i3d", "tsn"}),
    (data_registry.list_datasets, {"synthetic_motion", "kinetics400"}),
    (attention.pattern_names, {"joint", "divided", "window3d", "pooling"}),
    (references.REFERENCES.names, {"vivit", "swin3d", "r2plus1d"}),
])
def test_every_kind_discovers_its_files(names, expected):
  assert expected <= set(names())


def test_vsts_patterns_are_builtin():
  assert {"joint", "divided", "trajectory", "window3d"} <= set(
      attention.builtin_pattern_names())
