"""Tubelet embedding and learned position embeddings of a video token grid.

A tubelet embedding is a 3D conv with kernel = stride = (t, p, p): clips
`[B, T, H, W, C]` become tokens `[B, T/t, H/p, W/p, D]`. ViViT initialises it
from a 2D patch embedding (Arnab et al. 2021, Sec. 3.4) in one of two ways,
written here as functions from a 2D kernel to a 3D one so that the same code
serves random initialisation and 2D-checkpoint surgery:

  central_frame     the 2D kernel at the middle temporal index, zeros elsewhere:
                    at initialisation each token sees one frame, like ViT.
  filter_inflation  the 2D kernel repeated over time and divided by t (I3D):
                    on a video of identical frames it gives the 2D output.
"""

import math
from typing import Callable

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from vst.errors import ConfigError, check_choice
from vst.layers import conv3d
from vst.layers import loop_conv


# The lifts below take numpy or jax arrays and return the same kind: numpy
# when converting a checkpoint on the host (no compile per kernel shape), jax
# inside an initialiser.
def _array_module(x):
  return np if isinstance(x, np.ndarray) else jnp


def central_frame(kernel_2d: jax.Array, time: int) -> jax.Array:
  """[p, p, C, D] -> [t, p, p, C, D], nonzero only at index t // 2."""
  xp = _array_module(kernel_2d)
  zeros = lambda n: xp.zeros((n,) + kernel_2d.shape, kernel_2d.dtype)
  return xp.concatenate([zeros(time // 2), kernel_2d[None],
                         zeros(time - time // 2 - 1)])


def filter_inflation(kernel_2d: jax.Array, time: int) -> jax.Array:
  """[p, p, C, D] -> [t, p, p, C, D], the 2D kernel / t at every index."""
  xp = _array_module(kernel_2d)
  return xp.broadcast_to(kernel_2d / time, (time,) + kernel_2d.shape)


# How a 3D tubelet kernel is made from a 2D one, by `tubelet_kernel_init`.
INFLATIONS: dict[str, Callable[[jax.Array, int], jax.Array]] = {
    "central_frame": central_frame,
    "filter_inflation": filter_inflation,
}


def tubelet_kernel_init(method: str) -> nn.initializers.Initializer:
  """A [t, p, p, C, D] initialiser: "random", or an `INFLATIONS` name.

  "random" is LeCun normal over the whole tubelet. The inflations draw a LeCun
  normal 2D kernel (fan-in p·p·C, what a single frame sees) and lift it.
  """
  check_choice("model.tubelet_init", method, ["random", *INFLATIONS])
  lecun = nn.initializers.lecun_normal()
  if method == "random":
    return lecun

  def init(key, shape, dtype=jnp.float32):
    return INFLATIONS[method](lecun(key, shape[1:], dtype), shape[0])

  return init


def check_tubelets_fit(shape, tubelet_size) -> None:
  """ConfigError unless clips of (T, H, W, C) cut into `tubelet_size` tubelets."""
  frames, height, width = shape[:3]
  t, p_h, p_w = tubelet_size
  if frames % t:
    raise ConfigError(
        f"dataset.num_frames={frames} is not divisible by the tubelet's "
        f"temporal size {t} (model.tubelet_size)")
  if height % p_h or width % p_w:
    raise ConfigError(
        f"dataset.crop_size: {height}×{width} frames are not divisible by "
        f"the tubelet's patch size {p_h}×{p_w} (model.tubelet_size)")


def check_tubelet_frames(tubelet_frames: int) -> None:
  if tubelet_frames < 1:
    raise ConfigError(f"model.tubelet_frames={tubelet_frames} must be >= 1")


def check_patches_fit(shape, patch_size: int, tubelet_frames: int = 1
                      ) -> None:
  """ConfigError unless (T, H, W, C) clips cut into tubelets of
  model.tubelet_frames frames and square patches of model.patch_size
  (frame patch embeddings: TimeSformer, X-ViT, VTN)."""
  frames, height, width = shape[:3]
  check_tubelet_frames(tubelet_frames)
  if frames % tubelet_frames:
    raise ConfigError(
        f"dataset.num_frames={frames} is not divisible by "
        f"model.tubelet_frames={tubelet_frames}")
  if height % patch_size or width % patch_size:
    raise ConfigError(
        f"dataset.crop_size: {height}×{width} frames are not divisible by "
        f"model.patch_size={patch_size}")


def tubelet_embedding(features: int, tubelet_size: tuple[int, int, int],
                      kernel_init: str = "central_frame",
                      dtype: str = "float32", name: str | None = None,
                      in_loop: bool = False) -> nn.Conv:
  """The conv taking [B, T, H, W, C] clips to [B, T/t, H/p_h, W/p_w, D] tokens.

  A plain `nn.Conv`, so its parameters are `<name>/kernel` [t, p_h, p_w, C, D]
  and `<name>/bias` [D], ready for checkpoint surgery.

  Args:
    features: D.
    tubelet_size: (t, p_h, p_w), the kernel and the stride.
    kernel_init: "central_frame", "filter_inflation" or "random".
    dtype: compute dtype.
    name: the module name.
    in_loop: the conv runs inside `nn.scan` (VTN's backbone over chunks of
      frames): its kernel gradient is then computed by `vst.layers.loop_conv`
      (same values), as XLA:CPU's is many times slower in a loop; VTN tiny
      trained 4× faster with it (231 → 918 clips/s, 2026-12-05).
  """
  size = tuple(tubelet_size)
  extra = {"conv_general_dilated": (
      loop_conv.conv_general_dilated if in_loop
      else conv3d.patchify_conv_general_dilated)}
  return nn.Conv(features, size, strides=size, padding="VALID",
                 dtype=jnp.dtype(dtype),
                 kernel_init=tubelet_kernel_init(kernel_init), name=name,
                 **extra)


class PositionEmbedding(nn.Module):
  """Learned position embeddings added to every grid token and class token.

  The table `pos_embedding` is grid-shaped [T, H, W, D] (sized by the first
  call), so it resizes to another grid with `resize_position_embedding`. The
  class token gets its own `cls_pos_embedding` [D], as in Scenic and HF, where
  the CLS position is the first row of one table; it is redundant with the
  learned class token itself but keeps checkpoints and parameter counts equal.
  """

  @nn.compact
  def __call__(self, grid: jax.Array, cls: jax.Array | None = None
               ) -> tuple[jax.Array, jax.Array | None]:
    """(grid [B, T, H, W, D], cls [B, D] | None) -> the same, plus positions."""
    init = nn.initializers.normal(stddev=0.02)  # BERT's, as Scenic's ViT.
    table = self.param("pos_embedding", init, grid.shape[1:])
    grid = grid + table.astype(grid.dtype)
    if cls is not None:
      cls = cls + self.param("cls_pos_embedding", init,
                             cls.shape[1:]).astype(cls.dtype)
    return grid, cls


def resize_position_embedding(table: jax.Array, grid_shape: tuple[int, ...],
                              method: str = "linear") -> jax.Array:
  """A [T, H, W, D] position table interpolated to [T', H', W', D].

  For fine-tuning at another resolution or clip length; `method` is any
  `jax.image.resize` method ("linear", "cubic", "nearest", ...). The
  interpolation uses half-pixel centres, so each new position samples the old
  table where its token's centre falls.
  """
  grid_shape = tuple(grid_shape)
  if grid_shape == table.shape[:-1]:
    return table
  if math.prod(grid_shape) == 0:
    raise ValueError(f"cannot resize a position table to grid {grid_shape}")
  return jax.image.resize(table, grid_shape + table.shape[-1:], method)
