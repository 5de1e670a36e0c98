"""One video in, model-ready clips out: a training clip or all test views.

`ClipMaker` holds a split's `VideoIndex` and the `VideoSpec`; its two methods
are what data workers run. Randomness comes only from the `rng` passed in,
so a clip depends on (sample, rng seed) and nothing else.

Frames stay uint8 until `to_inputs`, so worker processes ship 4x less data;
flow arrives as float px and is fed to models divided by `FLOW_SCALE` (the
TSN quantisation bound), i.e. in about [-1, 1].
"""

from typing import Optional, Sequence

import cv2
import numpy as np

from vst.data import colour
from vst.data import decode
from vst.data import flow_store
from vst.data import sampling as sampling_lib
from vst.data import spatial
from vst.data import video_spec
from vst.data.video_spec import VideoSpec

FLOW_SCALE = flow_store.DEFAULT_BOUND


class ShortVideoError(decode.DecodeError):
  """A video shorter than one clip, with dataset.short_video=skip."""


class FileFrames:
  """Frames of video files or frame folders, by sample number."""

  def __init__(self, paths: Sequence[str]):
    self.paths = list(paths)

  def info(self, sample: int) -> tuple[int, float]:
    info = decode.video_info(self.paths[sample])
    return info.num_frames, info.fps

  def read(self, sample: int, indices, min_resize=None) -> np.ndarray:
    return decode.read_frames(self.paths[sample], indices, min_resize)


class ClipMaker:
  """Makes clips of the videos of one split.

  `frames` reads RGB frames by sample number (`FileFrames` of `paths` by
  default; `vst.data.sources.tfds_source.TfdsFrames` for TFDS records).
  """

  def __init__(self, spec: VideoSpec, paths: Sequence[str],
               labels: np.ndarray, flow_folders: Sequence[Optional[str]] = (),
               frames=None):
    self.spec = spec
    self.paths = list(paths)
    self.labels = np.asarray(labels, np.int32)
    self.flow_folders = list(flow_folders)
    self.frames = frames if frames is not None else FileFrames(self.paths)

  def __len__(self) -> int:
    return len(self.paths)

  # --------------------------------------------------------------------------
  def _length_and_fps(self, sample: int) -> tuple[int, float]:
    """Usable frames and frame rate; with flow, the n-1 flow fields bound it."""
    spec = self.spec
    if spec.modalities == ("flow",):
      meta = flow_store.flow_meta(self._flow_folder(sample))
      n, fps = int(meta["num_frames"]), float(meta.get("fps", 0.0))
    else:
      n, fps = self.frames.info(sample)
      if "flow" in spec.modalities:
        meta = flow_store.flow_meta(self._flow_folder(sample))
        n = min(n, int(meta["num_frames"]))
    if n <= 0:
      raise decode.DecodeError(f"{self.paths[sample]} has no usable frames")
    needed = sampling_lib.frames_needed(spec.clip)
    if spec.short_video == "skip" and n < needed * (
        fps / spec.clip.target_fps if spec.clip.target_fps and fps else 1):
      raise ShortVideoError(f"{self.paths[sample]}: {n} frames, a clip needs "
                            f"{needed} (dataset.short_video=skip)")
    return n, fps

  def _flow_folder(self, sample: int) -> str:
    folder = self.flow_folders[sample] if self.flow_folders else None
    if not folder:
      raise decode.DecodeError(f"no precomputed flow for {self.paths[sample]} "
                               f"in dataset.flow_dir={self.spec.flow_dir!r}")
    return folder

  def _read(self, sample: int, indices: np.ndarray) -> dict[str, np.ndarray]:
    """{"rgb": uint8 [T, H, W, 3], "flow": float32 [T, H, W, 2]} as asked."""
    spec, out = self.spec, {}
    if "rgb" in spec.modalities:
      out["rgb"] = self.frames.read(sample, indices, spec.min_resize)
    if "flow" in spec.modalities:
      flow = flow_store.read_flow(self._flow_folder(sample), indices,
                                  spec.min_resize)
      if "rgb" in out and flow.shape[1:3] != out["rgb"].shape[1:3]:
        flow = _match_size(flow, out["rgb"].shape[1:3])
      out["flow"] = flow
    return {k: spatial.pad_to(v, spec.crop_size) for k, v in out.items()}

  # --------------------------------------------------------------------------
  def train_clip(self, sample: int, rng: np.random.Generator) -> dict:
    """{"inputs": {modality: array [T, S, S, C]}, "label": int32}."""
    spec = self.spec
    n, fps = self._length_and_fps(sample)
    indices = sampling_lib.train_indices(n, fps, spec.clip, rng)
    frames = self._read(sample, indices)
    height, width = next(iter(frames.values())).shape[1:3]
    box = spatial.sample_train_box(rng, height, width, spec.train_crop)
    flip = spec.train_crop.flip and rng.random() < 0.5
    inputs = {}
    for modality, x in frames.items():
      x = spatial.crop_resize(x, box, spec.crop_size)
      if modality == "rgb":
        if spec.colour_jitter:
          x = colour.colour_jitter(x, rng, spec.colour_jitter)
        if spec.randaugment:
          x = colour.randaugment(x, rng, spec.randaugment)
      inputs[modality] = spatial.hflip(x, modality == "flow") if flip else x
    return {"inputs": inputs, "label": self.labels[sample]}

  def test_views(self, sample: int, num_clips: int, num_crops: int,
                 with_layout: bool = False) -> list[dict]:
    """num_clips × num_crops views (clip-major) of one video, read in one
    decoding pass.

    With `with_layout`, each view also has "layout": the source frame indices
    it shows and its crop box (y, x, h, w in resized-frame pixels) and flip,
    so predictions, features and attention maps can say what they saw.
    """
    n, fps = self._length_and_fps(sample)
    indices = sampling_lib.test_indices(n, fps, self.spec.clip, num_clips)
    return self.clips_at(sample, indices, num_crops, with_layout, fps)

  def clips_at(self, sample: int, indices: np.ndarray, num_crops: int = 1,
               with_layout: bool = False,
               fps: Optional[float] = None) -> list[dict]:
    """The test crops of clips at explicit source frame indices [K, T]
    (clip-major, `num_crops` per clip), read in one decoding pass; see
    `test_views`."""
    spec = self.spec
    if fps is None:
      fps = self._length_and_fps(sample)[1]
    unique, where = np.unique(indices, return_inverse=True)
    where = where.reshape(indices.shape)
    frames = self._read(sample, unique)
    height, width = next(iter(frames.values())).shape[1:3]
    crops = spatial.test_views(height, width, spec.crop_size, num_crops)
    views = []
    for clip, clip_indices in zip(where, indices):
      for box, flip in crops:
        inputs = {}
        for modality, x in frames.items():
          x = spatial.crop_resize(x[clip], box, spec.crop_size)
          inputs[modality] = spatial.hflip(x, modality == "flow") if flip else x
        view = {"inputs": inputs, "label": self.labels[sample]}
        if with_layout:
          view["layout"] = {"frames": [int(i) for i in clip_indices],
                            "box": [box.y, box.x, box.h, box.w],
                            "flip": bool(flip), "fps": float(fps)}
        views.append(view)
    return views

  def length_and_fps(self, sample: int) -> tuple[int, float]:
    """(usable frames, frame rate) of a video, as clips are sampled from it."""
    return self._length_and_fps(sample)


def _match_size(flow: np.ndarray, size: tuple[int, int]) -> np.ndarray:
  h, w = flow.shape[1:3]
  scale = np.float32([size[1] / w, size[0] / h])
  return np.stack([cv2.resize(f, (size[1], size[0])) for f in flow]) * scale


def to_inputs(modalities: dict, spec: VideoSpec):
  """Model input of one example: float32 array, or a dict for two streams."""
  out = {}
  for modality, x in modalities.items():
    if modality == "rgb":
      out[modality] = colour.normalize(x, spec.normalization)
    else:
      out[modality] = x.astype(np.float32) / np.float32(FLOW_SCALE)
  return out if len(out) > 1 else next(iter(out.values()))


def zero_inputs(spec: VideoSpec):
  """Model input of a padding row."""
  shape = video_spec.input_spec(spec)
  if isinstance(shape, dict):
    return {k: np.zeros(s, np.float32) for k, s in shape.items()}
  return np.zeros(shape, np.float32)
