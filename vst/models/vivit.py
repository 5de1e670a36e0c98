"""ViViT (Arnab et al. 2021): a video transformer and its four factorisations.

A clip [B, T, H, W, C] is cut into t×p×p tubelets by a 3D conv, giving a token
grid [B, T', H', W', D] (T' = T/t, H' = H/p, W' = W/p). The `vivit_model`
field picks how the grid is encoded:

  spatio_temporal            Model 1. One encoder, joint attention over all
                             T'·H'·W' tokens and a CLS token.
  factorised_encoder         Model 2. A spatial encoder on each time index (its
                             own CLS per frame), then a temporal encoder of
                             `temporal_layers` over the T' frame CLS outputs
                             and a temporal CLS.
  factorised_self_attention  Model 3. One encoder whose blocks do spatial MSA,
                             then temporal MSA, then the MLP, each with its own
                             LayerNorm and residual. No CLS token ("gap"), as
                             in the paper, to keep the grid reshapes clean.
  factorised_dot_product     Model 4. One encoder; half the heads attend in
                             time, half in space. "gap" as in Scenic.
  avg_pool                   Baseline. The spatial encoder of model 2, then a
                             mean over time.

Models 1, 3 and 4 differ only in their attention pattern, so `attention` can
override it with any name in `vst.layers.attention.pattern_names()`.

Parameter names follow Scenic where they can: `tubelet_embed`, `cls`,
`posembed_input`, `transformer/encoderblock_{i}/...`, `transformer/encoder_norm`
(with a `spatial_` / `temporal_` prefix in models 2 and avg_pool), `head`.
"""

import dataclasses

import flax.linen as nn
import jax

from vst.errors import ConfigError, check_choice
from vst.layers import embed
from vst.layers import heads
from vst.layers import scope
from vst.layers import vit
from vst.layers.attention import uses_attention_impl
from vst.layers.head_init import HEAD_INITS
from vst.models.registry import register

VARIANTS = {
    **{name: vit.decode_variant(name)
       for name in ("Ti/16x2", "S/16x2", "B/16x2", "L/16x2", "H/14x2")},
    # For 8×32×32 synthetic clips on a CPU: a 4×4×4 token grid, ~0.2M params.
    "tiny": dict(hidden_size=64, num_layers=4, num_heads=4, mlp_dim=256,
                 tubelet_size=(2, 8, 8)),
}


@dataclasses.dataclass(frozen=True)
class _Layout:
  """What a `vivit_model` name builds.

  Attributes:
    attention: the pattern of a single encoder over the whole grid; "" for the
      per-frame spatial encoder of models 2 and avg_pool.
    temporal: for per-frame models, how frames combine: "encoder" or "mean".
    classifier: the paper's pooling, used when the `classifier` field is "".
  """
  attention: str = ""
  temporal: str = ""
  classifier: str = "token"


VIVIT_MODELS = {
    "spatio_temporal": _Layout(attention="joint"),
    "factorised_encoder": _Layout(temporal="encoder"),
    "factorised_self_attention": _Layout(attention="factorized_self",
                                         classifier="gap"),
    "factorised_dot_product": _Layout(attention="factorized_dot",
                                      classifier="gap"),
    "avg_pool": _Layout(temporal="mean"),
}

# "max" pools the grid by its max (vst.layers.grid_pooling: what shifted
# windows need on synthetic_motion, as the tiny Swin does); not a paper's.
CLASSIFIERS = ("token", "gap", "max")


class ViViT(nn.Module):
  """Video Vision Transformer.

  Attributes:
    num_classes: size of the classifier.
    hidden_size: token width D.
    num_layers: depth of the (spatial) encoder.
    num_heads: attention heads.
    mlp_dim: MLP hidden width.
    tubelet_size: (t, p_h, p_w) of the tubelet embedding.
    vivit_model: a key of `VIVIT_MODELS`.
    attention: for models 1, 3, 4: a pattern name replacing the model's own
      ("" keeps it).
    classifier: "token" (CLS token), "gap" (mean of the grid tokens) or
      "max" (their max); "" takes the paper's choice for `vivit_model`.
    temporal_layers: depth of model 2's temporal encoder.
    dropout_rate: dropout after position embeddings and in every block.
    drop_path_rate: stochastic depth of the last block; linear from 0.
    layer_norm_eps: LayerNorm epsilon.
    gelu_approximate: tanh GELU (Scenic, HF) or exact erf GELU.
    tubelet_init: "central_frame", "filter_inflation" or "random".
    head_init: "zeros" (Scenic's, for fine-tuning: the new head starts
      neutral) or "lecun_normal" (trains faster from scratch).
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
  tubelet_size: tuple[int, int, int]
  vivit_model: str = "spatio_temporal"
  attention: str = ""
  classifier: str = ""
  temporal_layers: int = 4
  dropout_rate: float = 0.0
  drop_path_rate: float = 0.0
  layer_norm_eps: float = 1e-6
  gelu_approximate: bool = True
  tubelet_init: str = "central_frame"
  head_init: str = "zeros"
  dtype: str = "float32"
  remat: bool = False
  attention_impl: str = "auto"

  def _layout(self) -> _Layout:
    """The checked layout, with `attention` and `classifier` resolved."""
    check_choice("model.vivit_model", self.vivit_model, VIVIT_MODELS)
    layout = VIVIT_MODELS[self.vivit_model]
    if self.attention:
      if not layout.attention:
        raise ConfigError(
            f"model.attention={self.attention!r} cannot apply to "
            f"vivit_model={self.vivit_model!r}, whose encoders attend within "
            "a frame and across frames by construction; leave it empty")
      layout = dataclasses.replace(layout, attention=self.attention)
    if self.classifier:
      check_choice("model.classifier", self.classifier, CLASSIFIERS)
      layout = dataclasses.replace(layout, classifier=self.classifier)
    vit.check_fields(self)
    check_choice("model.head_init", self.head_init, HEAD_INITS)
    return layout

  def validate_input(self, shape) -> None:
    """Raises ConfigError unless clips of (T, H, W, C) cut into tubelets."""
    self._layout()
    embed.check_tubelets_fit(shape, self.tubelet_size)

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
    layout = self._layout()
    encoder = lambda **fields: scope.inline(vit.TokenEncoder(
        **{**vit.shared_fields(self, vit.TokenEncoder), "readout": layout.classifier,
           **fields}))
    backbone = lambda **fields: scope.inline(vit.ViT(
        **{**vit.shared_fields(self), "readout": layout.classifier,
           "patch_size": self.tubelet_size, "embed_init": self.tubelet_init,
           **fields}))
    if layout.attention:
      features = backbone(attention=layout.attention)(inputs, train=train)
    else:  # Each time index is an image of its own: a one-frame grid.
      features = backbone(attention="joint", prefix="spatial_",
                          frames_apart=True)(inputs, train=train)
      if layout.temporal == "encoder":
        features = encoder(attention="joint", prefix="temporal_",
                           num_layers=self.temporal_layers)(
                               features[:, :, None, None], train=train)
      else:
        features = features.mean(axis=1)
    return heads.classify(features, self.num_classes, train=train,
                          kernel_init=HEAD_INITS[self.head_init],
                          dtype=self.dtype)


register("vivit", ViViT, VARIANTS)
