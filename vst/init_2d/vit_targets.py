"""Canonical ViT -> the video transformers that contain an image ViT.

Which parameters of each model are the image ViT's (everything else is new):

  vivit        tubelet_embed, cls, posembed_input, transformer (models 1, 3,
               4) or spatial_* (model 2 and avg_pool), head when the features
               it sees are the class token's (token classifier, not model 2,
               whose head follows the temporal encoder). Model 3's blocks
               take the ViT attention as `space_attention`; `time_attention`
               is new. Model 4 splits each block's heads between time and
               space: both halves start from the ViT's heads.
  timesformer  patch_embed, cls, posembed_input (pos_embedding,
               cls_pos_embedding; time_embedding new), space_attention (or
               `attention` for single-stage patterns), encoder_norm, head.
  xvit         as timesformer, with `transformer/encoder_norm`; the temporal
               head (temporal_cls, temporal_encoder_0, head_*) is new.
  motionformer tubelet_embed, cls, pos_embedding, cls_pos_embedding,
               attention query/key/value/out (proj_q, proj_kv, the temporal
               embedding, pre_logits and head are new).
  vtn          backbone/vit/* (the per-frame ViT); the Longformer and head
               are new.

The patch embedding becomes a tubelet by `init_from.tubelet_init`; the
position grid is resized bilinearly when the token grid differs and tiled
over time where the table has a time axis.
"""

import dataclasses
import re

from vst.errors import ConfigError
from vst.init_2d import transforms
from vst.init_2d.source import Source
from vst.models import vivit

MODELS = ("vivit", "timesformer", "xvit", "motionformer", "vtn")


@dataclasses.dataclass(frozen=True)
class Layout:
  """Target paths (without "params/") of the image ViT inside a model."""
  embed: str
  cls: str
  pos: str
  cls_pos: str
  blocks: str
  encoder_norm: str
  head: str | None
  head_note: str = ""


def layout(name: str, model) -> Layout:
  if name == "vivit":
    spec = vivit.VIVIT_MODELS[model.vivit_model]
    p = "spatial_" if spec.temporal else ""
    classifier = model.classifier or spec.classifier
    head, note = "head", ""
    if model.vivit_model == "factorised_encoder":
      head, note = None, ("model 2's head follows the temporal encoder, not "
                          "the image class token: it stays new")
    elif classifier != "token":
      head, note = None, (f"classifier={classifier!r} pools the grid, not the "
                          "class token the source head saw: it stays new")
    return Layout("tubelet_embed", f"{p}cls", f"{p}posembed_input/pos_embedding",
                  f"{p}posembed_input/cls_pos_embedding", f"{p}transformer",
                  f"{p}transformer/encoder_norm", head, note)
  if name == "timesformer":
    return Layout("patch_embed", "cls", "posembed_input/pos_embedding",
                  "posembed_input/cls_pos_embedding", "transformer",
                  "encoder_norm", "head")
  if name == "xvit":
    return Layout("patch_embed", "cls", "posembed_input/pos_embedding",
                  "posembed_input/cls_pos_embedding", "transformer",
                  "transformer/encoder_norm", None,
                  "X-ViT's head is the temporal aggregation head: it stays new")
  if name == "motionformer":
    return Layout("tubelet_embed", "cls", "pos_embedding", "cls_pos_embedding",
                  "transformer", "transformer/encoder_norm", None,
                  "Motionformer's head follows its new representation layer "
                  "(the official pre_logits): it stays new")
  if name == "vtn":
    vit = "backbone/vit"
    return Layout(f"{vit}/patch_embed", f"{vit}/cls",
                  f"{vit}/posembed_input/pos_embedding",
                  f"{vit}/posembed_input/cls_pos_embedding",
                  f"{vit}/transformer", f"{vit}/transformer/encoder_norm", None,
                  "VTN's head follows its Longformer: it stays new")
  raise ConfigError(f"init_from: a ViT checkpoint cannot initialise "
                    f"model.name={name!r}; allowed: {', '.join(MODELS)}")


def _depth(keys, pattern: str) -> int:
  found = {int(m.group(1)) for k in keys for m in [re.match(pattern, k)] if m}
  return max(found) + 1 if found else 0


def rules(name: str, model, targets: dict[str, tuple], source: Source,
          options) -> tuple[dict[str, transforms.Rule], list[str]]:
  """({target key: Rule}, notes) for a ViT source and a ViT-family model."""
  lay = layout(name, model)
  out, notes = {}, []

  def add(path: str, canonical: str, transform) -> None:
    key, canonical = f"params/{path}", f"params/{canonical}"
    if key in targets and canonical in source.arrays:
      out[key] = transforms.Rule(canonical, transform)

  add(f"{lay.embed}/kernel", "patch_embed/kernel",
      transforms.tubelet(options.tubelet_init))
  add(f"{lay.embed}/bias", "patch_embed/bias", transforms.copy())
  add(lay.cls, "cls", transforms.copy())
  add(lay.pos, "pos_embedding", transforms.position)
  add(lay.cls_pos, "cls_pos_embedding", transforms.copy())

  blocks = re.escape(f"params/{lay.blocks}/encoderblock_")
  target_depth = _depth(targets, blocks + r"(\d+)/")
  source_depth = _depth(source.arrays, r"params/encoderblock_(\d+)/")
  if target_depth != source_depth:
    raise ConfigError(
        f"init_from: the source ViT has {source_depth} blocks but "
        f"params/{lay.blocks} has {target_depth} (model.num_layers); "
        "allowed: equal depths")
  for i in range(target_depth):
    ours, theirs = f"{lay.blocks}/encoderblock_{i}", f"encoderblock_{i}"
    stage = next((s for s in ("attention", "space_attention")
                  if f"params/{ours}/{s}/query/kernel" in targets), None)
    if stage is None:
      if i == 0:
        notes.append(f"{lay.blocks} blocks have neither an `attention` nor a "
                     "`space_attention` stage: the source attention is unused")
    else:
      heads = targets[f"params/{ours}/{stage}/query/kernel"][1]
      source_heads = source.meta.get("num_heads")
      if source_heads is not None and source_heads != heads:
        raise ConfigError(
            f"init_from: params/{ours}/{stage}/query/kernel splits the width "
            f"into {heads} heads (model.num_heads) but the source ViT has "
            f"{source_heads}; allowed: the source's head count")
      add(f"{ours}/{stage}_norm/scale", f"{theirs}/attention_norm/scale",
          transforms.copy())
      add(f"{ours}/{stage}_norm/bias", f"{theirs}/attention_norm/bias",
          transforms.copy())
      for proj in ("query", "key", "value", "out"):
        for leaf in ("kernel", "bias"):
          add(f"{ours}/{stage}/{proj}/{leaf}",
              f"{theirs}/attention/{proj}/{leaf}", transforms.copy(True))
    for leaf in ("scale", "bias"):
      add(f"{ours}/mlp_norm/{leaf}", f"{theirs}/mlp_norm/{leaf}",
          transforms.copy())
    for fc in ("fc1", "fc2"):
      for leaf in ("kernel", "bias"):
        add(f"{ours}/mlp/{fc}/{leaf}", f"{theirs}/mlp/{fc}/{leaf}",
            transforms.copy())
  for leaf in ("scale", "bias"):
    add(f"{lay.encoder_norm}/{leaf}", f"encoder_norm/{leaf}", transforms.copy())
  if lay.head:
    for leaf in ("kernel", "bias"):
      add(f"{lay.head}/{leaf}", f"head/{leaf}", transforms.head())
  elif lay.head_note:
    notes.append(lay.head_note)
  if name == "vivit" and model.vivit_model == "factorised_dot_product":
    notes.append("factorised_dot_product: half of each block's heads attend "
                 "over time, half over space; both start from the ViT's heads")
  approximate = source.meta.get("gelu_approximate")
  if (approximate is not None and hasattr(model, "gelu_approximate")
      and model.gelu_approximate != approximate):
    notes.append(
        f"the source ViT uses {'tanh' if approximate else 'exact (erf)'} GELU "
        f"but model.gelu_approximate={model.gelu_approximate}: set it to "
        f"{approximate} to compute what the source computes")
  return out, notes
