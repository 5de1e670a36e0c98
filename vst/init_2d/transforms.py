"""How one canonical 2D array becomes one target parameter, shape-checked.

Every transform returns (value, status, detail) with status "loaded"
(values unchanged, at most reshaped), "inflated" (a 2D kernel spread over
time, a table tiled over time, RGB weights spread over other channels) or
"interpolated" (a position table resized over space), or None when the
target keeps its fresh initialisation ("new"). A shape no allowed
transformation reaches raises ConfigError naming the target path, both
shapes and what is allowed.
"""

import dataclasses
from typing import Callable

import jax.numpy as jnp
import numpy as np

from vst.errors import ConfigError, check_choice
from vst.layers import embed
from vst.layers import inflate

# init_from.tubelet_init -> the `inflate.INFLATIONS` lift it names.
TUBELET_INITS = {"central_frame": "centre", "mean": "mean", "repeat": "repeat"}
INFLATIONS = tuple(inflate.INFLATIONS)

Result = tuple[np.ndarray, str, str] | None


@dataclasses.dataclass(frozen=True)
class Rule:
  """Target parameter <- canonical source key, through `transform`."""
  source: str
  transform: Callable[[np.ndarray, tuple, str, str], Result]


def shape_error(path: str, source_key: str, source_shape, target_shape,
                allowed: str) -> ConfigError:
  return ConfigError(
      f"init_from: cannot map {source_key} {tuple(source_shape)} onto "
      f"{path} {tuple(target_shape)}; allowed: {allowed}")


def copy(reshape: bool = False) -> Callable[..., Result]:
  """Equal shapes (or, with `reshape`, equal sizes: split attention heads)."""
  def transform(value, shape, path, key):
    if value.shape == shape:
      return value, "loaded", ""
    if reshape and value.size == int(np.prod(shape)):
      return value.reshape(shape), "loaded", f"reshaped {value.shape}→{shape}"
    raise shape_error(path, key, value.shape, shape,
                      "identical shapes" + (
                          " or a reshape to the same size (head split)"
                          if reshape else ""))
  return transform


def head(reshape: bool = False) -> Callable[..., Result]:
  """A classifier: loaded when the class counts agree, else new."""
  def transform(value, shape, path, key):
    if value.size == int(np.prod(shape)) and value.shape[-1] == shape[-1]:
      return copy(reshape)(value, shape, path, key)
    del path, key
    return None
  return transform


def _adapt_channels(kernel: np.ndarray, channels: int) -> tuple[np.ndarray, str]:
  """An RGB first-layer kernel [..., 3, D] for `channels` inputs (TSN's
  cross-modality init: the mean over RGB, replicated), or unchanged."""
  if kernel.shape[-2] == channels:
    return kernel, ""
  if kernel.shape[-2] != 3:
    return kernel, ""
  mean = kernel.mean(axis=-2, keepdims=True)
  return (np.repeat(mean, channels, axis=-2),
          f"RGB mean replicated over {channels} input channels")


def kernel(method: str, allowed: str) -> Callable[..., Result]:
  """A 2D kernel [k_h, k_w, C, D] onto [k_h, k_w, C, D] or [t, k_h, k_w, C, D].

  `method`: a key of `inflate.INFLATIONS` ("centre", "mean", "repeat").
  """
  check_choice("init_from.inflation", method, INFLATIONS)

  def transform(value, shape, path, key):
    details = []
    if len(shape) in (4, 5) and value.ndim == 4:
      value, note = _adapt_channels(value, shape[-2])
      details += [note] if note else []
    if value.ndim == 4 and len(shape) == 4 and value.shape == shape:
      return value, "inflated" if details else "loaded", "; ".join(details)
    if value.ndim != 4 or len(shape) != 5 or value.shape != tuple(shape[1:]):
      raise shape_error(path, key, value.shape, shape, allowed)
    out = np.asarray(inflate.inflate_kernel(jnp.asarray(value), shape[0],
                                            method))
    if shape[0] == 1 and not details:
      return out, "loaded", "as a 1×k×k kernel"
    details.insert(0, f"{method} over t={shape[0]}")
    return out, "inflated", "; ".join(details)
  return transform


def tubelet(tubelet_init: str) -> Callable[..., Result]:
  """A patch embedding [p, p, C, D] onto a tubelet [t, p, p, C, D]."""
  check_choice("init_from.tubelet_init", tubelet_init, TUBELET_INITS)
  inner = kernel(TUBELET_INITS[tubelet_init],
                 "a tubelet [t, p, p, C, D] with the source's patch size p, "
                 "channels C and width D (model.tubelet_size / patch_size, "
                 "hidden_size)")

  def transform(value, shape, path, key):
    out = inner(value, shape, path, key)
    if out[1] == "inflated":
      return out[0], out[1], f"{tubelet_init} over t={shape[0]}"
    return out
  return transform


def position(value: np.ndarray, shape: tuple, path: str, key: str) -> Result:
  """A [H, W, D] table onto [H', W', D] or [T, H', W', D]: bilinear over
  space when the grids differ, tiled (repeated) over time."""
  allowed = ("a [H', W', D] or [T, H', W', D] table of the source's width D "
             "(bilinear over space, tiled over time)")
  if value.ndim != 3 or len(shape) not in (3, 4) or value.shape[-1] != shape[-1]:
    raise shape_error(path, key, value.shape, shape, allowed)
  grid, source_grid = tuple(shape[-3:-1]), value.shape[:2]
  details, status = [], "loaded"
  if grid != value.shape[:2]:
    value = np.asarray(embed.resize_position_embedding(
        jnp.asarray(value)[None], (1,) + grid, "linear"))[0]
    details.append(f"bilinear {source_grid[0]}×{source_grid[1]}→"
                   f"{grid[0]}×{grid[1]}")
    status = "interpolated"
  if len(shape) == 4:
    value = np.broadcast_to(value, shape).copy()
    if shape[0] > 1:
      details.append(f"tiled over T={shape[0]}")
      status = "inflated" if status == "loaded" else status
  return value, status, "; ".join(details)

