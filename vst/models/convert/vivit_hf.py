"""HF transformers ViViT checkpoints -> `vst.models.vivit` parameters.

HF's `VivitForVideoClassification` (and `google/vivit-b-16x2-kinetics400`) is
ViViT model 1. Loading one:

  hf = transformers.VivitForVideoClassification.from_pretrained(name)
  model_config = model_config_from_hf(hf.config)  # -> config.model fields
  model = vst.models.build_model(model_config, hf.config.num_labels)
  params = params_from_hf_vivit(hf.state_dict(), hf.config)
  logits = model.apply({"params": params}, clips, train=False)

where `clips` is [B, T, H, W, C], the transpose of HF's (B, T, C, H, W). The
state dict may hold torch tensors or numpy arrays, with or without the
`vivit.` prefix, in the current key names (`layers.{i}.attention.q_proj`) or
the older ones of the published checkpoints
(`encoder.layer.{i}.attention.attention.query`).

Layouts that differ:
  - Conv3d weight [D, C, t, p, p] -> flax conv kernel [t, p, p, C, D]; tokens
    are flattened t-major then h, w in both, so the position table reshapes to
    the grid [T', H', W', D] directly. Its row 0 is the CLS position.
  - Linear weight [out, in] -> Dense kernel [in, out]; q/k/v split to
    [D, N, Dh] and o to [N, Dh, D] as in flax's multi-head attention.
"""

import re
from typing import Any, Mapping

from vst.errors import ConfigError
from vst.models import vivit
from vst.models.convert import hf_config as hf
from vst.models.convert import references
from vst.models.convert import torch_state

# Older transformers key names -> current ones, applied in order (the renames
# transformers itself applies to ViT-style checkpoints on load).
_RENAMES = (
    (r"encoder\.layer\.", "layers."),
    (r"attention\.attention\.(query|key|value)\.",
     lambda m: f"attention.{m.group(1)[0]}_proj."),
    (r"attention\.output\.dense\.", "attention.o_proj."),
    (r"intermediate\.dense\.", "mlp.fc1."),
    (r"output\.dense\.", "mlp.fc2."),
)

def _pair(value) -> tuple[int, int]:
  return (value, value) if isinstance(value, int) else tuple(value)


def model_config_from_hf(hf_config: Any) -> dict[str, Any]:
  """The `config.model` fields of our ViViT computing what `hf_config`'s does.

  Every architecture field is set explicitly; the variant is the one of the
  same size if there is one. Pass `hf_config.num_labels` as num_classes to
  `build_model`.

  Args:
    hf_config: a `transformers.VivitConfig`, or its dict.

  Returns:
    {"name": "vivit", "variant": ..., "hidden_size": ..., ...}.

  Raises:
    ConfigError: for an HF option our ViViT does not implement.
  """
  gelu_approximate = hf.gelu_approximate(hf_config, "ViViT")
  if not hf.field(hf_config, "qkv_bias"):
    raise ConfigError("HF ViViT qkv_bias=False is not supported")
  variant, architecture = hf.vit_architecture(
      hf_config, vivit.VARIANTS, "B/16x2",
      tubelet_size=tuple(hf.field(hf_config, "tubelet_size")))
  return dict(
      name="vivit",
      variant=variant,
      vivit_model="spatio_temporal",
      classifier="token",
      **architecture,
      dropout_rate=float(hf.field(hf_config, "hidden_dropout_prob")),
      layer_norm_eps=hf.field(hf_config, "layer_norm_eps"),
      gelu_approximate=gelu_approximate,
  )


def _grid_shape(hf_config: Any) -> tuple[int, int, int]:
  """(T', H', W') of the token grid `hf_config`'s position table covers."""
  t, p_h, p_w = hf.field(hf_config, "tubelet_size")
  height, width = _pair(hf.field(hf_config, "image_size"))
  return (hf.field(hf_config, "num_frames") // t, height // p_h, width // p_w)


def _current_key(key: str) -> str:
  """An HF ViViT key in current transformers naming, without `vivit.`."""
  key = key.removeprefix("vivit.")
  for pattern, replacement in _RENAMES:
    key = re.sub(pattern, replacement, key)
  return key


def params_from_hf_vivit(state_dict: Mapping[str, Any],
                         hf_config: Any) -> dict[str, Any]:
  """Our ViViT (model 1) params tree from an HF ViViT state dict.

  Args:
    state_dict: of `VivitForVideoClassification` or `VivitModel` (then there
      is no `head`: train one, or take it from elsewhere).
    hf_config: the matching `VivitConfig`, or its dict.

  Returns:
    A nested dict of numpy arrays for `model.apply({"params": ...})`.

  Raises:
    ValueError: if a key is left over or missing, i.e. the checkpoint is not
      the ViViT that `hf_config` describes.
  """
  state = torch_state.StateDict(state_dict, "HF ViViT", key_map=_current_key)
  num_heads = hf.field(hf_config, "num_attention_heads")

  transformer = {}
  for i in range(hf.field(hf_config, "num_hidden_layers")):
    prefix = f"layers.{i}"
    attention = f"{prefix}.attention"
    transformer[f"encoderblock_{i}"] = {
        "attention_norm": state.norm(f"{prefix}.layernorm_before"),
        "attention": state.separate_attention(
            f"{attention}.q_proj", f"{attention}.k_proj",
            f"{attention}.v_proj", f"{attention}.o_proj", num_heads),
        "mlp_norm": state.norm(f"{prefix}.layernorm_after"),
        "mlp": {"fc1": state.dense(f"{prefix}.mlp.fc1"),
                "fc2": state.dense(f"{prefix}.mlp.fc2")},
    }
  transformer["encoder_norm"] = state.norm("layernorm")

  positions = state.take("embeddings.position_embeddings")[0]
  params = {
      "tubelet_embed": {
          "kernel": state.take("embeddings.patch_embeddings.projection.weight"
                               ).transpose(2, 3, 4, 1, 0),
          "bias": state.take("embeddings.patch_embeddings.projection.bias")},
      "cls": state.take("embeddings.cls_token").reshape(-1),
      "posembed_input": {
          "pos_embedding": positions[1:].reshape(
              _grid_shape(hf_config) + positions.shape[-1:]),
          "cls_pos_embedding": positions[0]},
      "transformer": transformer,
  }
  if state.has("classifier.weight"):
    params["head"] = state.dense("classifier")
  # VivitModel's pooler (dense + tanh on the CLS token) is not part of
  # the classifier's path.
  state.drop("pooler.")
  state.check_consumed()
  return params


@references.register("vivit", layout="BTCHW")
def hf_vivit(config, kwargs):
  """HF transformers' VivitForVideoClassification (ViViT model 1 only)."""
  if kwargs.get("vivit_model", "spatio_temporal") != "spatio_temporal":
    return None
  import transformers  # pylint: disable=g-import-not-at-top
  hf_config = transformers.VivitConfig(
      hidden_size=kwargs["hidden_size"],
      num_hidden_layers=kwargs["num_layers"],
      num_attention_heads=kwargs["num_heads"],
      intermediate_size=kwargs["mlp_dim"],
      image_size=int(config.dataset.crop_size),
      num_frames=int(config.dataset.num_frames),
      tubelet_size=list(kwargs["tubelet_size"]),
      num_labels=int(config.dataset.num_classes))
  return transformers.VivitForVideoClassification(hf_config)
