"""One ViT backbone for the video transformers that start from a ViT.

  clips [B, T, H, W, C] ─ patch/tubelet embedding ─► grid [B, T', H', W', D]
  ─ (frames_apart: every time step its own one-frame grid)
  ─ class token ─ position embedding ─ dropout ─ encoder (`transformer`)
  ─ readout ─► [B, D] (or [B, T', D]: per-frame class tokens, frames apart)

ViViT, TimeSformer, X-ViT, Motionformer and VTN's frame encoder configure
it with their attention pattern and a handful of fields; what is left in
their model files is what makes each paper different. Sizes are data:
`decode_variant("B/16x2")`, after big_vision's `decode_variant`.

Built with `scope.inline`, the backbone's parameters are the model's own
(`tubelet_embed` or `patch_embed`, `cls`, `posembed_input`, `transformer`),
so the five models kept their parameter paths, converters and checkpoints.
"""

import dataclasses
import re
from typing import Callable

import flax.linen as nn
import jax
import jax.numpy as jnp

from vst.errors import ConfigError, check_choice
from vst.layers import attention as attention_lib
from vst.layers import embed
from vst.layers import grid_pooling
from vst.layers import transformer

# ViT-* (Dosovitskiy et al. 2021; Ti from DeiT, H from ViT's appendix).
SIZES = {
    "Ti": dict(hidden_size=192, num_layers=12, num_heads=3, mlp_dim=768),
    "S": dict(hidden_size=384, num_layers=12, num_heads=6, mlp_dim=1536),
    "B": dict(hidden_size=768, num_layers=12, num_heads=12, mlp_dim=3072),
    "L": dict(hidden_size=1024, num_layers=24, num_heads=16, mlp_dim=4096),
    "H": dict(hidden_size=1280, num_layers=32, num_heads=16, mlp_dim=5120),
}


def decode_variant(variant: str) -> dict:
  """A model's fields from a size/patch string, e.g. "B/16" or "L/16x2".

  "B/16": ViT-B on 16×16 frame patches (`patch_size=16`). "B/16x2": ViT-B on
  2×16×16 tubelets (`tubelet_size=(2, 16, 16)`).
  """
  match = re.fullmatch(r"(\w+)/(\d+)(?:x(\d+))?", variant)
  if not match or match[1] not in SIZES:
    raise ValueError(f"ViT variant {variant!r} is not <size>/<patch> or "
                     f"<size>/<patch>x<frames> with a size in {list(SIZES)}")
  fields = dict(SIZES[match[1]])
  patch = int(match[2])
  if match[3] is None:
    return {**fields, "patch_size": patch}
  return {**fields, "tubelet_size": (int(match[3]), patch, patch)}


# "token": the class token's final state; "frame_tokens": one class token per
# time step (X-ViT), [B, T', D]; "gap"/"max": the grid pooled, no class token.
READOUTS = ("token", "frame_tokens", "gap", "max")

# Fields a ViT model shares with the backbone by name (`shared_fields`).
SHARED_FIELDS = ("hidden_size", "num_layers", "num_heads", "mlp_dim",
                 "attention", "dropout_rate", "drop_path_rate",
                 "layer_norm_eps", "gelu_approximate", "dtype", "remat")


def shared_fields(model: nn.Module, target: type | None = None) -> dict:
  """The `SHARED_FIELDS` that `model` and `target` (default `ViT`) both
  have, with the model's values: the backbone's sizes and encoder settings
  are the model's config fields of the same names."""
  names = {f.name for f in dataclasses.fields(target or ViT)}
  return {name: getattr(model, name) for name in SHARED_FIELDS
          if name in names and hasattr(model, name)}


def check_fields(model: nn.Module) -> None:
  """ConfigError for the fields of a ViT model that the backbone uses."""
  if getattr(model, "attention", ""):
    attention_lib.get_pattern(model.attention)
  if model.hidden_size % model.num_heads:
    raise ConfigError(f"model.hidden_size={model.hidden_size} is not "
                      f"divisible by model.num_heads={model.num_heads}")
  if hasattr(model, "tubelet_init"):
    embed.tubelet_kernel_init(model.tubelet_init)


class TokenEncoder(transformer.Encoder):
  """(grid [N, T, H, W, D]) -> class token, positions, dropout, encoder,
  readout. The part of `ViT` after the embedding; ViViT's temporal encoder
  runs it alone on the frames' features.

  Attributes (besides `transformer.Encoder`'s, which configure the encoder):
    readout: a `READOUTS` name.
    class_token_init: initialiser of the class token `cls`.
    position: name -> the position embedding module, called on
      (grid, cls | None) (`embed.PositionEmbedding`, or
      `frame_position.FramePositionEmbedding` configured).
    prefix: prefixed to the names `cls`, `posembed_input`, `transformer`
      (ViViT's "spatial_" and "temporal_" encoders).
  """
  readout: str = "token"
  class_token_init: Callable = nn.initializers.zeros
  position: Callable[[str], nn.Module] = (
      lambda name: embed.PositionEmbedding(name=name))
  prefix: str = ""

  @nn.compact
  def __call__(self, grid: jax.Array, *, train: bool) -> jax.Array:
    """[N, T, H, W, D] tokens -> [N, D] ([N, T, D] with "frame_tokens")."""
    return self._encode(grid, train)

  def _encode(self, grid: jax.Array, train: bool) -> jax.Array:
    check_choice("model.classifier", self.readout, READOUTS)
    batch, frames, width = grid.shape[0], grid.shape[1], grid.shape[-1]
    cls = None
    if self.readout in ("token", "frame_tokens"):
      shape = (batch, width) if self.readout == "token" else (
          batch, frames, width)
      token = self.param(f"{self.prefix}cls", self.class_token_init, (width,))
      cls = jnp.broadcast_to(token.astype(grid.dtype), shape)
    grid, cls = self.position(f"{self.prefix}posembed_input")(grid, cls)
    # Named: the module is inlined in a model that may autoname its own.
    dropout = nn.Dropout(self.dropout_rate, deterministic=not train,
                         name=f"{self.prefix}embedding_dropout")
    grid, cls = jax.tree.map(dropout, (grid, cls))
    encoder_fields = {f.name: getattr(self, f.name)
                      for f in dataclasses.fields(transformer.Encoder)
                      if f.name not in ("parent", "name")}
    grid, cls = transformer.Encoder(
        **encoder_fields, name=f"{self.prefix}transformer")(
            grid, cls, train=train)
    if cls is not None:
      return cls
    return grid_pooling.pool_grid(grid, "max" if self.readout == "max"
                                  else "mean", "model.classifier")


class ViT(TokenEncoder):
  """A ViT on clips: [B, T, H, W, C] -> [B, D] (or [B, T', D]).

  Attributes (besides `TokenEncoder`'s):
    hidden_size: token width D.
    patch_size: (t, p_h, p_w) of the patch (t = 1) or tubelet embedding.
    embed_name: its parameters' name ("tubelet_embed", "patch_embed").
    embed_init: "random", "central_frame" or "filter_inflation".
    embed_in_loop: the embedding runs inside `nn.scan` (VTN's chunks).
    frames_apart: encode every time step as an image of its own (one-frame
      grids, per-frame class tokens); the output is then [B, T', D].
  """
  hidden_size: int = 768
  patch_size: tuple[int, int, int] = (1, 16, 16)
  embed_name: str = "tubelet_embed"
  embed_init: str = "random"
  embed_in_loop: bool = False
  frames_apart: bool = False

  @nn.compact
  def __call__(self, inputs: jax.Array, *, train: bool) -> jax.Array:
    grid = embed.tubelet_embedding(
        self.hidden_size, tuple(self.patch_size), self.embed_init,
        dtype=self.dtype, name=self.embed_name, in_loop=self.embed_in_loop)(
            inputs.astype(jnp.dtype(self.dtype)))
    if not self.frames_apart:
      return self._encode(grid, train)
    batch, frames = grid.shape[:2]
    grid = grid.reshape((batch * frames, 1) + grid.shape[2:])
    features = self._encode(grid, train)
    return features.reshape(batch, frames, -1)
