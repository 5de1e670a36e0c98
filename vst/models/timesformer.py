"""TimeSformer (Bertasius et al. 2021): an image ViT with space-time attention.

Each frame of a clip [B, T, H, W, C] is cut into p×p patches by the image
ViT's patch embedding (a tubelet of one frame), giving the token grid
[B, T, H/p, W/p, D]; the image model's position table is added to every frame
and a separate, zero-initialised time table to every spatial position. The
`attention` field picks one of the paper's five schemes (Fig. 1, Table 1):

  space                per-frame ViT ("S"): as in the official code every
                       frame is its own image with its own class token, the
                       frames' class tokens are averaged before the final
                       norm, and there is no time table.
  joint                all T·H·W tokens and the class token ("ST").
  divided              time, then space ("T+S"), the default and TimeSformer
                       proper: 121.4M parameters.
  sparse_local_global  local windows, then a dilated global grid ("L+G").
  axial                time, width, height ("T+W+H").

Any other name of `vst.layers.attention.pattern_names()` works too. The
published models differ only in their input: TimeSformer 8×224² (frame
stride 32), TimeSformer-HR 16×448² (stride 16), TimeSformer-L 96×224²
(stride 4); all three are `B/16` (see configs/timesformer_k400.py).

Parameter names: `patch_embed`, `cls`, `posembed_input` (`pos_embedding`
[H', W', D], `cls_pos_embedding`, `time_embedding` [T, D]),
`transformer/encoderblock_{i}/<stage>...`, `encoder_norm`, `head`.
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
from vst.layers import vit
from vst.layers.attention import uses_attention_impl
from vst.layers.head_init import HEAD_INITS
from vst.models.registry import register

VARIANTS = {
    # ViT-B/16, the backbone of every published TimeSformer.
    "B/16": vit.decode_variant("B/16"),
    # For 8×32×32 synthetic clips on a CPU: an 8×4×4 token grid, ~0.2M params.
    "tiny": dict(hidden_size=64, num_layers=4, num_heads=4, mlp_dim=256,
                 patch_size=8),
}

# Schemes in which every frame is encoded alone (the paper's "S").
PER_FRAME_ATTENTION = ("space",)


class TimeSformer(nn.Module):
  """TimeSformer.

  Attributes:
    num_classes: size of the classifier.
    hidden_size: token width D.
    num_layers: encoder depth.
    num_heads: attention heads.
    mlp_dim: MLP hidden width.
    patch_size: p of the p×p frame patches.
    tubelet_frames: frames per token. 1 is the paper's (an image ViT's patch
      embedding on every frame); 2 gives ViViT's t×p×p tubelets, so that a
      token sees motion before any attention (not a published variant).
    attention: the space-time attention scheme, see the module docstring.
    dropout_rate: dropout after the position embeddings and in every block.
    drop_path_rate: stochastic depth of the last block; linear from 0.
    layer_norm_eps: LayerNorm epsilon (1e-6 as in the official code and HF).
    gelu_approximate: tanh GELU, or the exact erf GELU of the official code.
    head_init: "trunc_normal" (official), "zeros" or "lecun_normal".
    time_init: "zeros" (official: fine-tuning starts as the image model) or
      "trunc_normal" (from scratch, frames start distinguishable).
    dtype: compute dtype ("bfloat16" for mixed precision); params stay float32.
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
  attention: str = "divided"
  dropout_rate: float = 0.0
  drop_path_rate: float = 0.0
  layer_norm_eps: float = 1e-6
  gelu_approximate: bool = False
  head_init: str = "trunc_normal"
  time_init: str = "zeros"
  dtype: str = "float32"
  remat: bool = False
  attention_impl: str = "auto"

  def _check(self) -> None:
    vit.check_fields(self)
    check_choice("model.head_init", self.head_init, HEAD_INITS)
    check_choice("model.time_init", self.time_init,
                 frame_position.TIME_INITS)
    if self.patch_size < 1:
      raise ConfigError(f"model.patch_size={self.patch_size} must be >= 1")

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
    per_frame = self.attention in PER_FRAME_ATTENTION
    p = self.patch_size
    # The class token stays out of the temporal stages, as in the official
    # code; the final norm comes after the space-only model's frame average.
    features = scope.inline(vit.ViT(
        **vit.shared_fields(self), patch_size=(self.tubelet_frames, p, p),
        embed_name="patch_embed", frames_apart=per_frame,
        class_token_init=torch_init.TABLE,
        position=lambda name: frame_position.FramePositionEmbedding(
            use_time=not per_frame, time_init=self.time_init, name=name),
        class_token_skips=True, final_norm=False,
        kernel_init=torch_init.DENSE))(inputs, train=train)
    if per_frame:  # The official code averages the frames before the norm.
      features = features.mean(axis=1)
    features = nn.LayerNorm(self.layer_norm_eps, dtype=jnp.dtype(self.dtype),
                            name="encoder_norm")(features)
    return heads.classify(features, self.num_classes, train=train,
                          kernel_init=HEAD_INITS[self.head_init],
                          dtype=self.dtype)


register("timesformer", TimeSformer, VARIANTS)
