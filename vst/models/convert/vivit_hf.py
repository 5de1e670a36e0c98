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

import numpy as np

from vst import bench_references
from vst.errors import ConfigError
from vst.models import vivit

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

# HF hidden_act -> our gelu_approximate.
_GELU_APPROXIMATE = {
    "gelu_fast": True,
    "gelu_new": True,
    "gelu_pytorch_tanh": True,
    "gelu": False,
}


def _get(hf_config: Any, key: str):
  """A field of a `VivitConfig` or of its dict (config.json)."""
  if isinstance(hf_config, Mapping):
    return hf_config[key]
  return getattr(hf_config, key)


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
  act = _get(hf_config, "hidden_act")
  if act not in _GELU_APPROXIMATE:
    raise ConfigError(f"HF ViViT hidden_act={act!r} is not supported; "
                      f"allowed: {', '.join(_GELU_APPROXIMATE)}")
  if not _get(hf_config, "qkv_bias"):
    raise ConfigError("HF ViViT qkv_bias=False is not supported")
  architecture = dict(
      hidden_size=_get(hf_config, "hidden_size"),
      num_layers=_get(hf_config, "num_hidden_layers"),
      num_heads=_get(hf_config, "num_attention_heads"),
      mlp_dim=_get(hf_config, "intermediate_size"),
      tubelet_size=tuple(_get(hf_config, "tubelet_size")))
  variant = next((name for name, fields in vivit.VARIANTS.items()
                  if fields == architecture), "B/16x2")
  return dict(
      name="vivit",
      variant=variant,
      vivit_model="spatio_temporal",
      classifier="token",
      **architecture,
      dropout_rate=float(_get(hf_config, "hidden_dropout_prob")),
      layer_norm_eps=_get(hf_config, "layer_norm_eps"),
      gelu_approximate=_GELU_APPROXIMATE[act],
  )


def _grid_shape(hf_config: Any) -> tuple[int, int, int]:
  """(T', H', W') of the token grid `hf_config`'s position table covers."""
  t, p_h, p_w = _get(hf_config, "tubelet_size")
  height, width = _pair(_get(hf_config, "image_size"))
  return (_get(hf_config, "num_frames") // t, height // p_h, width // p_w)


def _normalise_keys(state_dict: Mapping[str, Any]) -> dict[str, np.ndarray]:
  """Current HF names without the `vivit.` prefix, values as float32 numpy."""
  out = {}
  for key, value in state_dict.items():
    key = key.removeprefix("vivit.")
    for pattern, replacement in _RENAMES:
      key = re.sub(pattern, replacement, key)
    if hasattr(value, "detach"):  # A torch tensor.
      value = value.detach().cpu().float().numpy()
    out[key] = np.asarray(value, np.float32)
  return out


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
  weights = _normalise_keys(state_dict)
  num_heads = _get(hf_config, "num_attention_heads")

  def take(key: str) -> np.ndarray:
    if key not in weights:
      raise ValueError(f"HF ViViT state dict has no {key!r}")
    return weights.pop(key)

  def dense(prefix: str) -> dict[str, np.ndarray]:
    return {"kernel": take(f"{prefix}.weight").T,
            "bias": take(f"{prefix}.bias")}

  def norm(prefix: str) -> dict[str, np.ndarray]:
    return {"scale": take(f"{prefix}.weight"), "bias": take(f"{prefix}.bias")}

  def attention(prefix: str) -> dict[str, Any]:
    out = {}
    for ours, theirs in (("query", "q"), ("key", "k"), ("value", "v")):
      layer = dense(f"{prefix}.{theirs}_proj")
      width = layer["kernel"].shape[0]
      out[ours] = {
          "kernel": layer["kernel"].reshape(width, num_heads, -1),
          "bias": layer["bias"].reshape(num_heads, -1)}
    layer = dense(f"{prefix}.o_proj")
    out["out"] = {"kernel": layer["kernel"].reshape(num_heads, -1,
                                                    layer["kernel"].shape[1]),
                  "bias": layer["bias"]}
    return out

  transformer = {}
  for i in range(_get(hf_config, "num_hidden_layers")):
    prefix = f"layers.{i}"
    transformer[f"encoderblock_{i}"] = {
        "attention_norm": norm(f"{prefix}.layernorm_before"),
        "attention": attention(f"{prefix}.attention"),
        "mlp_norm": norm(f"{prefix}.layernorm_after"),
        "mlp": {"fc1": dense(f"{prefix}.mlp.fc1"),
                "fc2": dense(f"{prefix}.mlp.fc2")},
    }
  transformer["encoder_norm"] = norm("layernorm")

  positions = take("embeddings.position_embeddings")[0]
  params = {
      "tubelet_embed": {
          "kernel": take("embeddings.patch_embeddings.projection.weight"
                         ).transpose(2, 3, 4, 1, 0),
          "bias": take("embeddings.patch_embeddings.projection.bias")},
      "cls": take("embeddings.cls_token").reshape(-1),
      "posembed_input": {
          "pos_embedding": positions[1:].reshape(
              _grid_shape(hf_config) + positions.shape[-1:]),
          "cls_pos_embedding": positions[0]},
      "transformer": transformer,
  }
  if "classifier.weight" in weights:
    params["head"] = dense("classifier")
  # VivitModel's pooler (dense + tanh on the CLS token) is not part of
  # the classifier's path.
  for key in [k for k in weights if k.startswith("pooler.")]:
    weights.pop(key)
  if weights:
    raise ValueError(f"HF ViViT keys not converted: {sorted(weights)}")
  return params


@bench_references.register("vivit", layout="BTCHW")
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
