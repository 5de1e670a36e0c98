"""VTN (Neimark et al. 2021): a 2D ViT per frame, a Longformer across frames.

  frames [B, T, H, W, C] ─► ViT-B/16 on each frame (its [CLS] feature, D)
      ─► [CLS_t, f_1 … f_T] + learned positions (0 for CLS_t, t for f_t)
      ─► Longformer layers: frames attend within a sliding window, CLS_t
         attends to all (global attention)  ─► MLP head on CLS_t ─► logits

The temporal encoder's cost is linear in T (`banded_attention`), and the
backbone runs on `frames_per_chunk` frames at a time (a `nn.scan` over
chunks of the clip, parameters shared), so full-video inference (the paper
tests on whole videos of up to 250 frames, one view) holds one chunk's
activations at a time rather than all frames'.

Details from the official code (bomri/SlowFast, since merged into
facebookresearch/SlowFast: `slowfast/models/vtn_helper.py`,
`configs/Kinetics/VIT_B_VTN.yaml`; the head as in the VTN model class that
public ports of it share) and HF transformers' Longformer it builds on:
  - backbone: timm `vit_base_patch16_224` without its classifier (qkv bias,
    exact GELU, LayerNorm eps 1e-6, the final norm's [CLS] as the feature);
  - temporal encoder: `LongformerModel` with hidden 768, 12 heads, FFN 3072,
    3 layers (1 in the paper's smaller variant), attention window 18, 288
    position embeddings; post-LN BERT layers (LayerNorm eps 1e-12, exact
    GELU), hidden dropout 0.1; embeddings = input + position + token type 0,
    then LayerNorm and dropout; a [CLS] token drawn from N(0, 1);
  - head: LayerNorm → Dense(768) → GELU → Dropout(0.5) → Dense(classes).
Longformer's attention-probability dropout (0.1) is not applied: vst's one
attention kernel has no dropout on the weights.

Parameter names: `backbone/vit/{patch_embed,cls,posembed_input,transformer}`,
`temporal_encoder/{cls,position_embeddings,token_type_embedding,
embeddings_norm,layer_{i}/{attention,attention_norm,mlp_hidden,mlp_output,
mlp_norm}}`, `head_norm`, `head_hidden`, `head`.
"""

import flax.linen as nn
import jax
import jax.numpy as jnp

from vst.errors import ConfigError, check_choice
from vst.layers import embed
from vst.layers import heads
from vst.layers import vit
from vst.layers.attention import uses_attention_impl
from vst.layers.head_init import HEAD_INITS
from vst.layers.patterns_sliding_window import (ATTENTION_WINDOW,
                                                 LongformerSelfAttention,
                                                 half_window)
from vst.models._variants import complete_variants
from vst.models.registry import register


class _BackboneChunk(nn.Module):
  """One step of the scan over chunks of frames: a ViT on each input of
  [N, t, H, W, C] frames, its final [CLS] [N, D] (timm's
  `vit_base_patch16_224` without its classifier: exact GELU, LayerNorm eps
  1e-6)."""
  fields: dict
  train: bool

  @nn.compact
  def __call__(self, carry, frames):
    return carry, vit.ViT(**self.fields, embed_name="patch_embed",
                          embed_in_loop=True, name="vit")(
                              frames, train=self.train)


class LongformerLayer(nn.Module):
  """A post-LN BERT layer with Longformer attention (HF `LongformerLayer`).

  Attributes:
    num_heads: attention heads.
    mlp_dim: FFN width.
    attention_window: full sliding window, even.
    dropout_rate: hidden dropout.
    layer_norm_eps: LayerNorm epsilon.
    dtype: compute dtype.
  """
  num_heads: int
  mlp_dim: int
  attention_window: int = ATTENTION_WINDOW
  dropout_rate: float = 0.1
  layer_norm_eps: float = 1e-12
  dtype: str = "float32"

  @nn.compact
  def __call__(self, frames: jax.Array, cls: jax.Array, *, train: bool
               ) -> tuple[jax.Array, jax.Array]:
    """(frames [B, T, D], cls [B, D]) -> the same shapes."""
    dtype = jnp.dtype(self.dtype)
    drop = lambda x: nn.Dropout(self.dropout_rate)(x, deterministic=not train)
    tokens = (frames, cls)
    attended = LongformerSelfAttention(self.num_heads, self.attention_window,
                                       self.dtype, name="attention")(*tokens)
    norm = nn.LayerNorm(self.layer_norm_eps, dtype=dtype,
                        name="attention_norm")
    tokens = jax.tree.map(lambda x, y: norm(x + drop(y)), tokens, attended)
    hidden = nn.Dense(self.mlp_dim, dtype=dtype, name="mlp_hidden")
    output = nn.Dense(tokens[0].shape[-1], dtype=dtype, name="mlp_output")
    norm = nn.LayerNorm(self.layer_norm_eps, dtype=dtype, name="mlp_norm")
    mlp = lambda x: norm(x + drop(output(nn.gelu(hidden(x),
                                                 approximate=False))))
    return tuple(jax.tree.map(mlp, tokens))


class LongformerEncoder(nn.Module):
  """VTN's temporal encoder: [CLS] + frame features -> the final [CLS].

  HF `LongformerModel` on `inputs_embeds` = [CLS, f_1 … f_T] with global
  attention on [CLS] and position ids 0 … T.

  Attributes:
    num_layers: Longformer layers.
    num_heads: attention heads.
    mlp_dim: FFN width.
    attention_window: full sliding window, even.
    max_positions: rows of the position table.
    dropout_rate: hidden dropout.
    position_init_std: std of the position table at initialisation.
    dtype: compute dtype.
  """
  num_layers: int
  num_heads: int
  mlp_dim: int
  attention_window: int = ATTENTION_WINDOW
  max_positions: int = 288
  dropout_rate: float = 0.1
  position_init_std: float = 0.02
  dtype: str = "float32"

  @nn.compact
  def __call__(self, frames: jax.Array, *, train: bool) -> jax.Array:
    """[B, T, D] frame features -> [B, D]."""
    dtype = jnp.dtype(self.dtype)
    batch, length, width = frames.shape
    if length + 1 > self.max_positions:
      raise ConfigError(f"dataset.num_frames={length} exceeds "
                        f"model.max_positions={self.max_positions} - 1")
    cls = self.param("cls", nn.initializers.normal(1.0), (width,))
    cls = jnp.broadcast_to(cls.astype(dtype), (batch, width))
    positions = self.param("position_embeddings",
                           nn.initializers.normal(self.position_init_std),
                           (self.max_positions, width)).astype(dtype)
    token_type = self.param("token_type_embedding",
                            nn.initializers.normal(0.02), (2, width))[0]
    norm = nn.LayerNorm(1e-12, dtype=dtype, name="embeddings_norm")
    drop = lambda x: nn.Dropout(self.dropout_rate)(x, deterministic=not train)
    frames = drop(norm(frames + positions[1:length + 1] + token_type))
    cls = drop(norm(cls + positions[0] + token_type))
    for i in range(self.num_layers):
      frames, cls = LongformerLayer(
          self.num_heads, self.mlp_dim, self.attention_window,
          self.dropout_rate, dtype=self.dtype, name=f"layer_{i}")(
              frames, cls, train=train)
    return cls


class VTN(nn.Module):
  """Video Transformer Network.

  Attributes:
    num_classes: size of the classifier.
    hidden_size: D of the backbone and of the temporal encoder.
    num_layers, num_heads, mlp_dim: the per-frame ViT.
    patch_size: the ViT's patch size.
    tubelet_frames: frames per backbone input. 1 is the paper's (a 2D ViT
      on every frame); with 2 the backbone sees each pair of frames through
      a 2×p×p patch embedding, so motion reaches it before the temporal
      encoder (not a published variant) and the Longformer gets T/2 steps.
    temporal_layers: Longformer layers (3 in VIT_B_VTN, 1 in the paper's
      smaller variant).
    temporal_heads: Longformer heads.
    temporal_mlp_dim: Longformer FFN width.
    attention_window: Longformer's full window (18: 9 frames each side).
    max_positions: Longformer position table (288): the longest input is
      max_positions - 1 frames, position 0 being the [CLS] token's.
    head_mlp_dim: hidden width of the MLP head.
    head_dropout_rate: dropout in the MLP head (MODEL.DROPOUT_RATE 0.5).
    temporal_dropout_rate: Longformer hidden dropout (0.1).
    position_init_std: initial std of the Longformer position table: HF's
      initializer_range 0.02. Beside LayerNorm-ed frame features of unit
      scale, such positions barely tell frames apart at initialisation
      (reversing a tiny model's clip moves its logits by ~1%; ~65% at 1.0).
    dropout_rate: dropout in the per-frame ViT (0 in VTN).
    frames_per_chunk: frames the backbone processes at a time (0: all), a
      multiple of tubelet_frames; the clip is zero-padded to a multiple and
      the padding dropped.
    head_init: "zeros" or "lecun_normal" for the classifier.
    dtype: compute dtype; params stay float32.
    remat: rematerialise each ViT block in the backward pass.
    attention_impl: the attention kernel's implementation, "auto", "xla",
      "blockwise", "cudnn" or "splash" (`vst.layers.attention_kernels`).
  """
  num_classes: int
  hidden_size: int
  num_layers: int
  num_heads: int
  mlp_dim: int
  patch_size: int
  tubelet_frames: int = 1
  temporal_layers: int = 3
  temporal_heads: int = 12
  temporal_mlp_dim: int = 3072
  attention_window: int = ATTENTION_WINDOW
  max_positions: int = 288
  head_mlp_dim: int = 768
  head_dropout_rate: float = 0.5
  temporal_dropout_rate: float = 0.1
  position_init_std: float = 0.02
  dropout_rate: float = 0.0
  frames_per_chunk: int = 0
  head_init: str = "lecun_normal"
  dtype: str = "float32"
  remat: bool = False
  attention_impl: str = "auto"

  def _check(self) -> None:
    half_window(self.attention_window)
    check_choice("model.head_init", self.head_init, HEAD_INITS)
    for field, heads in (("num_heads", self.num_heads),
                         ("temporal_heads", self.temporal_heads)):
      if self.hidden_size % heads:
        raise ConfigError(f"model.hidden_size={self.hidden_size} is not "
                          f"divisible by model.{field}={heads}")
    if self.frames_per_chunk < 0:
      raise ConfigError(f"model.frames_per_chunk={self.frames_per_chunk} "
                        "must be ≥ 0 (0: all frames at once)")
    embed.check_tubelet_frames(self.tubelet_frames)
    if self.frames_per_chunk % self.tubelet_frames:
      raise ConfigError(
          f"model.frames_per_chunk={self.frames_per_chunk} is not a "
          f"multiple of model.tubelet_frames={self.tubelet_frames}")
    if self.temporal_layers < 1:
      raise ConfigError(
          f"model.temporal_layers={self.temporal_layers} must be ≥ 1")

  def validate_input(self, shape) -> None:
    """Raises ConfigError unless (T, H, W, C) clips fit the model."""
    self._check()
    frames = shape[0]
    embed.check_patches_fit(shape, self.patch_size, self.tubelet_frames)
    steps = frames // self.tubelet_frames
    if steps + 1 > self.max_positions:
      raise ConfigError(
          f"dataset.num_frames={frames} needs {steps + 1} positions (one for "
          f"[CLS]) but model.max_positions={self.max_positions}")

  def _frame_features(self, inputs: jax.Array, train: bool) -> jax.Array:
    """[B, T, H, W, C] -> [B, T/t, D], `frames_per_chunk` frames at a time
    (t = tubelet_frames)."""
    t = self.tubelet_frames
    batch, frames = inputs.shape[0], inputs.shape[1] // t
    x = inputs.reshape((batch, frames, t) + inputs.shape[2:])
    chunk = self.frames_per_chunk // t or frames
    chunks = -(-frames // chunk)
    pad = chunks * chunk - frames
    x = jnp.pad(x, [(0, 0), (0, pad)] + [(0, 0)] * 4)
    x = x.reshape((batch, chunks, chunk) + x.shape[2:])
    x = jnp.moveaxis(x, 1, 0).reshape((chunks, batch * chunk) + x.shape[3:])
    fields = dict(vit.shared_fields(self), gelu_approximate=False,
                  patch_size=(t, self.patch_size, self.patch_size))
    # Attention maps recorded in the backbone (`vst.layers.attention`, only
    # when requested) stack along the scan: [chunks, B·chunk, ...].
    scan = nn.scan(_BackboneChunk, variable_broadcast="params",
                   variable_axes={"attention": 0, "attention_matrix": 0},
                   split_rngs={"params": False, "dropout": True},
                   length=chunks)
    _, features = scan(fields, train, name="backbone")(None, x)  # [n, B·chunk, D]
    features = features.reshape(chunks, batch, chunk, -1)
    return jnp.moveaxis(features, 0, 1).reshape(batch, chunks * chunk,
                                                -1)[:, :frames]

  @nn.compact
  @uses_attention_impl
  def __call__(self, inputs: jax.Array, *, train: bool) -> jax.Array:
    """[B, T, H, W, C] clips (or whole videos) -> [B, num_classes] logits."""
    self._check()
    dtype = jnp.dtype(self.dtype)
    frames = self._frame_features(inputs.astype(dtype), train)
    cls = LongformerEncoder(
        self.temporal_layers, self.temporal_heads, self.temporal_mlp_dim,
        self.attention_window, self.max_positions,
        self.temporal_dropout_rate, self.position_init_std, dtype=self.dtype,
        name="temporal_encoder")(frames, train=train)
    return heads.classify(cls, self.num_classes, train=train,
                          dropout_rate=self.head_dropout_rate,
                          kernel_init=HEAD_INITS[self.head_init],
                          hidden_dim=self.head_mlp_dim, norm_eps=1e-5,
                          dtype=self.dtype)


VARIANTS = complete_variants(VTN, {
    # ViT-B-VTN; the paper's 1-layer model: --config.model.temporal_layers=1.
    "B/16": dict(hidden_size=768, num_layers=12, num_heads=12, mlp_dim=3072,
                 patch_size=16, temporal_layers=3, temporal_heads=12,
                 temporal_mlp_dim=3072, head_mlp_dim=768),
    # For 8×32×32 synthetic clips on a CPU: 4×4 patches per frame.
    "tiny": dict(hidden_size=64, num_layers=2, num_heads=4, mlp_dim=256,
                 patch_size=8, temporal_layers=2, temporal_heads=4,
                 temporal_mlp_dim=256, head_mlp_dim=64),
})

register("vtn", VTN, VARIANTS)
