"""One classifier head for every model (timm's `ClassifierHead` is the anchor).

  features [B, D] ─ sow "pre_logits" ─ [LayerNorm → Dense → GELU] ─ dropout
  ─ Dense(num_classes) ─ float32 logits

The bracket is the MLP head of X-ViT and VTN (`hidden_dim` > 0). The sown
features are what feature extraction reads (`vst.tools.features`). Built
with `scope.inline`, the head's parameters are the model's own: `head`, and
`head_norm`, `head_hidden` with the MLP.
"""

from typing import Callable

import flax.linen as nn
import jax
import jax.numpy as jnp

from vst.layers import scope


class ClassifierHead(nn.Module):
  """[B, D] features -> [B, num_classes] float32 logits.

  Attributes:
    num_classes: size of the classifier.
    dropout_rate: dropout before the classifier.
    kernel_init: of the classifier (`vst.layers.head_init.HEAD_INITS`).
    hidden_dim: width of the MLP head's hidden layer; 0 for a linear head.
    norm_eps: epsilon of the MLP head's LayerNorm.
    hidden_init: kernel initialiser of the MLP head's hidden layer.
    gelu_approximate: tanh GELU in the MLP head, or the exact erf GELU.
    dtype: compute dtype.
  """
  num_classes: int
  dropout_rate: float = 0.0
  kernel_init: Callable = nn.initializers.lecun_normal()
  hidden_dim: int = 0
  norm_eps: float = 1e-6
  hidden_init: Callable = nn.initializers.lecun_normal()
  gelu_approximate: bool = False
  dtype: str = "float32"

  @nn.compact
  def __call__(self, features: jax.Array, *, train: bool) -> jax.Array:
    dtype = jnp.dtype(self.dtype)
    self.sow("intermediates", "pre_logits", features)
    x = features
    if self.hidden_dim:
      x = nn.LayerNorm(self.norm_eps, dtype=dtype, name="head_norm")(x)
      x = nn.Dense(self.hidden_dim, dtype=dtype, kernel_init=self.hidden_init,
                   name="head_hidden")(x)
      x = nn.gelu(x, approximate=self.gelu_approximate)
    # Named: the module is inlined in a model that may autoname its own.
    x = nn.Dropout(self.dropout_rate, name="head_dropout")(
        x, deterministic=not train)
    logits = nn.Dense(self.num_classes, dtype=dtype,
                      kernel_init=self.kernel_init, name="head")(x)
    return logits.astype(jnp.float32)


def classify(features: jax.Array, num_classes: int, *, train: bool,
             **fields) -> jax.Array:
  """`ClassifierHead(num_classes, **fields)` inline in the calling model.

  Call it inside a model's compact method; the head's parameters and the
  sown "pre_logits" are the model's own.
  """
  return scope.inline(ClassifierHead(num_classes, **fields))(features,
                                                             train=train)
