"""`synthetic_motion`: procedural clips whose classes differ only in motion.

Each clip shows `num_objects` textured objects (discs or squares with stripes,
smooth colour noise and a shading ramp) over a static textured background,
plus fresh Gaussian pixel noise in every frame. All objects of a clip share
one motion, and the motion is the class:

  0 right, 1 left, 2 down, 3 up          translation by `speed` px per frame
  4 clockwise, 5 counterclockwise        rotation about the object centre
  6 expand, 7 contract                   scaling about the object centre

`num_classes` < 8 keeps the first `num_classes` motions.

Any single frame has the same distribution whatever the class, so a model
that sees frames one at a time is at chance and only temporal reasoning
helps. That holds because every per-frame quantity is stationary along every
motion: object centres live on a torus (objects wrap around the frame edges),
angles are uniform on [0, 2π), and log-scales are uniform on an interval that
scaling wraps around (an expanding object jumps back to its smallest size
when it passes the largest, at most once every ~9 frames at default speed).

`synthetic_motion_appearance` adds an appearance factor that a single frame
does show: the objects' hue comes from one of `num_appearances` (default 2)
equal sectors of the colour wheel, and

  label = motion * num_appearances + appearance,

so num_classes = num_motions * num_appearances with 1 <= num_motions <= 8. A
single-frame model can recover `label % num_appearances`, a motion-only model
`label // num_appearances`; only a model using both gets the label.

Clips are made in memory, deterministically: sample `i` of a split comes from
`np.random.default_rng([dataset.seed, split_id, i])` alone, so it is the
same whatever batch, host or thread makes it, and the train (split_id 0) and
test (split_id 1) streams never share a sample.

`config.dataset` fields, all but the first four optional (`DEFAULTS`):
  num_frames, crop_size (frames are crop_size × crop_size), num_classes,
  num_objects (2), noise_std (0.05, in units of "inputs"), speed (pixels per
  frame; crop_size / 16), train_size (0: an endless stream of fresh clips),
  test_size (512), seed (0), num_appearances (2, appearance variant only).
"""

import collections
import concurrent.futures
import dataclasses
import functools
import itertools
import math
import numbers
from typing import Any, Callable, Iterator, Mapping, Optional

import numpy as np

from vst.data import registry
from vst.errors import ConfigError

NAME = "synthetic_motion"
APPEARANCE_NAME = "synthetic_motion_appearance"

MOTIONS = ("right", "left", "down", "up",
           "clockwise", "counterclockwise", "expand", "contract")
# Per motion: (x, y) velocity in units of `speed` (y points down), spin in
# units of `Spec.angular_rate`, growth in units of `Spec.scale_rate`.
_MOTION_RATES = np.array([
    (1, 0, 0, 0), (-1, 0, 0, 0), (0, 1, 0, 0), (0, -1, 0, 0),
    (0, 0, 1, 0), (0, 0, -1, 0), (0, 0, 0, 1), (0, 0, 0, -1),
], np.float64)
SPLITS = {"train": 0, "test": 1}
# RNG stream of the per-epoch shuffle of a finite train set; apart from the
# sample streams (SPLITS values) so no shuffle ever reuses a sample's RNG.
_SHUFFLE_STREAM = 2

DEFAULTS = {
    "num_objects": 2,
    "noise_std": 0.05,
    "speed": None,  # crop_size / 16
    "train_size": 0,
    "test_size": 512,
    "seed": 0,
    "num_appearances": 2,
}

MIN_CROP_SIZE = 16
MAX_OBJECTS = 8
MAX_APPEARANCES = 8

# Object half-size at scale 1, as a fraction of crop_size.
_BASE_RADIUS = 0.15
# Scales are log-uniform on [1/sqrt(2.5), sqrt(2.5)]: objects from ~0.2 to
# ~0.5 crop_size across.
_LOG_SCALE_RANGE = math.log(2.5)
# Scaling is slower than the other motions, so that the wrap-around jump of
# the log-scale is rare within a clip: at default speed a typical object's
# edge moves speed / 4 px per frame while its stripes widen by ~10%.
_SCALE_RATE_FRACTION = 0.25


# ============================================================================
# Config.
# ============================================================================

@dataclasses.dataclass(frozen=True)
class Spec:
  """What decides the clips, read from `config.dataset` by `make_spec`."""
  name: str
  num_frames: int
  size: int
  num_classes: int
  num_appearances: int  # 1 for plain synthetic_motion.
  num_objects: int
  noise_std: float
  speed: float
  train_size: int
  test_size: int
  seed: int
  # `synthetic_event_order` only (0 for the constant-motion datasets): the
  # clip is the first `num_frames` frames of a `video_frames`-frame video
  # whose motion changes at `num_events` equal phases.
  num_events: int = 0
  video_frames: int = 0

  @property
  def num_motions(self) -> int:
    return self.num_classes // self.num_appearances

  @property
  def base_radius(self) -> float:
    return _BASE_RADIUS * self.size

  @property
  def angular_rate(self) -> float:
    """Radians per frame: a point at the base radius moves `speed` px."""
    return self.speed / self.base_radius

  @property
  def scale_rate(self) -> float:
    """Log-scale units per frame."""
    return _SCALE_RATE_FRACTION * self.speed / self.base_radius


def get_field(config, name: str):
  """`config.<name>`, or its default when the config lacks the field."""
  value = config.get(name)
  if value is not None:
    return value
  if name == "speed":
    return int(config.crop_size) / 16
  return DEFAULTS[name]


def _is_number(value) -> bool:
  return isinstance(value, numbers.Real) and not isinstance(value, bool)


def integer_field(dataset: str, name: str, value, low: int,
                  high: Optional[int] = None, why: str = "") -> int:
  """`value` as an int in [low, high], else ConfigError naming the field."""
  ok = isinstance(value, numbers.Integral) and not isinstance(value, bool)
  if ok and value >= low and (high is None or value <= high):
    return int(value)
  allowed = f"{low}..{high}" if high is not None else f">= {low}"
  raise ConfigError(f"dataset.{name}={value!r} is not valid for "
                    f"{dataset}; allowed: integers {allowed}{why}")


def shared_fields(name: str, config) -> dict[str, Any]:
  """The validated `Spec` fields every synthetic_motion variant reads the
  same way (all but the classes), from `config.dataset`; ConfigError names
  a bad field and `name`, the dataset."""
  num_frames = integer_field(name, "num_frames", config.num_frames, 2,
                             why=" (motion needs at least two frames)")
  size = integer_field(name, "crop_size", config.crop_size, MIN_CROP_SIZE,
                       why=f" (objects are ~{_BASE_RADIUS:.0%} of crop_size "
                       "and need a few pixels to show rotation and scaling)")
  num_objects = integer_field(name, "num_objects",
                              get_field(config, "num_objects"), 1, MAX_OBJECTS)
  train_size = integer_field(name, "train_size",
                             get_field(config, "train_size"), 0,
                             why=" (0: an endless stream)")
  test_size = integer_field(name, "test_size", get_field(config, "test_size"),
                            1)
  seed = integer_field(name, "seed", get_field(config, "seed"), 0)
  noise_std = get_field(config, "noise_std")
  if not _is_number(noise_std) or not 0 <= noise_std <= 1:
    raise ConfigError(f"dataset.noise_std={noise_std!r} is not valid for "
                      f"{name}; allowed: a number in [0, 1]")
  speed = get_field(config, "speed")
  # Past size/8 px a translation starts to alias on the torus and a rotation
  # by more than ~45° per frame stops looking like one.
  if not _is_number(speed) or not 0 < speed <= size / 8:
    raise ConfigError(f"dataset.speed={speed!r} is not valid for {name}; "
                      f"allowed: pixels per frame in (0, crop_size/8 = "
                      f"{size / 8:g}]")
  return dict(name=name, num_frames=num_frames, size=size,
              num_objects=num_objects, noise_std=float(noise_std),
              speed=float(speed), train_size=train_size, test_size=test_size,
              seed=seed)


def make_spec(config, appearance: bool = False) -> Spec:
  """Validated `Spec` of `config.dataset`; ConfigError names a bad field."""
  name = APPEARANCE_NAME if appearance else NAME
  fields = shared_fields(name, config)
  num_classes = config.num_classes
  if appearance:
    num_appearances = integer_field(name, "num_appearances",
                                    get_field(config, "num_appearances"), 1,
                                    MAX_APPEARANCES)
    ok = (isinstance(num_classes, numbers.Integral) and num_classes > 0 and
          num_classes % num_appearances == 0 and
          num_classes // num_appearances <= len(MOTIONS))
    if not ok:
      raise ConfigError(
          f"dataset.num_classes={num_classes!r} is not valid for {name}; "
          f"allowed: num_motions * num_appearances with num_motions in "
          f"1..{len(MOTIONS)} and dataset.num_appearances={num_appearances}, "
          f"i.e. one of {num_appearances}, {2 * num_appearances}, ..., "
          f"{len(MOTIONS) * num_appearances}")
  else:
    num_appearances = 1
    integer_field(name, "num_classes", num_classes, 1, len(MOTIONS),
                  why=f" (motions {', '.join(MOTIONS)}; more classes need "
                  f"{APPEARANCE_NAME})")
  return Spec(num_classes=int(num_classes), num_appearances=num_appearances,
              **fields)


def class_names(spec: Spec) -> list[str]:
  """"right", "left", ...; with appearances "right/hue0", "right/hue1", ..."""
  if spec.num_appearances == 1:
    return list(MOTIONS[:spec.num_classes])
  return [f"{MOTIONS[label // spec.num_appearances]}/hue"
          f"{label % spec.num_appearances}" for label in range(spec.num_classes)]


# ============================================================================
# Sampling: one RNG per sample draws everything the sample shows.
# ============================================================================

def sample_rng(spec: Spec, split_id: int, index: int) -> np.random.Generator:
  return np.random.default_rng([spec.seed, split_id, int(index)])


def _hsv_to_rgb(h, s, v) -> np.ndarray:
  """[..., 3] RGB in [0, 1] from same-shaped hue, saturation, value."""
  k = (np.array([5.0, 3.0, 1.0]) + 6.0 * np.asarray(h)[..., None]) % 6.0
  ramp = np.clip(np.minimum(k, 4.0 - k), 0.0, 1.0)
  s, v = np.asarray(s)[..., None], np.asarray(v)[..., None]
  return v - v * s * ramp


# Standard normal draws that `_normal` indexes with uniform 16-bit integers:
# three times faster than the ziggurat, and a pool of 2^16 Gaussian values is
# as good as fresh draws for pixel noise.
_NORMAL_POOL = np.random.default_rng(0).standard_normal(
    1 << 16).astype(np.float32)


def _normal(rng, shape) -> np.ndarray:
  """float32 array of `shape`, (pooled) standard normal draws."""
  return _NORMAL_POOL[rng.integers(0, 1 << 16, shape, dtype=np.uint16)]


def _unit_vectors(rng, n: int) -> np.ndarray:
  """[n, 2] directions uniform on the circle."""
  angle = rng.uniform(0.0, 2 * np.pi, n)
  return np.stack([np.cos(angle), np.sin(angle)], axis=-1)


def draw_sample(spec: Spec, rng: np.random.Generator) -> dict[str, np.ndarray]:
  """Label, background and object parameters of one clip.

  Every draw but the label has the same distribution for every motion, which
  is what keeps single frames class-independent; the appearance (hue sector)
  is the only thing the label changes in a frame.

  Returns:
    A dict of arrays; N = num_objects, T = num_frames, S = crop_size:
      label []; bg_colour [3]; bg_waves [3, 3]: (integer fx, fy, phase) of
      three waves on the torus; bg_amplitudes [3, 3]: their RGB amplitudes;
      bg_texture [S, S, 3]; noise [T, S, S, 3] standard normal;
      centre [N, 2] (x, y) px; angle [N]; log_scale [N]; square [N] bool;
      colour [N, 5, 3]: RGB weights of the texture fields (see `_texture`);
      waves [N, 3, 3]: (kx, ky, phase) of the stripe and two noise waves;
      shade [N, 2]: shading ramp (gx, gy).
  """
  n, size = spec.num_objects, spec.size
  label = rng.integers(spec.num_classes)
  appearance = label % spec.num_appearances

  # Background: a pale colour, smooth colour waves that tile the torus (built
  # in `_background`), and a static fine texture.
  freqs = rng.integers(-3, 4, (3, 2))
  freqs[np.all(freqs == 0, axis=-1)] = (1, 0)
  background = {
      "bg_colour": _hsv_to_rgb(rng.random(), rng.uniform(0.0, 0.35),
                               rng.uniform(0.35, 0.65)),
      "bg_waves": np.concatenate(
          [freqs, rng.uniform(0.0, 2 * np.pi, (3, 1))], axis=-1),
      "bg_amplitudes": rng.normal(0.0, 0.06, (3, 3)),
      "bg_texture": 0.05 * _normal(rng, (size, size, 3)),
  }

  # Objects: the stripes are the object hue, light and dark; the hue sector is
  # the appearance.
  hue = (appearance + rng.random(n)) / spec.num_appearances
  light = _hsv_to_rgb(hue, rng.uniform(0.55, 0.95, n),
                      rng.uniform(0.65, 0.95, n))
  dark = light * rng.uniform(0.25, 0.55, (n, 1))
  colour = np.stack([
      (light + dark) / 2,                        # constant field
      (light - dark) / 2,                        # stripes
      rng.normal(0.0, 0.12, (n, 3)),             # colour noise wave 1
      rng.normal(0.0, 0.12, (n, 3)),             # colour noise wave 2
      np.full((n, 3), 1.0),                      # shading ramp (grey)
  ], axis=1)
  # Wave numbers in units of the object half-size: 2-3 stripe periods and
  # 1-2 noise periods across the object, so rotation and scaling show inside.
  periods = np.stack([rng.uniform(0.6, 0.9, n), rng.uniform(1.2, 2.5, n),
                      rng.uniform(1.2, 2.5, n)], axis=1)
  directions = _unit_vectors(rng, 3 * n).reshape(n, 3, 2)
  k = (2 * np.pi / periods)[..., None] * directions
  waves = np.concatenate([k, rng.uniform(0.0, 2 * np.pi, (n, 3, 1))], axis=-1)

  half_range = _LOG_SCALE_RANGE / 2
  return {
      "label": np.int32(label),
      **background,
      # Drawn for the whole video, so that a shorter clip of an event-order
      # video is its first frames and every later draw is the same.
      "noise": _normal(rng, (spec.video_frames or spec.num_frames, size, size,
                             3))[:spec.num_frames],
      "centre": rng.uniform(0.0, size, (n, 2)),
      "angle": rng.uniform(0.0, 2 * np.pi, n),
      "log_scale": rng.uniform(-half_range, half_range, n),
      "square": rng.random(n) < 0.5,
      "colour": colour,
      "waves": waves,
      "shade": 0.25 * _unit_vectors(rng, n),
  }


def motion_rates(spec: Spec, label: np.ndarray) -> np.ndarray:
  """[B, T, 4] pose change from frame t to t + 1, in `_MOTION_RATES` units.

  Constant motion `label // num_appearances` for synthetic_motion; for
  synthetic_event_order the motion of frame t's phase: phase k of K covers
  frames [k·L/K, (k+1)·L/K) of the L-frame video, and label l moves with
  motion `event_orders(K)[l][k]` in it.
  """
  label = np.asarray(label)
  t = np.arange(spec.num_frames)
  if not spec.num_events:
    motion = np.broadcast_to((label // spec.num_appearances)[:, None],
                             label.shape + t.shape)
  else:
    orders = np.array(event_orders(spec.num_events))          # [K!, K]
    phase = t * spec.num_events // spec.video_frames          # [T]
    motion = orders[label][:, phase]                          # [B, T]
  return _MOTION_RATES[motion]


@functools.cache
def event_orders(num_events: int) -> tuple[tuple[int, ...], ...]:
  """Label l of synthetic_event_order ↦ the order of motions 0..K-1 over
  its K phases: the l-th permutation in lexicographic order."""
  return tuple(itertools.permutations(range(num_events)))


def trajectories(spec: Spec, rates: np.ndarray, centre: np.ndarray,
                 angle: np.ndarray, log_scale: np.ndarray):
  """Per-frame object poses from their first-frame poses and the motion.

  Args:
    spec: the dataset.
    rates: [B, T, 4] per-frame pose change (`motion_rates`); the last frame's
      is unused.
    centre: [B, N, 2], angle: [B, N], log_scale: [B, N] at frame 0.

  Returns:
    (centre [B, N, T, 2], angle [B, N, T], log_scale [B, N, T]); centres are
    wrapped into [0, S) and log-scales into the scale interval, so each frame
    keeps the frame-0 distribution.
  """
  # Pose offset of frame t: the rates of frames 0..t-1. Integer-valued, so
  # a constant motion's offset is exactly rate·t.
  offset = np.cumsum(rates, axis=1) - rates                      # [B, T, 4]
  offset = offset[:, None]                                       # [B, 1, T, 4]
  centre = (centre[:, :, None, :] + spec.speed * offset[..., :2]) % spec.size
  angle = angle[..., None] + spec.angular_rate * offset[..., 2]
  half = _LOG_SCALE_RANGE / 2
  log_scale = (log_scale[..., None] + spec.scale_rate * offset[..., 3] +
               half) % _LOG_SCALE_RANGE - half
  return centre, angle, log_scale


# ============================================================================
# Rendering, vectorised over batch, frames and pixels.
# ============================================================================

def _background(spec: Spec, params) -> np.ndarray:
  """[B, S, S, 3] static backgrounds in ~[0, 1] from `draw_sample` fields."""
  grid = np.arange(spec.size, dtype=np.float32) * np.float32(
      2 * np.pi / spec.size)
  waves = params["bg_waves"].astype(np.float32)                  # [B, K, 3]
  fx, fy, phase = (waves[..., j, None, None] for j in range(3))
  arg = fx * grid + fy * grid[:, None] + phase                   # [B, K, S, S]
  smooth = np.einsum("bkyx,bkc->byxc", np.cos(arg),
                     params["bg_amplitudes"].astype(np.float32))
  colour = params["bg_colour"].astype(np.float32)[:, None, None]
  return colour + smooth + params["bg_texture"]


def _object_coords(spec: Spec, centre, angle, log_scale):
  """Pixel coordinates in one object's frame, on the torus.

  Args:
    spec: the dataset.
    centre: [B, T, 2]; angle, log_scale: [B, T].

  Returns:
    (u, v, radius): u, v [B, T, S, S] in units of the object half-size (the
    object is |u|, |v| <= 1 or u² + v² <= 1); radius [B, T, 1, 1] in px.
  """
  size = spec.size
  pixels = np.arange(size, dtype=np.float32) + 0.5
  # Wrapped offsets: an object near an edge continues on the opposite side.
  half = size / 2
  dx = (pixels - centre[..., 0, None] + half) % size - half   # [B, T, W]
  dy = (pixels - centre[..., 1, None] + half) % size - half   # [B, T, H]
  radius = (spec.base_radius * np.exp(log_scale))[..., None, None]
  cos = (np.cos(angle)[..., None, None] / radius).astype(np.float32)
  sin = (np.sin(angle)[..., None, None] / radius).astype(np.float32)
  dx = dx[:, :, None, :].astype(np.float32)
  dy = dy[:, :, :, None].astype(np.float32)
  # Inverse rotation: the texture turns by +angle (clockwise on screen, where
  # y points down).
  u = cos * dx + sin * dy
  v = cos * dy - sin * dx
  return u, v, radius.astype(np.float32)


def _coverage(u, v, radius, square) -> np.ndarray:
  """[B, T, S, S] alpha of the object, anti-aliased over ~1 px at the edge."""
  au, av = np.abs(u), np.abs(v)
  dist = np.where(square[:, None, None, None], np.maximum(au, av),
                  np.sqrt(au * au + av * av))
  # (1 - dist) * radius is roughly the signed distance to the edge in px.
  return np.clip((1.0 - dist) * radius + 0.5, 0.0, 1.0)


def _texture(u, v, colour, waves, shade) -> np.ndarray:
  """[B, T, S, S, 3] object colour at object coordinates (u, v).

  Five scalar fields (constant, stripes, two smooth noise waves, shading
  ramp) mixed into RGB by the per-object `colour` [B, 5, 3]; `waves`
  [B, 3, 3] holds (kx, ky, phase) of the stripe and noise waves.
  """
  def wave(i):
    kx, ky, phase = (waves[:, i, j, None, None, None].astype(np.float32)
                     for j in range(3))
    return kx * u + ky * v + phase

  gx, gy = (shade[:, j, None, None, None].astype(np.float32) for j in range(2))
  fields = np.stack([np.ones_like(u), np.sin(wave(0)), np.cos(wave(1)),
                     np.cos(wave(2)), gx * u + gy * v], axis=-1)
  b = u.shape[0]
  rgb = np.matmul(fields.reshape(b, -1, 5), colour.astype(np.float32))
  return rgb.reshape(u.shape + (3,))


def render(spec: Spec, params: Mapping[str, np.ndarray]) -> np.ndarray:
  """Clips from stacked `draw_sample` outputs.

  Args:
    spec: the dataset.
    params: `draw_sample` dicts stacked along a leading batch axis B.

  Returns:
    float32 [B, T, S, S, 3], the [0, 1] picture mapped to [-1, 1] plus noise.
  """
  centre, angle, log_scale = trajectories(
      spec, motion_rates(spec, params["label"]), params["centre"],
      params["angle"], params["log_scale"])
  background = _background(spec, params)
  frames = np.broadcast_to(background[:, None], (len(centre), spec.num_frames) +
                           background.shape[1:]).copy()
  # Painter's order: later objects cover earlier ones.
  for i in range(spec.num_objects):
    u, v, radius = _object_coords(spec, centre[:, i], angle[:, i],
                                  log_scale[:, i])
    alpha = _coverage(u, v, radius, params["square"][:, i])[..., None]
    colour = _texture(u, v, params["colour"][:, i], params["waves"][:, i],
                      params["shade"][:, i])
    frames += alpha * (colour - frames)
  np.clip(frames, 0.0, 1.0, out=frames)
  frames = frames * 2.0 - 1.0
  frames += spec.noise_std * params["noise"]
  return frames


def make_examples(spec: Spec, split_id: int, indices) -> registry.Batch:
  """{"inputs": float32 [B, T, S, S, 3], "label": int32 [B]} of `indices`."""
  samples = [draw_sample(spec, sample_rng(spec, split_id, i)) for i in indices]
  params = {k: np.stack([s[k] for s in samples]) for k in samples[0]}
  return {"inputs": render(spec, params), "label": params["label"]}


# ============================================================================
# Train stream.
# ============================================================================

@functools.lru_cache(maxsize=4)
def _epoch_permutation(seed: int, train_seed: int, size: int,
                       epoch: int) -> np.ndarray:
  rng = np.random.default_rng([seed, _SHUFFLE_STREAM, train_seed, epoch])
  return rng.permutation(size)


class SyntheticTrainIterator(registry.TrainIterator):
  """Batches of the train stream, made ahead on a background thread.

  Batch `position` of the global batch G = batch_size * shard_count holds the
  stream's samples position*G ... (position+1)*G - 1, and this host the rows
  shard_index*batch_size ... (shard_index+1)*batch_size - 1 of it. With
  train_size = 0 sample p of the stream is train sample p; otherwise the
  stream walks the finite train set epoch after epoch, each epoch in its own
  permutation drawn from (dataset.seed, train seed, epoch). A batch depends
  only on its position, never on timing, so prefetching changes nothing.
  """

  def __init__(self, spec: Spec, batch_size: int, seed: int = 0,
               shard_index: int = 0, shard_count: int = 1, prefetch: int = 2):
    if batch_size < 1 or not 0 <= shard_index < shard_count:
      raise ValueError(f"bad batch_size={batch_size} or shard "
                       f"{shard_index}/{shard_count}")
    self._spec = spec
    self._batch_size = batch_size
    # SeedSequence takes non-negative words only.
    self._train_seed = int(seed) & 0xFFFFFFFF
    self._shard_index = shard_index
    self._global_batch_size = batch_size * shard_count
    self._prefetch = prefetch
    self._executor = (concurrent.futures.ThreadPoolExecutor(
        1, thread_name_prefix=spec.name) if prefetch > 0 else None)
    self._pending = collections.deque()  # futures of positions ahead
    self._position = 0

  def sample_indices(self, position: int) -> np.ndarray:
    """[batch_size] train-split indices of this host's rows at `position`."""
    first = (position * self._global_batch_size +
             self._shard_index * self._batch_size)
    stream = np.arange(first, first + self._batch_size, dtype=np.int64)
    size = self._spec.train_size
    if size == 0:
      return stream
    epochs, offsets = np.divmod(stream, size)
    return np.array([
        _epoch_permutation(self._spec.seed, self._train_seed, size, int(e))[o]
        for e, o in zip(epochs, offsets)])

  def batch_at(self, position: int) -> registry.Batch:
    return make_examples(self._spec, SPLITS["train"],
                         self.sample_indices(position))

  def __next__(self) -> registry.Batch:
    if self._executor is None:
      batch = self.batch_at(self._position)
    else:
      # The queue always covers position ... position + prefetch.
      while len(self._pending) <= self._prefetch:
        ahead = self._position + len(self._pending)
        self._pending.append(self._executor.submit(self.batch_at, ahead))
      batch = self._pending.popleft().result()
    self._position += 1
    return batch

  def state(self) -> dict[str, Any]:
    return {"position": self._position,
            "global_batch_size": self._global_batch_size}

  def restore(self, state: Mapping[str, Any]) -> None:
    position = registry.checked_position(self._spec.name, state,
                                         self._global_batch_size)
    self._drop_pending()
    self._position = position

  def close(self) -> None:
    """Stops the prefetch thread; the iterator works on without it."""
    self._drop_pending()
    if self._executor is not None:
      self._executor.shutdown(wait=False)
      self._executor = None

  def _drop_pending(self) -> None:
    for future in self._pending:
      future.cancel()
    self._pending.clear()


# ============================================================================
# The DatasetBuilder functions.
# ============================================================================

def _split(spec: Spec, split: str) -> tuple[int, int]:
  """(split_id, number of samples) of a finite split."""
  if split == "test":
    return SPLITS["test"], spec.test_size
  if split == "train" and spec.train_size > 0:
    return SPLITS["train"], spec.train_size
  allowed = ("test, train" if spec.train_size > 0 else
             "test (train is endless while dataset.train_size=0)")
  raise ConfigError(f"eval split {split!r} is not valid for {spec.name}; "
                    f"allowed: {allowed}")


def _padded(spec: Spec, split_id: int, indices,
            batch_size: int) -> registry.Batch:
  """`batch_size` rows: samples `indices`, then zeros with mask 0."""
  if len(indices):
    examples = make_examples(spec, split_id, indices)
    rows = [{"inputs": x, "label": y}
            for x, y in zip(examples["inputs"], examples["label"])]
    return registry.pad_batch(rows, batch_size)
  # A host whose share of the last global batch is empty still yields it, so
  # every host runs the same number of eval steps.
  shape = (spec.num_frames, spec.size, spec.size, 3)
  return {"inputs": np.zeros((batch_size,) + shape, np.float32),
          "label": np.zeros((batch_size,), np.int32),
          "mask": np.zeros((batch_size,), np.float32)}


def make_builder(spec_of: Callable[[Any], Spec],
                 names_of: Optional[Callable[[Spec], list[str]]] = None
                 ) -> registry.DatasetBuilder:
  """The DatasetBuilder of a variant whose `Spec` is `spec_of(config)`;
  `names_of(spec)` gives its class names (default `class_names`)."""
  names_of = names_of or class_names

  def train(config, batch_size: int, seed: int = 0, shard_index: int = 0,
            shard_count: int = 1) -> SyntheticTrainIterator:
    return SyntheticTrainIterator(spec_of(config), batch_size, seed,
                                  shard_index, shard_count)

  def eval_batches(config, split: str, batch_size: int, shard_index: int = 0,
                   shard_count: int = 1,
                   views=(1, 1)) -> Iterator[registry.Batch]:
    # A procedural clip is its whole video: it has exactly one view, so
    # multi-view settings (eval.num_clips/num_crops) change nothing here.
    del views
    spec = spec_of(config)
    split_id, size = _split(spec, split)
    step = batch_size * shard_count
    for start in range(0, size, step):
      first = start + shard_index * batch_size
      indices = range(first, min(first + batch_size, size))
      yield _padded(spec, split_id, indices, batch_size)

  def num_examples(config, split: str) -> int:
    spec = spec_of(config)
    if split == "train":
      return spec.train_size  # 0: endless
    return _split(spec, split)[1]

  def validate(config) -> None:
    spec_of(config)

  return registry.DatasetBuilder(
      train=train, eval=eval_batches, num_examples=num_examples,
      validate=validate,
      class_names=lambda config: names_of(spec_of(config)))


registry.register(NAME, make_builder(make_spec))
registry.register(APPEARANCE_NAME, make_builder(
    functools.partial(make_spec, appearance=True)))
