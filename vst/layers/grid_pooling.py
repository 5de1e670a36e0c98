"""Pooling a token or feature grid [B, T, H, W, D] to one vector per clip.

The papers pool by the mean ("mean", Swin, UniFormer, ViViT's "gap"). On
`synthetic_motion`, where one small object moves over a textured background,
a mean over LayerNorm-ed tokens drowns the object's few tokens in the
background's: the tiny Video Swin, torchvision's SwinTransformer3d at the
same sizes and recipe, and ViViT tiny with a mean classifier all stay at
ln 8 for hundreds of steps, while the same torchvision Swin with a max pool
reaches 60% test top-1 in 300 steps. (A CNN's mean pool does not suffer: its
ReLU features are near zero on the background.) "max" is therefore a config
choice, never a default.
"""

import jax

from vst.errors import check_choice

POOLINGS = ("mean", "max")


def pool_grid(grid: jax.Array, pooling: str, field: str = "model.pooling"
              ) -> jax.Array:
  """[B, T, H, W, D] -> [B, D] by `pooling` ("mean" or "max").

  `field` names the config field in the error for any other value.
  """
  check_choice(field, pooling, POOLINGS)
  if pooling == "max":
    return grid.max(axis=(1, 2, 3))
  return grid.mean(axis=(1, 2, 3))
