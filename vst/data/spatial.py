"""Where a clip is cropped, and the cropping itself: train crops and test views.

A crop is a `Box` in the frame's pixel coordinates, drawn once per clip and
applied to every frame and every modality of it (RGB and flow stay aligned),
then resized to `crop_size`². Frames come in with their short side already at
`dataset.min_resize` (done while decoding).

Train crops (`dataset.train_crop`):
  random              a crop_size² window at a random place (C3D, I3D).
  scale_jitter        the short side rescaled to a random size in
                      `scale_jitter` = (lo, hi) px, then a random crop_size²
                      window (ResNet/SlowFast/ViViT "multiscale" training).
  random_resized      Inception crop: area fraction in `crop_area` and aspect
                      ratio in [3/4, 4/3] (log-uniform), resized to crop_size².
  multiscale_corner   TSN: width and height each one of `corner_scales` × the
                      short side (at most one scale step apart), placed at one
                      of 13 fixed positions (corners, centre, edge midpoints,
                      quarter points), resized to crop_size².
  center              the central crop_size² window (no randomness).

Test views (`eval.num_crops`): 1 centre; 3 along the long side (left/top,
centre, right/bottom); 5 corners + centre; 10 the five and their mirror
images (TSN's 10-crop).

Horizontal flip mirrors frames; for optical flow it also negates the x
component, because motion to the right becomes motion to the left.
"""

import dataclasses
import math
from typing import Sequence

import cv2
import numpy as np

from vst.errors import ConfigError

TRAIN_CROPS = ("random", "scale_jitter", "random_resized",
               "multiscale_corner", "center")
TEST_CROPS = (1, 3, 5, 10)
TSN_SCALES = (1.0, 0.875, 0.75, 0.66)


@dataclasses.dataclass(frozen=True)
class Box:
  y: int
  x: int
  h: int
  w: int


@dataclasses.dataclass(frozen=True)
class TrainCrop:
  kind: str
  crop_size: int
  scale_jitter: tuple[int, int]       # short-side px, scale_jitter
  crop_area: tuple[float, float]      # area fraction, random_resized
  corner_scales: tuple[float, ...]    # multiscale_corner
  flip: bool


def make_train_crop(config) -> TrainCrop:
  """`TrainCrop` of `config.dataset`; ConfigError names a bad field."""
  kind = config.get("train_crop") or "random"
  if kind not in TRAIN_CROPS:
    raise ConfigError(f"dataset.train_crop={kind!r} is not valid; allowed: "
                      f"{', '.join(TRAIN_CROPS)}")
  crop = int(config.crop_size)
  jitter = tuple(config.get("scale_jitter") or (crop, int(crop * 1.25 + 0.5)))
  if len(jitter) != 2 or not crop <= jitter[0] <= jitter[1]:
    raise ConfigError(f"dataset.scale_jitter={jitter!r} is not valid; "
                      f"allowed: (lo, hi) px with crop_size={crop} <= lo <= hi")
  area = tuple(config.get("crop_area") or (0.08, 1.0))
  if len(area) != 2 or not 0 < area[0] <= area[1] <= 1:
    raise ConfigError(f"dataset.crop_area={area!r} is not valid; allowed: "
                      "(lo, hi) with 0 < lo <= hi <= 1")
  scales = tuple(config.get("corner_scales") or TSN_SCALES)
  if not scales or not all(0 < s <= 1 for s in scales):
    raise ConfigError(f"dataset.corner_scales={scales!r} is not valid; "
                      "allowed: fractions in (0, 1]")
  flip = config.get("flip")
  return TrainCrop(kind, crop, (int(jitter[0]), int(jitter[1])),
                   (float(area[0]), float(area[1])), scales,
                   True if flip is None else bool(flip))


def check_num_crops(num_crops) -> None:
  if num_crops not in TEST_CROPS:
    raise ConfigError(f"eval.num_crops={num_crops!r} is not valid; allowed: "
                      f"{', '.join(map(str, TEST_CROPS))}")


def _window(rng, height, width, h, w) -> Box:
  h, w = min(h, height), min(w, width)
  return Box(int(rng.integers(0, height - h + 1)),
             int(rng.integers(0, width - w + 1)), h, w)


def _tsn_offsets(height, width, h, w) -> list[tuple[int, int]]:
  """TSN's 13 fixed (y, x) positions of an h×w crop (`fill_fix_offset`)."""
  sy, sx = (height - h) / 4, (width - w) / 4
  grid = [(0, 0), (0, 4), (4, 0), (4, 4), (2, 2), (2, 0), (2, 4), (0, 2),
          (4, 2), (1, 1), (1, 3), (3, 1), (3, 3)]
  return [(int(i * sy), int(j * sx)) for i, j in grid]


def sample_train_box(rng: np.random.Generator, height: int, width: int,
                     crop: TrainCrop) -> Box:
  """A training crop of a height×width frame."""
  size = crop.crop_size
  if crop.kind == "center":
    return center_box(height, width, size)
  if crop.kind == "random":
    return _window(rng, height, width, size, size)
  if crop.kind == "scale_jitter":
    short = rng.integers(crop.scale_jitter[0], crop.scale_jitter[1] + 1)
    # A crop_size window at short side `short` is this many source pixels.
    side = int(round(size * min(height, width) / short))
    return _window(rng, height, width, side, side)
  if crop.kind == "random_resized":
    area = height * width
    for _ in range(10):
      target = area * rng.uniform(*crop.crop_area)
      ratio = math.exp(rng.uniform(math.log(3 / 4), math.log(4 / 3)))
      w = int(round(math.sqrt(target * ratio)))
      h = int(round(math.sqrt(target / ratio)))
      if 0 < w <= width and 0 < h <= height:
        return _window(rng, height, width, h, w)
    return center_box(height, width, min(height, width))
  # multiscale_corner
  base = min(height, width)
  sizes = [int(base * s) for s in crop.corner_scales]
  pairs = [(h, w) for i, h in enumerate(sizes) for j, w in enumerate(sizes)
           if abs(i - j) <= 1]
  h, w = pairs[rng.integers(len(pairs))]
  y, x = _tsn_offsets(height, width, h, w)[rng.integers(13)]
  return Box(y, x, h, w)


def center_box(height: int, width: int, size: int) -> Box:
  h, w = min(size, height), min(size, width)
  return Box((height - h) // 2, (width - w) // 2, h, w)


def test_views(height: int, width: int, size: int,
               num_crops: int) -> list[tuple[Box, bool]]:
  """(box, flip) of each spatial test view."""
  h, w = min(size, height), min(size, width)
  if num_crops == 1:
    return [(center_box(height, width, size), False)]
  if num_crops == 3:
    if width >= height:
      xs = (0, (width - w) // 2, width - w)
      return [(Box((height - h) // 2, x, h, w), False) for x in xs]
    ys = (0, (height - h) // 2, height - h)
    return [(Box(y, (width - w) // 2, h, w), False) for y in ys]
  five = [Box(0, 0, h, w), Box(0, width - w, h, w), Box(height - h, 0, h, w),
          Box(height - h, width - w, h, w), center_box(height, width, size)]
  views = [(b, False) for b in five]
  if num_crops == 10:
    views += [(b, True) for b in five]
  return views


def crop_resize(frames: np.ndarray, box: Box, size: int) -> np.ndarray:
  """[T, size, size, C] from [T, H, W, C] frames (uint8 or float32)."""
  out = frames[:, box.y:box.y + box.h, box.x:box.x + box.w]
  if out.shape[1:3] == (size, size):
    return np.ascontiguousarray(out)
  interp = cv2.INTER_AREA if box.h > size else cv2.INTER_LINEAR
  return np.stack([_resize(f, size, interp) for f in out])


def _resize(frame: np.ndarray, size: int, interp: int) -> np.ndarray:
  out = cv2.resize(frame, (size, size), interpolation=interp)
  return out if out.ndim == frame.ndim else out[..., None]


def hflip(frames: np.ndarray, is_flow: bool = False) -> np.ndarray:
  """Mirror left-right; optical flow [T, H, W, 2] also gets its x negated."""
  out = frames[:, :, ::-1]
  if is_flow:
    out = out.copy()
    out[..., 0] = -out[..., 0]
  return np.ascontiguousarray(out)


def pad_to(frames: np.ndarray, min_size: int) -> np.ndarray:
  """Pads H and W up to `min_size` by edge replication (tiny videos)."""
  h, w = frames.shape[1:3]
  if h >= min_size and w >= min_size:
    return frames
  ph, pw = max(min_size - h, 0), max(min_size - w, 0)
  return np.pad(frames, ((0, 0), (ph // 2, ph - ph // 2),
                         (pw // 2, pw - pw // 2), (0, 0)), mode="edge")


def apply_views(frames: np.ndarray, views: Sequence[tuple[Box, bool]],
                size: int, is_flow: bool = False) -> list[np.ndarray]:
  out = []
  for box, flip in views:
    view = crop_resize(frames, box, size)
    out.append(hflip(view, is_flow) if flip else view)
  return out
