"""Reading HF transformers model configs, shared by the HF converters."""

from typing import Any, Mapping

from vst.errors import ConfigError

# HF hidden_act -> our `gelu_approximate` (tanh GELU or the exact erf one).
GELU_APPROXIMATE = {
    "gelu": False,
    "gelu_new": True,
    "gelu_fast": True,
    "gelu_pytorch_tanh": True,
}


def field(hf_config: Any, key: str):
  """A field of an HF `PretrainedConfig`, or of its dict (config.json)."""
  if isinstance(hf_config, Mapping):
    return hf_config[key]
  return getattr(hf_config, key)


def gelu_approximate(hf_config: Any, model: str) -> bool:
  """Our `gelu_approximate` for `hf_config.hidden_act`; ConfigError names
  the activation and the supported ones."""
  act = field(hf_config, "hidden_act")
  if act not in GELU_APPROXIMATE:
    raise ConfigError(f"HF {model} hidden_act={act!r} is not supported; "
                      f"allowed: {', '.join(GELU_APPROXIMATE)}")
  return GELU_APPROXIMATE[act]


def vit_architecture(hf_config: Any, variants: Mapping[str, Mapping[str, Any]],
                     default: str, **embedding) -> tuple[str, dict[str, Any]]:
  """(variant, architecture fields) of an HF ViT-family encoder.

  The architecture is the encoder's width, depth, heads and MLP width plus
  the model's `embedding` fields (its patch or tubelet size); the variant is
  the one of `variants` with exactly that architecture, else `default` (the
  fields are set explicitly, so the variant only names the size).
  """
  architecture = dict(
      hidden_size=field(hf_config, "hidden_size"),
      num_layers=field(hf_config, "num_hidden_layers"),
      num_heads=field(hf_config, "num_attention_heads"),
      mlp_dim=field(hf_config, "intermediate_size"),
      **embedding)
  variant = next((name for name, fields in variants.items()
                  if fields == architecture), default)
  return variant, architecture
