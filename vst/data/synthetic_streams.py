"""`synthetic_motion_streams`: synthetic_motion videos as TSN-style modalities.

Each example renders one `synthetic_motion` video of `num_frames` frames (the
same video, label and noise as sample i of synthetic_motion), splits it into
`num_segments` (K) equal segments and takes one snippet per segment (TSN):
at a random offset in training, at the segment's centre in evaluation. From
each snippet of L+1 frames (L = `new_length`) it builds the modalities that
`modalities` asks for, and yields "inputs" as a dict:

  "rgb"          float32 [K, S, S, 3]      the snippet's first frame
  "flow"         float32 [K·L, S, S, 2]    L consecutive optical flows (x, y)
  "warped_flow"  float32 [K·L, S, S, 2]    the same with camera motion removed
  "rgb_diff"     float32 [K·L, S, S, 3]    L consecutive frame differences

Flow comes from `vst.data.optical_flow` (OpenCV, `flow_method`), the routine
that precomputes flow for real videos, on the frames quantised to uint8 as a
decoded video would be; it is divided by `flow_bound` pixels and clipped to
[-1, 1], as TSN stores flow clipped at ±20 px in 8 bits. Only the pairs a
snippet needs are computed (≈2 ms each at 32×32 with DIS), on the train
iterator's prefetch thread.

`synthetic_motion_appearance_streams` does the same over
`synthetic_motion_appearance` (label = motion · appearances + hue).

`config.dataset` fields beyond synthetic_motion's (defaults in `DEFAULTS`):
modalities ("rgb", "flow"), num_segments (3), new_length (5), flow_method
("dis": fast enough to run on the fly), flow_bound (20.0).
"""

import dataclasses
import numbers
from typing import Any, Iterator

import numpy as np

from vst.data import optical_flow
from vst.data import registry
from vst.data import synthetic_motion as motion
from vst.errors import ConfigError

NAME = "synthetic_motion_streams"
APPEARANCE_NAME = "synthetic_motion_appearance_streams"

MODALITIES = ("rgb", "flow", "warped_flow", "rgb_diff")
CHANNELS = {"rgb": 3, "flow": 2, "warped_flow": 2, "rgb_diff": 3}

DEFAULTS = {
    "modalities": ("rgb", "flow"),
    "num_segments": 3,
    "new_length": 5,
    "flow_method": "dis",
    "flow_bound": 20.0,
}

# RNG stream of the snippet offsets, apart from synthetic_motion's streams.
_OFFSET_STREAM = 3


@dataclasses.dataclass(frozen=True)
class StreamSpec:
  video: motion.Spec
  modalities: tuple[str, ...]
  num_segments: int
  new_length: int
  flow_method: str
  flow_bound: float

  @property
  def snippet_frames(self) -> int:
    """Frames one snippet spans: L+1 for motion modalities, else 1."""
    return self.new_length + 1 if set(self.modalities) - {"rgb"} else 1

  def shapes(self) -> dict[str, tuple[int, int, int, int]]:
    size = self.video.size
    return {m: ((self.num_segments if m == "rgb" else
                 self.num_segments * self.new_length), size, size,
                CHANNELS[m]) for m in self.modalities}


def _field(config, name):
  value = config.get(name)
  return DEFAULTS[name] if value is None else value


def make_stream_spec(config, appearance: bool = False) -> StreamSpec:
  """Validated `StreamSpec` of `config.dataset`; ConfigError names the field."""
  name = APPEARANCE_NAME if appearance else NAME
  video = motion.make_spec(config, appearance)
  video = dataclasses.replace(video, name=name)
  modalities = _field(config, "modalities")
  if isinstance(modalities, str):
    modalities = (modalities,)
  modalities = tuple(modalities)
  if not modalities or len(set(modalities)) != len(modalities) or any(
      m not in MODALITIES for m in modalities):
    raise ConfigError(f"dataset.modalities={modalities!r} is not valid for "
                      f"{name}; allowed: distinct names from "
                      f"{', '.join(MODALITIES)}")
  num_segments = motion.integer_field(name, "num_segments",
                                      _field(config, "num_segments"), 1)
  new_length = motion.integer_field(name, "new_length",
                                    _field(config, "new_length"), 1)
  method = _field(config, "flow_method")
  if set(modalities) & {"flow", "warped_flow"}:
    try:
      optical_flow.resolve_method(method)
    except ValueError as e:
      raise ConfigError(f"dataset.flow_method={method!r} is not valid for "
                        f"{name}; allowed: "
                        f"{', '.join(['auto'] + optical_flow.available_methods())}"
                        ) from e
  bound = _field(config, "flow_bound")
  if not isinstance(bound, numbers.Real) or isinstance(bound, bool) or (
      bound <= 0):
    raise ConfigError(f"dataset.flow_bound={bound!r} is not valid for {name}; "
                      "allowed: a positive number of pixels")
  spec = StreamSpec(video, modalities, num_segments, new_length, method,
                    float(bound))
  if video.num_frames < num_segments * spec.snippet_frames:
    raise ConfigError(
        f"dataset.num_frames={video.num_frames} is not valid for {name}: "
        f"{num_segments} segments of {spec.snippet_frames}-frame snippets "
        f"(dataset.num_segments, dataset.new_length + 1) need at least "
        f"{num_segments * spec.snippet_frames}")
  return spec


def snippet_starts(spec: StreamSpec, rng=None) -> np.ndarray:
  """[K] first frames of the snippets: random in each segment if `rng` is
  given (training), else centred (evaluation), as TSN samples them."""
  frames, k, span = spec.video.num_frames, spec.num_segments, spec.snippet_frames
  edges = (np.arange(k + 1) * frames) // k
  room = edges[1:] - edges[:-1] - span  # >= 0, by make_stream_spec.
  if rng is None:
    offsets = room // 2
  else:
    offsets = rng.integers(0, room + 1)
  return edges[:-1] + offsets


def _to_uint8(frames: np.ndarray) -> np.ndarray:
  """synthetic_motion's [-1, 1] float frames as decoded-video uint8."""
  return np.clip(np.rint((frames + 1.0) * 127.5), 0, 255).astype(np.uint8)


def modalities_of(spec: StreamSpec, video: np.ndarray, starts,
                  flow_fn=None) -> dict[str, np.ndarray]:
  """The modality dict of one video [T, S, S, 3] at snippet `starts`."""
  out = {}
  length = spec.new_length
  if "rgb" in spec.modalities:
    out["rgb"] = video[starts].astype(np.float32)
  if "rgb_diff" in spec.modalities:
    snippets = np.stack([video[s:s + length + 1] for s in starts])
    out["rgb_diff"] = np.diff(snippets, axis=1).reshape(
        (-1,) + video.shape[1:]).astype(np.float32)
  for name, warp in (("flow", False), ("warped_flow", True)):
    if name not in spec.modalities:
      continue
    flow_fn = flow_fn or optical_flow.make_flow_fn(spec.flow_method)
    greys = {}
    fields = []
    for s in starts:
      for t in range(s, s + length):
        for f in (t, t + 1):
          if f not in greys:
            greys[f] = optical_flow.grey(_to_uint8(video[f]))
        field = (optical_flow.warped_flow(flow_fn, greys[t], greys[t + 1])
                 if warp else flow_fn(greys[t], greys[t + 1]))
        fields.append(field)
    out[name] = np.clip(np.stack(fields).astype(np.float32) / spec.flow_bound,
                        -1.0, 1.0)
  return out


def make_examples(spec: StreamSpec, split_id: int, indices,
                  train: bool) -> registry.Batch:
  """{"inputs": {modality: [B, ...]}, "label": int32 [B]} of `indices`."""
  videos = motion.make_examples(spec.video, split_id, indices)
  flow_fn = (optical_flow.make_flow_fn(spec.flow_method)
             if set(spec.modalities) & {"flow", "warped_flow"} else None)
  rows = []
  for i, video in zip(indices, videos["inputs"]):
    rng = (np.random.default_rng([spec.video.seed, _OFFSET_STREAM, split_id,
                                  int(i)]) if train else None)
    rows.append(modalities_of(spec, video, snippet_starts(spec, rng), flow_fn))
  inputs = {m: np.stack([r[m] for r in rows]) for m in spec.modalities}
  return {"inputs": inputs, "label": videos["label"]}


class StreamsTrainIterator(motion.SyntheticTrainIterator):
  """synthetic_motion's train stream (same positions, resume and prefetch),
  each batch turned into modalities."""

  def __init__(self, spec: StreamSpec, batch_size: int, seed: int = 0,
               shard_index: int = 0, shard_count: int = 1):
    super().__init__(spec.video, batch_size, seed, shard_index, shard_count)
    self._stream_spec = spec

  def batch_at(self, position: int) -> registry.Batch:
    return make_examples(self._stream_spec, motion.SPLITS["train"],
                         self.sample_indices(position), train=True)


def _padded(spec: StreamSpec, split_id: int, indices,
            batch_size: int) -> registry.Batch:
  """`batch_size` rows: samples `indices`, then zeros marked by mask 0."""
  n = len(indices)
  if n:
    batch = make_examples(spec, split_id, indices, train=False)
  else:
    batch = {"inputs": {m: np.zeros((0,) + s, np.float32)
                        for m, s in spec.shapes().items()},
             "label": np.zeros((0,), np.int32)}
  pad = lambda x: np.concatenate(
      [x, np.zeros((batch_size - n,) + x.shape[1:], x.dtype)])
  return {"inputs": {m: pad(x) for m, x in batch["inputs"].items()},
          "label": pad(batch["label"]),
          "mask": (np.arange(batch_size) < n).astype(np.float32)}


def _builder(appearance: bool) -> registry.DatasetBuilder:
  def train(config, batch_size: int, seed: int = 0, shard_index: int = 0,
            shard_count: int = 1) -> StreamsTrainIterator:
    return StreamsTrainIterator(make_stream_spec(config, appearance),
                                batch_size, seed, shard_index, shard_count)

  def eval_batches(config, split: str, batch_size: int, shard_index: int = 0,
                   shard_count: int = 1,
                   views=(1, 1)) -> Iterator[registry.Batch]:
    # One procedural video is one view (as in synthetic_motion).
    del views
    spec = make_stream_spec(config, appearance)
    split_id, size = motion._split(spec.video, split)  # pylint: disable=protected-access
    step = batch_size * shard_count
    for start in range(0, size, step):
      first = start + shard_index * batch_size
      indices = range(first, min(first + batch_size, size))
      yield _padded(spec, split_id, indices, batch_size)

  def num_examples(config, split: str) -> int:
    spec = make_stream_spec(config, appearance)
    if split == "train":
      return spec.video.train_size
    return motion._split(spec.video, split)[1]  # pylint: disable=protected-access

  def validate(config) -> None:
    make_stream_spec(config, appearance)

  def input_spec(config) -> dict[str, Any]:
    return make_stream_spec(config, appearance).shapes()

  return registry.DatasetBuilder(
      train=train, eval=eval_batches, num_examples=num_examples,
      validate=validate, input_spec=input_spec,
      class_names=lambda config: motion.class_names(
          make_stream_spec(config, appearance).video))


registry.register(NAME, _builder(appearance=False))
registry.register(APPEARANCE_NAME, _builder(appearance=True))
