"""The model registry: config sections that expose every Module field."""

import pathlib

import jax
import pytest

from tests.conftest import synthetic_config_of
from vst import train as train_lib
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


def test_model_config_sets_a_papers_fields_and_refuses_unknown_ones():
  config = registry.model_config("vivit", "tiny", drop_path_rate=0.2,
                                 vivit_model="factorised_encoder")
  assert (config.drop_path_rate, config.vivit_model) == (
      0.2, "factorised_encoder")
  with pytest.raises(ConfigError, match="model.drop_rate is not a field of "
                     "vivit; allowed: .*drop_path_rate"):
    registry.model_config("vivit", "tiny", drop_rate=0.2)


def test_unknown_variant_lists_the_valid_ones():
  with pytest.raises(ConfigError, match=r"model.variant \(for vivit\)='XXL' "
                     r"is not valid; allowed: .*tiny"):
    registry.model_config("vivit", "XXL")


SYNTHETIC_CONFIGS = sorted(
    p.name[:-len("_synthetic.py")]
    for p in (pathlib.Path(__file__).parents[2] / "configs").glob(
        "*_synthetic.py"))


@pytest.mark.parametrize("model", SYNTHETIC_CONFIGS)
def test_every_model_sows_its_representation_as_pre_logits(model):
  """Feature extraction reads the top-level "pre_logits" intermediate [B, D];
  checked abstractly (no compile) for every synthetic config's model."""
  config = synthetic_config_of(model, "tiny")
  net, _, _ = train_lib.build(config)
  inputs = train_lib.input_spec(config, 2)

  def sown(x):
    variables = net.init({"params": jax.random.key(0),
                          "dropout": jax.random.key(0)}, x, train=False)
    _, state = net.apply(variables, x, train=False, mutable=["intermediates"])
    return state["intermediates"]["pre_logits"]

  (pre_logits,) = jax.eval_shape(sown, inputs)
  assert pre_logits.ndim == 2 and pre_logits.shape[0] == 2


@pytest.mark.parametrize("name,modalities,message", [
    # A one-array model on a multi-modal dataset is told what to change.
    ("vivit", ("rgb", "flow"), "ViViT takes one clip array"),
    # A multi-stream model names the modality it lacks.
    ("two_stream", ("rgb",), "dataset.modalities lacks flow"),
    ("tsn", ("rgb",), "dataset.modalities lacks flow"),
])
def test_start_up_checks_dict_inputs_against_the_model(name, modalities,
                                                        message):
  from vst import validate  # pylint: disable=g-import-not-at-top
  streams = synthetic_config_of("two_stream").dataset  # A dataset that works.
  config = synthetic_config_of(name)
  config.dataset = streams.copy_and_resolve_references()
  config.dataset.modalities = modalities
  with pytest.raises(ConfigError, match=message):
    validate.check_config(config)
  if name != "vivit":
    validate.check_config(synthetic_config_of(name))  # Its own: accepted.


@pytest.mark.parametrize("name", ["lrcn", "snippets_lstm", "lattice_lstm"])
def test_start_up_accepts_the_streams_a_recurrent_model_reads(name):
  """The CNN+RNN models read a dict of streams: one the dataset gives passes,
  one it lacks is named."""
  from vst import validate  # pylint: disable=g-import-not-at-top
  config = synthetic_config_of(name)
  config.dataset = synthetic_config_of(
      "two_stream").dataset.copy_and_resolve_references()
  config.dataset.num_frames = 16
  config.dataset.num_segments = 8
  config.dataset.new_length = 1
  config.model.streams = ("rgb", "flow")
  config.model.fusion_weights = (1.0, 2.0)
  validate.check_config(config)
  config.dataset.modalities = ("rgb",)
  with pytest.raises(ConfigError, match=r"needs input modalities \['flow'\]"):
    validate.check_config(config)
