"""ViT checkpoints (big_vision / Scenic / vit_jax `.npz`, timm safetensors)
in the canonical ViT layout.

Canonical keys (all under "params/"), D the width, p the patch size:

  patch_embed/kernel [p, p, C, D], patch_embed/bias [D]
  cls [D]                              (absent for a class-token-free ViT)
  pos_embedding [H, W, D]              the patch positions as a grid
  cls_pos_embedding [D]                zeros when the source adds no position
                                       to its class token (big_vision,
                                       timm no_embed_class), so that the
                                       target computes what the source does
  encoderblock_{i}/attention_norm/{scale,bias}
  encoderblock_{i}/attention/{query,key,value}/kernel [D, D], .../bias [D]
  encoderblock_{i}/attention/out/kernel [D, D], .../bias [D]
  encoderblock_{i}/mlp_norm/{scale,bias}
  encoderblock_{i}/mlp/{fc1,fc2}/{kernel,bias}
  encoder_norm/{scale,bias}
  head/kernel [D, classes], head/bias    (absent for a headless ViT)

Attention projections are kept flat ([D, heads·head_dim]) because a timm
state dict does not record the head count: the target's [D, N, Dh] layout
splits them (outputs are ordered head-major in timm and in flax, so the split
is a reshape). A JAX checkpoint does record N; `meta["num_heads"]` lets the
mapping refuse a target with another head count.

Keys that change what a mapped layer computes (layer scale, qk-norm, a
pre-norm, register tokens, fc_norm, MAP pooling) have no place in our
blocks: they raise ConfigError rather than being dropped.
"""

import math
import re

import numpy as np

from vst.errors import ConfigError
from vst.init_2d.source import KeyTaker, Source


def _grid(key: str, table: np.ndarray, has_cls: bool, source: Source,
          cls_origin: str) -> None:
  """Puts pos_embedding [H, W, D] (and cls_pos_embedding) from [1, N, D]."""
  table = table.reshape(-1, table.shape[-1])
  side = math.isqrt(table.shape[0])
  if side * side == table.shape[0]:
    rows, cls_row = table, None
  elif has_cls and math.isqrt(table.shape[0] - 1) ** 2 == table.shape[0] - 1:
    side = math.isqrt(table.shape[0] - 1)
    rows, cls_row = table[1:], table[0]
  else:
    raise ConfigError(
        f"init_from: position table {key!r} has {table.shape[0]} rows, not a "
        "square grid (plus a class-token row); allowed: H·W or 1 + H·W with "
        "H = W")
  source.put("params/pos_embedding", rows.reshape(side, side, -1),
             f"{key}[{'1:' if cls_row is not None else ''}] as {side}×{side}")
  if has_cls:
    if cls_row is None:
      source.put("params/cls_pos_embedding", np.zeros(rows.shape[-1]),
                 f"(zeros: {cls_origin} gets no position in the source)")
    else:
      source.put("params/cls_pos_embedding", cls_row, f"{key}[0]")


def _check_structural(left: list[str], pattern: str, what: str) -> None:
  """ConfigError for leftover keys that would change the network's function."""
  bad = [k for k in left if re.search(pattern, k)]
  if bad:
    raise ConfigError(
        f"init_from: the {what} checkpoint has keys with no counterpart in "
        f"vst's ViT blocks ({', '.join(bad[:6])}{' ...' if len(bad) > 6 else ''}"
        "): layer scale, qk-norm, pre-norm, register tokens, fc_norm or MAP "
        "pooling would be dropped and the model would compute something "
        "else; allowed: plain pre-LN ViTs (class token or none, learned "
        "position table)")


# Module names of an encoder block: (vit_jax / Scenic, big_vision).
_JAX_BLOCK_NAMES = (
    {"attention_norm": "LayerNorm_0", "attention": "MultiHeadDotProductAttention_1",
     "mlp_norm": "LayerNorm_2", "mlp": "MlpBlock_3"},
    {"attention_norm": "LayerNorm_0", "attention": "MultiHeadDotProductAttention_0",
     "mlp_norm": "LayerNorm_1", "mlp": "MlpBlock_0"},
)


def from_jax_npz(arrays: dict[str, np.ndarray]) -> Source:
  """A big_vision / Scenic / vit_jax ViT `.npz` (keys joined by "/")."""
  arrays = {k.removeprefix("params/"): v for k, v in arrays.items()}
  w = KeyTaker(arrays, "big_vision ViT")
  source = Source("vit")
  if not w.has("embedding/kernel"):
    raise ConfigError(
        "init_from: a big_vision_npz checkpoint needs 'embedding/kernel' "
        f"(a ViT patch embedding); found keys {', '.join(w.left()[:8])} ...")
  kernel = w.take("embedding/kernel")
  source.put("params/patch_embed/kernel", kernel, "embedding/kernel")
  source.put("params/patch_embed/bias", w.take("embedding/bias"),
             "embedding/bias")
  has_cls = w.has("cls")
  if has_cls:
    source.put("params/cls", w.take("cls").reshape(-1), "cls")
  pos_key = next((k for k in ("Transformer/posembed_input/pos_embedding",
                              "pos_embedding") if w.has(k)), None)
  if pos_key is None:
    raise ConfigError("init_from: the big_vision ViT has no position table "
                      "('Transformer/posembed_input/pos_embedding' or "
                      "'pos_embedding'); allowed: learned position tables")
  _grid(pos_key, w.take(pos_key), has_cls, source, "cls")
  depth = 0
  while any(k.startswith(f"Transformer/encoderblock_{depth}/") for k in w.left()):
    depth += 1
  if depth == 0:
    raise ConfigError(
        "init_from: no 'Transformer/encoderblock_{i}/...' keys in the "
        "big_vision ViT (a scan-over-layers checkpoint stacks them under "
        "'Transformer/encoderblock/', which is not supported; unstack it)")
  names = next((n for n in _JAX_BLOCK_NAMES if w.has(
      f"Transformer/encoderblock_0/{n['attention']}/query/kernel")), None)
  if names is None:
    raise ConfigError("init_from: encoderblock_0 has no "
                      "MultiHeadDotProductAttention_{0,1}/query/kernel")
  for i in range(depth):
    theirs, ours = f"Transformer/encoderblock_{i}", f"params/encoderblock_{i}"
    for norm in ("attention_norm", "mlp_norm"):
      for leaf in ("scale", "bias"):
        key = f"{theirs}/{names[norm]}/{leaf}"
        source.put(f"{ours}/{norm}/{leaf}", w.take(key), key)
    for proj in ("query", "key", "value", "out"):
      for leaf in ("kernel", "bias"):
        key = f"{theirs}/{names['attention']}/{proj}/{leaf}"
        value = w.take(key)
        if proj == "query" and leaf == "kernel":
          source.meta["num_heads"] = value.shape[1]
        if proj == "out":  # [N, Dh, D] -> [N·Dh, D]; bias [D] stays.
          value = value.reshape(-1, value.shape[-1]) if leaf == "kernel" else value
        else:  # [D, N, Dh] -> [D, N·Dh]; bias [N, Dh] -> [N·Dh].
          value = (value.reshape(value.shape[0], -1) if leaf == "kernel"
                   else value.reshape(-1))
        source.put(f"{ours}/attention/{proj}/{leaf}", value, key)
    for j, fc in enumerate(("fc1", "fc2")):
      for leaf in ("kernel", "bias"):
        key = f"{theirs}/{names['mlp']}/Dense_{j}/{leaf}"
        source.put(f"{ours}/mlp/{fc}/{leaf}", w.take(key), key)
  for leaf in ("scale", "bias"):
    key = f"Transformer/encoder_norm/{leaf}"
    source.put(f"params/encoder_norm/{leaf}", w.take(key), key)
  if w.has("head/kernel"):
    for leaf in ("kernel", "bias"):
      source.put(f"params/head/{leaf}", w.take(f"head/{leaf}"), f"head/{leaf}")
  # big_vision and vit_jax use flax's tanh-approximate GELU.
  source.meta["gelu_approximate"] = True
  _check_structural(w.left(), r"^Transformer/|^MAPHead|^pre_logits",
                    "big_vision ViT")
  source.unused = w.left()
  return source


def from_timm(arrays: dict[str, np.ndarray]) -> Source:
  """A timm VisionTransformer state dict (safetensors, or any dict of arrays)."""
  w = KeyTaker(arrays, "timm ViT")
  source = Source("vit")
  if not w.has("patch_embed.proj.weight"):
    raise ConfigError(
        "init_from: a timm_safetensors checkpoint needs "
        "'patch_embed.proj.weight' (a timm VisionTransformer); found keys "
        f"{', '.join(w.left()[:8])} ...")
  source.put("params/patch_embed/kernel",
             w.take("patch_embed.proj.weight").transpose(2, 3, 1, 0),
             "patch_embed.proj.weight [D,C,p,p]→[p,p,C,D]")
  source.put("params/patch_embed/bias", w.take("patch_embed.proj.bias"),
             "patch_embed.proj.bias")
  has_cls = w.has("cls_token")
  if has_cls:
    source.put("params/cls", w.take("cls_token").reshape(-1), "cls_token")
  if not w.has("pos_embed"):
    raise ConfigError("init_from: the timm ViT has no 'pos_embed' (learned "
                      "position table); allowed: learned position tables")
  _grid("pos_embed", w.take("pos_embed"), has_cls, source, "cls_token")
  depth = 0
  while w.has(f"blocks.{depth}.norm1.weight"):
    depth += 1
  if depth == 0:
    raise ConfigError("init_from: the timm ViT has no 'blocks.0.norm1.weight'")
  for i in range(depth):
    theirs, ours = f"blocks.{i}", f"params/encoderblock_{i}"
    for norm, name in (("attention_norm", "norm1"), ("mlp_norm", "norm2")):
      source.put(f"{ours}/{norm}/scale", w.take(f"{theirs}.{name}.weight"),
                 f"{theirs}.{name}.weight")
      source.put(f"{ours}/{norm}/bias", w.take(f"{theirs}.{name}.bias"),
                 f"{theirs}.{name}.bias")
    qkv = w.take(f"{theirs}.attn.qkv.weight")  # [3·D, D], rows q | k | v.
    width = qkv.shape[0] // 3
    bias_key = f"{theirs}.attn.qkv.bias"
    has_bias = w.has(bias_key)
    # Without a qkv bias (qkv_bias=False) ours holds zeros: the same map.
    bias = w.take(bias_key) if has_bias else np.zeros(qkv.shape[0], np.float32)
    for j, proj in enumerate(("query", "key", "value")):
      rows = f"[{j * width}:{(j + 1) * width}]"
      source.put(f"{ours}/attention/{proj}/kernel",
                 qkv[j * width:(j + 1) * width].T,
                 f"{theirs}.attn.qkv.weight{rows}ᵀ")
      source.put(f"{ours}/attention/{proj}/bias",
                 bias[j * width:(j + 1) * width],
                 f"{bias_key}{rows}" if has_bias else "(zeros: qkv_bias=False)")
    source.put(f"{ours}/attention/out/kernel",
               w.take(f"{theirs}.attn.proj.weight").T,
               f"{theirs}.attn.proj.weight ᵀ")
    source.put(f"{ours}/attention/out/bias", w.take(f"{theirs}.attn.proj.bias"),
               f"{theirs}.attn.proj.bias")
    for fc in ("fc1", "fc2"):
      source.put(f"{ours}/mlp/{fc}/kernel",
                 w.take(f"{theirs}.mlp.{fc}.weight").T,
                 f"{theirs}.mlp.{fc}.weight ᵀ")
      source.put(f"{ours}/mlp/{fc}/bias", w.take(f"{theirs}.mlp.{fc}.bias"),
                 f"{theirs}.mlp.{fc}.bias")
  _check_structural(w.left(), r"^blocks\.|^norm_pre\.|^fc_norm\.|^reg_token"
                    r"|^attn_pool\.", "timm ViT")
  if not w.has("norm.weight"):
    raise ConfigError("init_from: the timm ViT has no final 'norm.weight'; "
                      "allowed: ViTs with a final LayerNorm")
  source.put("params/encoder_norm/scale", w.take("norm.weight"), "norm.weight")
  source.put("params/encoder_norm/bias", w.take("norm.bias"), "norm.bias")
  if w.has("head.weight"):
    source.put("params/head/kernel", w.take("head.weight").T, "head.weight ᵀ")
    source.put("params/head/bias", w.take("head.bias"), "head.bias")
  # timm's VisionTransformer uses nn.GELU, the exact erf form.
  source.meta["gelu_approximate"] = False
  source.unused = w.left()
  return source
