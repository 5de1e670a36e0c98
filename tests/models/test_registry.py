"""The model registry: config sections that expose every Module field."""

import pytest

from vst.errors import ConfigError
from vst.models import registry


@pytest.mark.parametrize("name", registry.list_models())
def test_model_config_lists_every_field_and_builds_the_variant(name):
  entry = registry.get_entry(name)
  variant = sorted(entry.variants)[0]
  config = registry.model_config(name, variant)
  assert set(config) == {"name", "variant"} | (entry.field_names()
                                               - {"num_classes"})
  model = registry.build_model(config, 3)
  for field, value in entry.variants[variant].items():
    assert config[field] is None  # a placeholder: the variant decides
    assert getattr(model, field) == value


def test_model_config_fields_override_the_variant_and_a_locked_config():
  config = registry.model_config("vivit", "tiny")
  config.lock()
  config.tubelet_size = (2, 4, 4)
  config.variant = "S/16x2"
  model = registry.build_model(config, 3)
  assert model.tubelet_size == (2, 4, 4) and model.hidden_size == 384
  with pytest.raises((AttributeError, KeyError), match="tubelet_sizes"):
    config.tubelet_sizes = (2, 4, 4)


def test_unknown_variant_lists_the_valid_ones():
  with pytest.raises(ConfigError, match=r"model.variant \(for vivit\)='XXL' "
                     r"is not valid; allowed: .*tiny"):
    registry.model_config("vivit", "XXL")
