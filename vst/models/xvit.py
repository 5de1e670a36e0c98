"""X-ViT (Bulat et al. 2021): space-time mixing attention on an image ViT.

X-ViT runs the image ViT-B/16 on every frame, each frame with its own class
token, but in every block the keys and values of frame t borrow channel
slices from frames t ± t_w (the "mixing" pattern, `vst.layers.patterns_xvit`).
Attention stays per frame, so the cost is that of T images, linear in T.
The per-frame class tokens then go through the temporal attention aggregation
head of the official code (`slowfast/models/head_helper.py`, VitHead): a
learned class token, one pre-LN transformer layer over [class, frame tokens]
(no position embedding), then LayerNorm → Linear(D, 768) → GELU → dropout →
Linear(768, classes).

  clips [B, T, H, W, C] -> frame patches [B, T, H/p, W/p, D] and per-frame
  class tokens [B, T, D] -> 12 mixing blocks -> frame tokens [B, T, D]
  -> temporal head -> logits.

Parameters: ViT-B without its head (85.8M) + the temporal layer (7.1M) + the
MLP head: 93.79M at 8 frames with 400 classes (REFERENCE.md N12: the paper's
"92M" is rounded). The official temporal layer has no q/k/v biases; ours has
them (2,304 parameters, 0.002%), as every attention of vst.

Parameter names: `patch_embed`, `cls`, `posembed_input` (`pos_embedding`,
`cls_pos_embedding`, `time_embedding`), `transformer/encoderblock_{i}/...`,
`transformer/encoder_norm`, `temporal_cls`, `temporal_encoder/...`,
`head_norm`, `head_hidden`, `head`.
"""

import flax.linen as nn
import jax
import jax.numpy as jnp

from vst.errors import ConfigError, check_choice
from vst.layers import embed
from vst.layers import frame_position
from vst.layers import heads
from vst.layers import scope
from vst.layers import torch_init
from vst.layers import transformer
from vst.layers import vit
from vst.layers.attention import uses_attention_impl
from vst.layers.head_init import HEAD_INITS
from vst.models.registry import register

VARIANTS = {
    # ViT-B/16 (ImageNet-21K in the paper) with the released 768-d MLP head.
    "B/16": dict(vit.decode_variant("B/16"), head_mlp_dim=768),
    # For 8×32×32 synthetic clips on a CPU: 8 frames of 4×4 patches.
    "tiny": dict(hidden_size=64, num_layers=4, num_heads=4, mlp_dim=256,
                 patch_size=8, head_mlp_dim=64),
}

# Patterns that take one class token per frame ([B, T, N, Dh]).
PER_FRAME_CLASS_TOKEN_PATTERNS = ("mixing",)


class XViT(nn.Module):
  """X-ViT.

  Attributes:
    num_classes: size of the classifier.
    hidden_size: token width D.
    num_layers: depth of the frame encoder.
    num_heads: attention heads (of the encoder and of the temporal layer).
    mlp_dim: MLP hidden width (of the encoder and of the temporal layer).
    patch_size: p of the p×p frame patches.
    tubelet_frames: frames per token; 1 is the paper's. With 2 (ViViT's
      t×p×p tubelets, not a published variant) the mixing and the per-frame
      class tokens work on pairs of frames.
    head_mlp_dim: hidden width of the MLP head.
    attention: the encoder's pattern; one of
      `PER_FRAME_CLASS_TOKEN_PATTERNS` ("mixing": t_w = 1, SHIFT_DIV 8).
    temporal_layers: depth of the temporal aggregation head (1 released).
    dropout_rate: dropout after position embeddings and in every block.
    drop_path_rate: stochastic depth of the last encoder block.
    head_dropout_rate: dropout in the MLP head (MODEL.DROPOUT_RATE 0.5).
    layer_norm_eps: LayerNorm epsilon (1e-6, timm's ViT).
    gelu_approximate: tanh GELU, or timm's exact erf GELU.
    head_init: "normal" (official std 0.001), "zeros" or "lecun_normal".
    time_init: "zeros" (official: fine-tuning starts as the image model) or
      "trunc_normal" (from scratch, frames start distinguishable).
    dtype: compute dtype; params stay float32.
    remat: rematerialise each encoder block in the backward pass.
    attention_impl: the attention kernel's implementation, "auto", "xla",
      "blockwise", "cudnn" or "splash" (`vst.layers.attention_kernels`).
  """
  num_classes: int
  hidden_size: int
  num_layers: int
  num_heads: int
  mlp_dim: int
  patch_size: int = 16
  tubelet_frames: int = 1
  head_mlp_dim: int = 768
  attention: str = "mixing"
  temporal_layers: int = 1
  dropout_rate: float = 0.0
  drop_path_rate: float = 0.0
  head_dropout_rate: float = 0.5
  layer_norm_eps: float = 1e-6
  gelu_approximate: bool = False
  head_init: str = "normal"
  time_init: str = "zeros"
  dtype: str = "float32"
  remat: bool = False
  attention_impl: str = "auto"

  def _check(self) -> None:
    check_choice("model.attention", self.attention,
                 PER_FRAME_CLASS_TOKEN_PATTERNS)
    vit.check_fields(self)
    check_choice("model.head_init", self.head_init, HEAD_INITS)
    check_choice("model.time_init", self.time_init,
                 frame_position.TIME_INITS)
    if self.temporal_layers < 1:
      raise ConfigError(
          f"model.temporal_layers={self.temporal_layers} must be >= 1: the "
          "temporal head is what combines the frames")

  def validate_input(self, shape) -> None:
    """Raises ConfigError unless clips of (T, H, W, C) cut into patches."""
    self._check()
    embed.check_patches_fit(shape, self.patch_size, self.tubelet_frames)

  @nn.compact
  @uses_attention_impl
  def __call__(self, inputs: jax.Array, *, train: bool) -> jax.Array:
    """Logits of a batch of clips.

    Args:
      inputs: [B, T, H, W, C] clips.
      train: enables dropout and stochastic depth (rng collection "dropout").

    Returns:
      [B, num_classes] float32 logits.
    """
    self._check()
    p = self.patch_size
    frame_tokens = scope.inline(vit.ViT(
        **vit.shared_fields(self), patch_size=(self.tubelet_frames, p, p),
        embed_name="patch_embed", readout="frame_tokens",
        class_token_init=torch_init.TABLE,
        position=lambda name: frame_position.FramePositionEmbedding(
            time_init=self.time_init, name=name)))(inputs, train=train)
    return heads.classify(
        self._temporal_head(frame_tokens, train), self.num_classes,
        train=train, dropout_rate=self.head_dropout_rate,
        kernel_init=HEAD_INITS[self.head_init],
        hidden_dim=self.head_mlp_dim, norm_eps=self.layer_norm_eps,
        hidden_init=torch_init.TABLE, gelu_approximate=self.gelu_approximate,
        dtype=self.dtype)

  def _temporal_head(self, frame_tokens: jax.Array, train: bool) -> jax.Array:
    """[B, T, D] frame tokens -> [B, D]: a class token attending over them.

    The frames form a T×1×1 grid for the shared encoder block; joint
    attention over it is the official layer's attention over [class, frames].
    """
    batch = frame_tokens.shape[0]
    cls = jnp.broadcast_to(
        self.param("temporal_cls", nn.initializers.zeros,
                   (self.hidden_size,)).astype(frame_tokens.dtype),
        (batch, self.hidden_size))
    grid = frame_tokens[:, :, None, None]
    for i in range(self.temporal_layers):
      grid, cls = transformer.encoder_block(
          self.num_heads, self.mlp_dim, "joint", self.dropout_rate, 0.0,
          self.layer_norm_eps, self.gelu_approximate, self.dtype,
          name=f"temporal_encoder_{i}")(grid, cls, train)
    return cls


register("xvit", XViT, VARIANTS)
