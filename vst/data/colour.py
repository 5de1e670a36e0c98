"""Photometric augmentation of RGB clips: colour jitter and RandAugment.

Both draw their parameters once per clip and apply them to every frame, so a
clip stays temporally coherent (a flickering clip would teach the model that
brightness changes are motion). Inputs and outputs are uint8 [T, H, W, 3].
Optical flow is never passed through here.

RandAugment (Cubuk et al. 2020, as in timm's `rand-m9-n2` used by
MViT/Swin/UniFormer): `num_ops` operations drawn uniformly from `RANDAUG_OPS`,
each at magnitude `magnitude` of 10 (with a random sign where it has one),
each applied with probability 0.5 like timm's default.
"""

import dataclasses

import cv2
import numpy as np

from vst.errors import ConfigError


@dataclasses.dataclass(frozen=True)
class ColourJitter:
  brightness: float = 0.4
  contrast: float = 0.4
  saturation: float = 0.4
  hue: float = 0.1
  prob: float = 0.8


def make_colour_jitter(config):
  """`ColourJitter` from `dataset.colour_jitter` (0: off; s: strength s for
  brightness/contrast/saturation and s/4 for hue), or None."""
  strength = config.get("colour_jitter") or 0.0
  if not isinstance(strength, (int, float)) or not 0 <= strength <= 1:
    raise ConfigError(f"dataset.colour_jitter={strength!r} is not valid; "
                      "allowed: a strength in [0, 1] (0: off)")
  if not strength:
    return None
  return ColourJitter(strength, strength, strength, strength / 4)


def _grey(frames: np.ndarray) -> np.ndarray:
  return frames @ np.array([0.299, 0.587, 0.114], np.float32)


def colour_jitter(frames: np.ndarray, rng: np.random.Generator,
                  jitter: ColourJitter) -> np.ndarray:
  """Brightness, contrast, saturation and hue, in a random order."""
  if rng.random() >= jitter.prob:
    return frames
  x = frames.astype(np.float32)
  for op in rng.permutation(4):
    if op == 0 and jitter.brightness:
      x *= rng.uniform(1 - jitter.brightness, 1 + jitter.brightness)
    elif op == 1 and jitter.contrast:
      mean = _grey(x).mean()
      x = (x - mean) * rng.uniform(1 - jitter.contrast,
                                   1 + jitter.contrast) + mean
    elif op == 2 and jitter.saturation:
      grey = _grey(x)[..., None]
      x = (x - grey) * rng.uniform(1 - jitter.saturation,
                                   1 + jitter.saturation) + grey
    elif op == 3 and jitter.hue:
      x = _rotate_hue(np.clip(x, 0, 255), rng.uniform(-jitter.hue, jitter.hue))
  return np.clip(x, 0, 255).astype(np.uint8)


def _rotate_hue(x: np.ndarray, turns: float) -> np.ndarray:
  """Hue rotated by `turns` of the colour wheel (float32 in [0, 255])."""
  t = x.shape[0]
  flat = x.reshape(-1, x.shape[-2], 3) / 255.0
  hsv = cv2.cvtColor(flat.astype(np.float32), cv2.COLOR_RGB2HSV)
  hsv[..., 0] = (hsv[..., 0] + 360.0 * turns) % 360.0
  rgb = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB) * 255.0
  return rgb.reshape((t,) + x.shape[1:])


# ============================================================================
# RandAugment.
# ============================================================================

def _lut(frames, table):
  return table[frames]


def _blend(frames, other, factor):
  out = other.astype(np.float32) + factor * (frames.astype(np.float32) - other)
  return np.clip(out, 0, 255).astype(np.uint8)


def _affine(frames, matrix):
  h, w = frames.shape[1:3]
  return np.stack([cv2.warpAffine(f, matrix, (w, h), flags=cv2.INTER_LINEAR,
                                  borderValue=(128, 128, 128))
                   for f in frames])


def _identity(frames, level):
  del level
  return frames


def _autocontrast(frames, level):
  del level
  lo = frames.min(axis=(0, 1, 2)).astype(np.float32)
  hi = frames.max(axis=(0, 1, 2)).astype(np.float32)
  scale = 255.0 / np.maximum(hi - lo, 1)
  return np.clip((frames - lo) * scale, 0, 255).astype(np.uint8)


def _equalize(frames, level):
  del level
  out = np.empty_like(frames)
  for c in range(3):
    hist = np.bincount(frames[..., c].ravel(), minlength=256)
    cdf = np.cumsum(hist).astype(np.float64)
    cdf = (cdf - cdf.min()) / max(cdf[-1] - cdf.min(), 1) * 255
    out[..., c] = _lut(frames[..., c], cdf.astype(np.uint8))
  return out


def _rotate(frames, level):
  h, w = frames.shape[1:3]
  matrix = cv2.getRotationMatrix2D((w / 2, h / 2), 30.0 * level, 1.0)
  return _affine(frames, matrix)


def _solarize(frames, level):
  threshold = 256 - int(256 * abs(level))
  return np.where(frames >= threshold, 255 - frames, frames)


def _posterize(frames, level):
  bits = 8 - int(4 * abs(level))
  mask = np.uint8((0xFF << (8 - bits)) & 0xFF)
  return frames & mask


def _colour(frames, level):
  grey = np.repeat(_grey(frames.astype(np.float32))[..., None], 3, -1)
  return _blend(frames, grey, 1.0 + 0.9 * level)


def _contrast(frames, level):
  mean = _grey(frames.astype(np.float32)).mean()
  return _blend(frames, np.full_like(frames, mean, np.float32), 1.0 + 0.9 * level)


def _brightness(frames, level):
  return _blend(frames, np.zeros_like(frames), 1.0 + 0.9 * level)


def _sharpness(frames, level):
  kernel = np.array([[1, 1, 1], [1, 5, 1], [1, 1, 1]], np.float32) / 13
  smooth = np.stack([cv2.filter2D(f, -1, kernel) for f in frames])
  return _blend(frames, smooth, 1.0 + 0.9 * level)


def _shear_x(frames, level):
  return _affine(frames, np.float32([[1, 0.3 * level, 0], [0, 1, 0]]))


def _shear_y(frames, level):
  return _affine(frames, np.float32([[1, 0, 0], [0.3 * level, 1, 0]]))


def _translate_x(frames, level):
  dx = 0.45 * level * frames.shape[2]
  return _affine(frames, np.float32([[1, 0, dx], [0, 1, 0]]))


def _translate_y(frames, level):
  dy = 0.45 * level * frames.shape[1]
  return _affine(frames, np.float32([[1, 0, 0], [0, 1, dy]]))


RANDAUG_OPS = {
    "identity": _identity, "autocontrast": _autocontrast,
    "equalize": _equalize, "rotate": _rotate, "solarize": _solarize,
    "colour": _colour, "posterize": _posterize, "contrast": _contrast,
    "brightness": _brightness, "sharpness": _sharpness,
    "shear_x": _shear_x, "shear_y": _shear_y,
    "translate_x": _translate_x, "translate_y": _translate_y,
}
_SIGNED = {"rotate", "colour", "contrast", "brightness", "sharpness",
           "shear_x", "shear_y", "translate_x", "translate_y"}


@dataclasses.dataclass(frozen=True)
class RandAugment:
  num_ops: int = 2
  magnitude: float = 9.0
  prob: float = 0.5


def make_randaugment(config):
  """`RandAugment` from `dataset.randaugment` = (num_ops, magnitude), or None."""
  value = config.get("randaugment") or ()
  if not value:
    return None
  if (len(value) != 2 or not isinstance(value[0], int) or value[0] < 1
      or not 0 <= value[1] <= 10):
    raise ConfigError(f"dataset.randaugment={value!r} is not valid; allowed: "
                      "(num_ops >= 1, magnitude in [0, 10]), or () for off")
  return RandAugment(int(value[0]), float(value[1]))


def randaugment(frames: np.ndarray, rng: np.random.Generator,
                policy: RandAugment) -> np.ndarray:
  names = list(RANDAUG_OPS)
  for _ in range(policy.num_ops):
    name = names[rng.integers(len(names))]
    if rng.random() >= policy.prob:
      continue
    level = policy.magnitude / 10.0
    if name in _SIGNED and rng.random() < 0.5:
      level = -level
    frames = RANDAUG_OPS[name](frames, level)
  return frames


def normalize(frames: np.ndarray, mode: str) -> np.ndarray:
  """float32 model input from uint8 RGB: `minus_one_to_one` (Scenic/ViViT,
  the synthetic dataset's range) or `imagenet` mean/std."""
  x = frames.astype(np.float32)
  if mode == "imagenet":
    mean = np.float32([0.485, 0.456, 0.406]) * 255
    std = np.float32([0.229, 0.224, 0.225]) * 255
    return (x - mean) / std
  return x * np.float32(2 / 255) - 1.0


NORMALIZATIONS = ("minus_one_to_one", "imagenet")
