"""Separable space and time position embeddings, plus a class token position.

MViT adds to token (t, h, w) the sum temporal[t] + spatial[h, w] rather than
one entry of a T×H×W table: T + H·W rows instead of T·H·W, and a spatial
table that a 2D model could share. Tables are sized by the first call (the
training grid); `resize_space_time_tables` interpolates them to another grid
for clips of other lengths or resolutions (what pytorchvideo does when the
input size changes), e.g. before loading a 16×224² checkpoint into a model
built for 8×160² clips.
"""

import flax.linen as nn
import jax
import jax.numpy as jnp

from vst.layers import embed
from vst.layers import torch_init


class SpaceTimePositionEmbedding(nn.Module):
  """grid [B, T, H, W, D] + temporal[T] + spatial[H, W]; cls + cls_pos.

  Params: `temporal_pos_embedding` [T, D], `spatial_pos_embedding`
  [H, W, D], `cls_pos_embedding` [D] (only with a class token).
  """

  @nn.compact
  def __call__(self, grid: jax.Array, cls: jax.Array | None = None
               ) -> tuple[jax.Array, jax.Array | None]:
    init = torch_init.TABLE
    t, h, w, d = grid.shape[1:]
    temporal = self.param("temporal_pos_embedding", init, (t, d))
    spatial = self.param("spatial_pos_embedding", init, (h, w, d))
    grid = grid + (temporal[:, None, None] + spatial[None]).astype(grid.dtype)
    if cls is not None:
      cls = cls + self.param("cls_pos_embedding", init, (d,)).astype(cls.dtype)
    return grid, cls


def resize_space_time_tables(params: dict, grid_shape) -> dict:
  """The `SpaceTimePositionEmbedding` params resized to grid (T, H, W)."""
  t, h, w = grid_shape
  out = dict(params)
  out["temporal_pos_embedding"] = embed.resize_position_embedding(
      params["temporal_pos_embedding"], (t,))
  out["spatial_pos_embedding"] = embed.resize_position_embedding(
      params["spatial_pos_embedding"], (h, w))
  return out
