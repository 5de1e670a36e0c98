"""Which frames of a video make a clip: dense clips and TSN segments.

All functions return 0-based frame indices into a video of `num_frames`
frames (at the video's own rate; `source_indices` maps indices taken at a
target rate to the source rate). They never read a file.

  dense     T frames at stride τ, one window of (T-1)·τ+1 frames. Training:
            a random window; testing: N windows spread evenly over the video
            (N = 1: the centre one).
  segments  TSN: the video cut into K equal segments, L consecutive frames
            from each (L = 1 for RGB, 5 for stacked flow). Training: a random
            start in each segment; testing: view v of N starts at (v+½)/N
            of every segment (N = 1: the centre).

A video shorter than the clip's window gives indices clamped to its last
frame (its last frame repeats); whether such a video is used at all is the
dataset's decision (`dataset.short_video`).
"""

import dataclasses

import numpy as np

from vst.errors import ConfigError

SAMPLINGS = ("dense", "segments")


@dataclasses.dataclass(frozen=True)
class ClipSampling:
  """How a clip is taken from a video (validated by `make_clip_sampling`)."""
  kind: str                # dense | segments
  num_frames: int          # T, frames in the clip
  frame_stride: int = 1    # τ, dense only
  segment_length: int = 1  # L, segments only: T = K·L
  target_fps: float = 0.0  # 0: the video's own rate

  @property
  def num_segments(self) -> int:
    return self.num_frames // self.segment_length

  def span(self) -> int:
    """Frames of the video (at the target rate) one dense clip covers."""
    return (self.num_frames - 1) * self.frame_stride + 1


def make_clip_sampling(config) -> ClipSampling:
  """`ClipSampling` of `config.dataset`; ConfigError names a bad field."""
  kind = config.get("sampling") or "dense"
  if kind not in SAMPLINGS:
    raise ConfigError(f"dataset.sampling={kind!r} is not valid; allowed: "
                      f"{', '.join(SAMPLINGS)}")
  num_frames = int(config.num_frames)
  stride = config.get("frame_stride") or 1
  length = config.get("segment_length") or 1
  fps = config.get("target_fps") or 0.0
  if not isinstance(stride, int) or stride < 1:
    raise ConfigError(f"dataset.frame_stride={stride!r} is not valid; "
                      "allowed: integers >= 1")
  if not isinstance(length, int) or length < 1 or num_frames % length:
    raise ConfigError(f"dataset.segment_length={length!r} is not valid; "
                      f"allowed: a divisor of dataset.num_frames={num_frames}")
  if not isinstance(fps, (int, float)) or fps < 0:
    raise ConfigError(f"dataset.target_fps={fps!r} is not valid; allowed: 0 "
                      "(the video's own rate) or frames per second > 0")
  return ClipSampling(kind, num_frames, stride, length, float(fps))


def source_indices(indices: np.ndarray, source_fps: float,
                   target_fps: float) -> np.ndarray:
  """Indices at `target_fps` mapped to the nearest-earlier source frames."""
  if not target_fps or not source_fps or abs(source_fps - target_fps) < 1e-6:
    return indices
  return np.floor(indices * (source_fps / target_fps) + 1e-6).astype(np.int64)


def _frames_at_target(num_frames: int, source_fps: float,
                      target_fps: float) -> int:
  if not target_fps or not source_fps:
    return num_frames
  return max(1, int(num_frames * target_fps / source_fps))


def dense_indices(num_frames: int, sampling: ClipSampling,
                  start: int) -> np.ndarray:
  idx = start + np.arange(sampling.num_frames) * sampling.frame_stride
  return np.minimum(idx, num_frames - 1)


def segment_indices(num_frames: int, sampling: ClipSampling,
                    fractions: np.ndarray) -> np.ndarray:
  """`fractions` [K] in [0, 1): where in each segment its L frames start."""
  k, length = sampling.num_segments, sampling.segment_length
  room = num_frames - length + 1  # starts that leave room for L frames
  if room <= 0:
    starts = np.zeros(k, np.int64)
  else:
    bounds = np.arange(k + 1) * room / k
    starts = np.floor(bounds[:-1] + fractions * (bounds[1:] - bounds[:-1]))
    starts = np.minimum(starts.astype(np.int64), room - 1)
  idx = starts[:, None] + np.arange(length)
  return np.minimum(idx.reshape(-1), num_frames - 1)


def train_indices(num_frames: int, fps: float, sampling: ClipSampling,
                  rng: np.random.Generator) -> np.ndarray:
  """int64 [T] source-frame indices of one random training clip."""
  n = _frames_at_target(num_frames, fps, sampling.target_fps)
  if sampling.kind == "dense":
    start = int(rng.integers(0, max(n - sampling.span(), 0) + 1))
    idx = dense_indices(n, sampling, start)
  else:
    idx = segment_indices(n, sampling, rng.random(sampling.num_segments))
  return np.minimum(source_indices(idx, fps, sampling.target_fps),
                    num_frames - 1)


def test_indices(num_frames: int, fps: float, sampling: ClipSampling,
                 num_clips: int) -> np.ndarray:
  """int64 [num_clips, T]: the deterministic temporal views of a test video."""
  n = _frames_at_target(num_frames, fps, sampling.target_fps)
  views = []
  for v in range(num_clips):
    if sampling.kind == "dense":
      room = max(n - sampling.span(), 0)
      # Windows spread evenly from the first to the last frame; a single
      # window is the centre one.
      if num_clips == 1:
        start = room // 2
      else:
        start = int(round(room * v / (num_clips - 1)))
      idx = dense_indices(n, sampling, start)
    else:
      fractions = np.full(sampling.num_segments, (v + 0.5) / num_clips)
      idx = segment_indices(n, sampling, fractions)
    views.append(np.minimum(source_indices(idx, fps, sampling.target_fps),
                            num_frames - 1))
  return np.stack(views)


def frames_needed(sampling: ClipSampling) -> int:
  """The fewest frames (at the target rate) a video needs for a full clip."""
  if sampling.kind == "dense":
    return sampling.span()
  return sampling.num_frames
