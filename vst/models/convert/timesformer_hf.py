"""HF transformers TimeSformer checkpoints -> `vst.models.timesformer` params.

HF's `TimesformerForVideoClassification` (e.g.
`facebook/timesformer-base-finetuned-k400`) ports the official model.
Loading one:

  hf = transformers.TimesformerForVideoClassification.from_pretrained(name)
  model = vst.models.build_model(model_config_from_hf(hf.config),
                                 hf.config.num_labels)
  params = params_from_hf_timesformer(hf.state_dict(), hf.config)
  logits = model.apply({"params": params}, clips, train=False)

where `clips` is [B, T, H, W, C], the transpose of HF's (B, T, C, H, W).

Layouts that differ:
  - Conv2d weight [D, C, p, p] -> a one-frame tubelet kernel [1, p, p, C, D].
  - The position table [1 + H'·W', D] (row 0: class token) -> [H', W', D]
    and [D]; the time table [1, T, D] -> [T, D].
  - The fused qkv Linear [3D, D] -> query, key, value kernels [D, N, Dh].
  - Divided attention's temporal branch is two linear layers in a row, HF's
    `temporal_attention.output.dense` then `temporal_dense`. Our pattern keeps
    the second one's place for the shared output projection (see
    `vst.layers.patterns_timesformer`), so they become our `time_attention/fc`
    and `time_attention/out`, in that order: the same computation.
"""

from typing import Any, Mapping

from vst.errors import ConfigError
from vst.models import timesformer
from vst.models.convert import hf_config as hf
from vst.models.convert import references
from vst.models.convert import torch_state

# HF attention_type -> our attention pattern.
ATTENTION = {
    "divided_space_time": "divided",
    "joint_space_time": "joint",
    "space_only": "space",
}


def model_config_from_hf(hf_config: Any) -> dict[str, Any]:
  """The `config.model` fields of our TimeSformer computing what HF's does.

  Args:
    hf_config: a `transformers.TimesformerConfig`, or its dict.

  Returns:
    {"name": "timesformer", "variant": ..., "hidden_size": ..., ...}.

  Raises:
    ConfigError: for an HF option our TimeSformer does not implement.
  """
  gelu_approximate = hf.gelu_approximate(hf_config, "TimeSformer")
  attention = hf.field(hf_config, "attention_type")
  if attention not in ATTENTION:
    raise ConfigError(f"HF TimeSformer attention_type={attention!r} is not "
                      f"supported; allowed: {', '.join(ATTENTION)}")
  variant, architecture = hf.vit_architecture(
      hf_config, timesformer.VARIANTS, "B/16",
      patch_size=hf.field(hf_config, "patch_size"))
  return dict(
      name="timesformer",
      variant=variant,
      **architecture,
      attention=ATTENTION[attention],
      dropout_rate=float(hf.field(hf_config, "hidden_dropout_prob")),
      drop_path_rate=float(hf.field(hf_config, "drop_path_rate")),
      layer_norm_eps=hf.field(hf_config, "layer_norm_eps"),
      gelu_approximate=gelu_approximate,
  )


def params_from_hf_timesformer(state_dict: Mapping[str, Any],
                               hf_config: Any) -> dict[str, Any]:
  """Our TimeSformer params tree from an HF TimeSformer state dict.

  Args:
    state_dict: of `TimesformerForVideoClassification` or `TimesformerModel`
      (then there is no `head`).
    hf_config: the matching `TimesformerConfig`, or its dict.

  Returns:
    A nested dict of numpy arrays for `model.apply({"params": ...})`.

  Raises:
    ValueError: if a key is left over or missing.
  """
  state = torch_state.StateDict(
      state_dict, "HF TimeSformer",
      key_map=lambda key: key.removeprefix("timesformer."))
  heads = hf.field(hf_config, "num_attention_heads")
  width = hf.field(hf_config, "hidden_size")
  side = hf.field(hf_config, "image_size") // hf.field(hf_config,
                                                       "patch_size")

  pattern = ATTENTION[hf.field(hf_config, "attention_type")]
  transformer = {}
  for i in range(hf.field(hf_config, "num_hidden_layers")):
    prefix = f"encoder.layer.{i}"
    space_stage = "space_attention" if pattern == "divided" else "attention"
    block = {
        f"{space_stage}_norm": state.norm(f"{prefix}.layernorm_before"),
        space_stage: state.attention(f"{prefix}.attention.attention.qkv",
                                     f"{prefix}.attention.output.dense",
                                     heads),
        "mlp_norm": state.norm(f"{prefix}.layernorm_after"),
        "mlp": {"fc1": state.dense(f"{prefix}.intermediate.dense"),
                "fc2": state.dense(f"{prefix}.output.dense")},
    }
    if pattern == "divided":
      fc = state.dense(f"{prefix}.temporal_attention.output.dense")
      time = state.attention(f"{prefix}.temporal_attention.attention.qkv",
                             f"{prefix}.temporal_dense", heads)
      time["fc"] = {"kernel": fc["kernel"].reshape((heads, width // heads) * 2),
                    "bias": fc["bias"].reshape(heads, -1)}
      block["time_attention_norm"] = state.norm(
          f"{prefix}.temporal_layernorm")
      block["time_attention"] = time
    transformer[f"encoderblock_{i}"] = block

  positions = state.take("embeddings.position_embeddings")[0]
  posembed = {"pos_embedding": positions[1:].reshape(side, side, width),
              "cls_pos_embedding": positions[0]}
  if pattern != "space":
    posembed["time_embedding"] = state.take("embeddings.time_embeddings")[0]
  params = {
      "patch_embed": {
          "kernel": state.take("embeddings.patch_embeddings.projection.weight"
                               ).transpose(2, 3, 1, 0)[None],
          "bias": state.take("embeddings.patch_embeddings.projection.bias")},
      "cls": state.take("embeddings.cls_token").reshape(-1),
      "posembed_input": posembed,
      "transformer": transformer,
      "encoder_norm": state.norm("layernorm"),
  }
  if state.has("classifier.weight"):
    params["head"] = state.dense("classifier")
  state.check_consumed()
  return params


@references.register("timesformer", layout="BTCHW")
def hf_timesformer(config, kwargs):
  """HF's TimesformerForVideoClassification (divided, joint; not space-only,
  whose HF classifier sees one class token per frame, nor tubelets of more
  than one frame, which HF's patch embedding cannot hold)."""
  ours_to_hf = {ours: hf for hf, ours in ATTENTION.items() if ours != "space"}
  attention = kwargs.get("attention", "divided")
  if attention not in ours_to_hf or kwargs.get("tubelet_frames", 1) != 1:
    return None
  import transformers  # pylint: disable=g-import-not-at-top
  hf_config = transformers.TimesformerConfig(
      hidden_size=kwargs["hidden_size"],
      num_hidden_layers=kwargs["num_layers"],
      num_attention_heads=kwargs["num_heads"],
      intermediate_size=kwargs["mlp_dim"],
      patch_size=kwargs["patch_size"],
      image_size=int(config.dataset.crop_size),
      num_frames=int(config.dataset.num_frames),
      attention_type=ours_to_hf[attention],
      num_labels=int(config.dataset.num_classes))
  return transformers.TimesformerForVideoClassification(hf_config)
