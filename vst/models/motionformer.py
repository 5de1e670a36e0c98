"""Motionformer (Patrick et al. 2021): a ViT whose attention follows motion.

A clip [B, T, H, W, C] is cut into 2×16×16 tubelets (a token grid
[B, T/2, H/16, W/16, D]), given separate spatial and temporal position
embeddings and a class token, and encoded by ViT-B blocks whose attention is
the `trajectory` pattern (or its `orthoformer` approximation, or any other
pattern by name): `vst.layers.patterns_trajectory`. The class token's final
state goes through the official pre-logits layer (Dense D→D, tanh) and the
classifier.

Details from facebookresearch/Motionformer (`video_model_builder.py`,
`vit_helper.py`, `configs/K400/motionformer_*.yaml`): qkv bias, LayerNorm eps
1e-6, exact GELU, stochastic depth 0.2 rising linearly; position embeddings
`pos_embed` [1 + 14·14, D] (row 0 is the class token's) plus `temp_embed`
[T', D] added to every token of frame t; at other resolutions (Mformer-HR at
336²) the 14×14 table is resized bicubically, so the parameter count is the
same at every resolution. The official model also allocates an unused 2D
patch embedding (0.59M), left out here: 108.55M rather than 109.14M
(REFERENCE.md N12).

Parameter names: `tubelet_embed`, `cls`, `pos_embedding`, `cls_pos_embedding`,
`temporal_embedding`, `transformer/encoderblock_{i}/attention/{query,key,
value,out,proj_q,proj_kv}`, `transformer/encoder_norm`, `representation` (the official `pre_logits`), `head`.
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
from vst.models._variants import complete_variants
from vst.models.registry import register


class Motionformer(nn.Module):
  """Video transformer with trajectory attention.

  Attributes:
    num_classes: size of the classifier.
    hidden_size: token width D.
    num_layers: depth.
    num_heads: attention heads.
    mlp_dim: MLP hidden width.
    tubelet_size: (t, p_h, p_w) of the tubelet embedding.
    attention: pattern name of every block: "trajectory" (the paper),
      "orthoformer" (its approximation), or any other pattern.
    position_grid: (h, w) of the spatial position table; another frame grid
      resizes it bicubically (the official 224-px table of ViT: (14, 14)).
      Empty: sized by the input.
    pre_logits: the official Dense+tanh before the classifier.
    dropout_rate: dropout after position embeddings and in every block.
    drop_path_rate: stochastic depth of the last block; linear from 0.
    layer_norm_eps: LayerNorm epsilon.
    gelu_approximate: tanh GELU; the official ViT uses the exact one.
    tubelet_init: "central_frame", "filter_inflation" or "random".
    head_init: "zeros" (for fine-tuning) or "lecun_normal" (from scratch).
    dtype: compute dtype; params stay float32.
    remat: rematerialise each block in the backward pass.
    attention_impl: the attention kernel's implementation, "auto", "xla",
      "blockwise", "cudnn" or "splash" (`vst.layers.attention_kernels`).
  """
  num_classes: int
  hidden_size: int
  num_layers: int
  num_heads: int
  mlp_dim: int
  tubelet_size: tuple[int, int, int]
  attention: str = "trajectory"
  position_grid: tuple[int, ...] = ()
  pre_logits: bool = True
  dropout_rate: float = 0.0
  drop_path_rate: float = 0.0
  layer_norm_eps: float = 1e-6
  gelu_approximate: bool = False
  tubelet_init: str = "central_frame"
  head_init: str = "zeros"
  dtype: str = "float32"
  remat: bool = False
  attention_impl: str = "auto"

  def _check(self) -> None:
    vit.check_fields(self)
    check_choice("model.head_init", self.head_init, HEAD_INITS)
    if len(self.position_grid) not in (0, 2) or any(
        n < 1 for n in self.position_grid):
      raise ConfigError(
          f"model.position_grid={tuple(self.position_grid)} must be empty "
          "(sized by the input) or two positive ints (h, w)")

  def validate_input(self, shape) -> None:
    """Raises ConfigError unless clips of (T, H, W, C) cut into tubelets."""
    self._check()
    embed.check_tubelets_fit(shape, self.tubelet_size)

  @nn.compact
  @uses_attention_impl
  def __call__(self, inputs: jax.Array, *, train: bool) -> jax.Array:
    """[B, T, H, W, C] clips -> [B, num_classes] float32 logits."""
    self._check()
    # The official tables are top-level parameters of the model.
    position = lambda name: scope.inline(frame_position.FramePositionEmbedding(
        table_grid=tuple(self.position_grid), time_name="temporal_embedding"))
    features = scope.inline(vit.ViT(
        **vit.shared_fields(self), patch_size=self.tubelet_size,
        embed_init=self.tubelet_init, class_token_init=torch_init.TABLE,
        position=position))(inputs, train=train)
    if self.pre_logits:
      features = jnp.tanh(nn.Dense(self.hidden_size,
                                   dtype=jnp.dtype(self.dtype),
                                   name="representation")(features))
    return heads.classify(features, self.num_classes, train=train,
                          kernel_init=HEAD_INITS[self.head_init],
                          dtype=self.dtype)


VARIANTS = complete_variants(Motionformer, {
    # Mformer, -L and -HR are this one network at 16×224², 32×224², 16×336².
    "B/16x2": dict(vit.decode_variant("B/16x2"), position_grid=(14, 14),
                   drop_path_rate=0.2),
    # For 8×32×32 synthetic clips on a CPU: a 4×4×4 token grid.
    "tiny": dict(hidden_size=64, num_layers=4, num_heads=4, mlp_dim=256,
                 tubelet_size=(2, 8, 8), position_grid=(),
                 drop_path_rate=0.0),
})

register("motionformer", Motionformer, VARIANTS)
