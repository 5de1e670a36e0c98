"""C3D (Tran et al. 2015): eight 3×3×3 convolutions, VGG-style.

conv1a 64 → pool1 1×2×2 → conv2a 128 → pool2 2×2×2 → conv3a,b 256 → pool3 →
conv4a,b 512 → pool4 → conv5a,b 512 → pool5 → fc6 4096 → fc7 4096 → logits,
every conv 3×3×3 stride 1 with ReLU, dropout 0.5 after fc6 and fc7. The fcs
take the flattened pool5 volume, so the parameter count depends on the clip:
at 16×112² Caffe's pool5 pads H and W by one (7 → 4, an 8192-d fc6 input:
78.4M parameters at 101 classes); VMZ's re-implementation does not (7 → 3:
64.9M at 400 classes).

The paper has no normalisation; `norm="batch"` adds BatchNorm after each
conv (conv3d.SpaceTimeConv), which trains faster from scratch.
"""

import math

import flax.linen as nn
import jax
import jax.numpy as jnp

from vst.errors import ConfigError
from vst.layers import conv3d
from vst.layers import heads
from vst.models._variants import complete_variants
from vst.models.registry import register

_PAPER_POOLS = ((1, 2, 2),) + ((2, 2, 2),) * 4

VARIANTS = {
    "paper": dict(stages=((64,), (128,), (256, 256), (512, 512), (512, 512)),
                  pools=_PAPER_POOLS, pad_last_pool=True,
                  fc_features=(4096, 4096), dropout_rate=0.5),
    "vmz": dict(stages=((64,), (128,), (256, 256), (512, 512), (512, 512)),
                pools=_PAPER_POOLS, pad_last_pool=False,
                fc_features=(4096, 4096), dropout_rate=0.5),
    # For 8×32×32 clips: three stages, to 2×4×4×64 before the fcs.
    "tiny": dict(stages=((16,), (32,), (64,)), pools=((1, 2, 2), (2, 2, 2),
                                                      (2, 2, 2)),
                 pad_last_pool=False, fc_features=(128,), dropout_rate=0.0),
}


class C3D(nn.Module):
  """C3D on [B, T, H, W, C] clips.

  Attributes:
    num_classes: size of the classifier.
    stages: conv widths of each stage; a max pool follows every stage.
    pools: (t, h, w) window = stride of each stage's pool.
    pad_last_pool: pad H and W of the last pool by one on each side (Caffe).
    fc_features: widths of the fully connected layers before the logits.
    dropout_rate: after each fc.
    norm: "none" (the paper) or "batch".
    dtype: compute dtype; params stay float32.
  """
  num_classes: int
  stages: tuple[tuple[int, ...], ...]
  pools: tuple[tuple[int, int, int], ...]
  pad_last_pool: bool = False
  fc_features: tuple[int, ...] = (4096, 4096)
  dropout_rate: float = 0.5
  norm: str = "none"
  dtype: str = "float32"

  def _pooled_shape(self, shape) -> tuple[int, int, int]:
    sizes = list(shape[:3])
    for i, pool in enumerate(self.pools):
      pad = 2 if (self.pad_last_pool and i == len(self.pools) - 1) else 0
      sizes = [sizes[0] // pool[0]] + [(s + pad - k) // k + 1 if s + pad >= k
                                        else 0 for s, k in zip(sizes[1:],
                                                               pool[1:])]
    return tuple(sizes)

  def validate_input(self, shape) -> None:
    if len(self.pools) != len(self.stages):
      raise ConfigError("model.pools needs one pool per stage of model.stages")
    if min(self._pooled_shape(shape)) < 1:
      frames, height = shape[:2]
      need_t = math.prod(p[0] for p in self.pools)
      raise ConfigError(
          f"dataset.num_frames={frames} / dataset.crop_size={height}: C3D's "
          f"pools need at least {need_t} frames and larger crops")

  @nn.compact
  def __call__(self, inputs: jax.Array, *, train: bool) -> jax.Array:
    """Logits [B, num_classes] (float32) of clips [B, T, H, W, C]."""
    x = inputs.astype(jnp.dtype(self.dtype))
    for i, (widths, pool) in enumerate(zip(self.stages, self.pools)):
      for j, width in enumerate(widths):
        x = conv3d.SpaceTimeConv(width, (3, 3, 3), norm=self.norm,
                                 dtype=self.dtype,
                                 name=f"conv{i + 1}{'ab'[j]}")(x, train=train)
      pad = 1 if (self.pad_last_pool and i == len(self.pools) - 1) else 0
      x = nn.max_pool(x, pool, pool, ((0, 0), (pad, pad), (pad, pad)))
    x = x.reshape(x.shape[0], -1)
    for i, width in enumerate(self.fc_features):
      x = nn.relu(nn.Dense(width, dtype=jnp.dtype(self.dtype),
                           name=f"fc{i + 6}")(x))
      x = nn.Dropout(self.dropout_rate)(x, deterministic=not train)
    return heads.classify(x, self.num_classes, train=train, dtype=self.dtype)


register("c3d", C3D, complete_variants(C3D, VARIANTS))
