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
