"""Channel attention for 3D CNN blocks: SE and STC, selected by name.

Both recalibrate the channels of a residual branch's output [B, T, H, W, C]
by sigmoid weights computed from pooled statistics, before the shortcut is
added (as SENet places it):

  se   Squeeze-and-Excitation (Hu et al. 2018), pooled over T, H and W:
       w = σ(W₂ ReLU(W₁ mean_THW(x))), W₁: C → C/r, W₂: C/r → C.
  stc  Spatio-Temporal Channel correlation (Diba et al. 2018): two squeezes,
       a channel branch ReLU(W_c mean_THW(x)) (C → C/r) and a temporal-channel
       branch ReLU(W_t vec(mean_HW(x))) (T'·C → C/r) that sees how each
       channel evolves over the block's T' time steps; their concatenation is
       excited to C sigmoid weights. Like the paper's, the temporal branch's
       FC is sized by T', so its parameters depend on the clip length.
"""

import flax.linen as nn
import jax
import jax.numpy as jnp

from vst.errors import check_choice

ATTENTIONS = ("none", "se", "stc")


def check_attention(field: str, attention: str) -> None:
  check_choice(field, attention, ATTENTIONS)


class SqueezeExcitation(nn.Module):
  """SE on [B, T, H, W, C]; `reduction` r sets the bottleneck C/r."""
  reduction: int = 16
  dtype: str = "float32"

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    channels = x.shape[-1]
    squeezed = x.mean(axis=(1, 2, 3))
    hidden = nn.relu(nn.Dense(max(channels // self.reduction, 1),
                              dtype=jnp.dtype(self.dtype), name="squeeze")(
                                  squeezed))
    weights = nn.sigmoid(nn.Dense(channels, dtype=jnp.dtype(self.dtype),
                                  name="excite")(hidden))
    return x * weights[:, None, None, None, :]


class SpatioTemporalChannelCorrelation(nn.Module):
  """STC on [B, T, H, W, C]; `reduction` r sets both branches' width C/r."""
  reduction: int = 16
  dtype: str = "float32"

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    batch, _, _, _, channels = x.shape
    width = max(channels // self.reduction, 1)
    dense = lambda n, name: nn.Dense(n, dtype=jnp.dtype(self.dtype), name=name)
    channel = nn.relu(dense(width, "channel_squeeze")(x.mean(axis=(1, 2, 3))))
    temporal = x.mean(axis=(2, 3)).reshape(batch, -1)  # [B, T'·C]
    temporal = nn.relu(dense(width, "temporal_squeeze")(temporal))
    weights = nn.sigmoid(dense(channels, "excite")(
        jnp.concatenate([channel, temporal], axis=-1)))
    return x * weights[:, None, None, None, :]


def channel_attention(attention: str, reduction: int, dtype: str, name: str):
  """The block option `attention`: a module, or None for "none"."""
  check_attention("model.attention", attention)
  if attention == "se":
    return SqueezeExcitation(reduction, dtype, name=name)
  if attention == "stc":
    return SpatioTemporalChannelCorrelation(reduction, dtype, name=name)
  return None
