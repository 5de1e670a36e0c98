"""Frames out of a video file or a frame folder, exactly the ones asked for.

`read_frames(path, indices)` returns the frames at 0-based display-order
indices. A frame's index comes from its presentation timestamp,

  index = round((pts - start_pts) * time_base * fps),

so it is right whatever the codec, GOP length or B-frame reordering: we seek
to the keyframe at or before the first wanted frame, decode forward, and keep
the frames whose index is wanted. If the seek lands after the wanted frame
(some demuxers seek to the next keyframe) we seek again from the start.

A frame folder (one image per frame, sorted by name, as TSN/mmaction store
them) is read with OpenCV.

Everything here is host-side numpy/PyAV/OpenCV; nothing touches a device.
"""

import dataclasses
import fractions
import functools
import os
from typing import Optional, Sequence

import av
import cv2
import numpy as np

VIDEO_EXTENSIONS = (".mp4", ".avi", ".webm", ".mkv", ".mov", ".m4v", ".mpg",
                    ".mpeg", ".flv")
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp")


class DecodeError(Exception):
  """A video that cannot give the frames asked for: the message says why."""


def sample_failure(path: str, error: Exception) -> "DecodeError":
  """`error`, raised while reading `path`, as a DecodeError naming the file
  (a DecodeError already does; any other exception gets its type and path)."""
  if isinstance(error, DecodeError):
    return error
  return DecodeError(f"{path}: {type(error).__name__}: {error}")


class MissingVideoError(DecodeError):
  """The file is not there (deleted or moved after the index was built)."""


@dataclasses.dataclass(frozen=True)
class VideoInfo:
  """What a sampler needs to know about one video.

  `start_pts` is the smallest presentation timestamp of the video stream
  (frame 0's); containers disagree on whether `stream.start_time` gives it
  (AVI with B-frames starts at pts 1 but says 0), the packets do not.
  """
  num_frames: int
  fps: float
  width: int
  height: int
  start_pts: int = 0


def is_video_file(path: str) -> bool:
  return path.lower().endswith(VIDEO_EXTENSIONS)


def is_frame_folder(path: str) -> bool:
  return os.path.isdir(path)


# ============================================================================
# Frame folders.
# ============================================================================

@functools.lru_cache(maxsize=4096)
def _folder_frames(path: str) -> tuple[str, ...]:
  names = sorted(n for n in os.listdir(path)
                 if n.lower().endswith(IMAGE_EXTENSIONS))
  return tuple(os.path.join(path, n) for n in names)


def _read_image(path: str) -> np.ndarray:
  image = cv2.imread(path, cv2.IMREAD_COLOR)
  if image is None:
    raise DecodeError(f"cannot read image {path}")
  return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


# Frame folders carry no frame rate; datasets stored that way (TSN, mmaction)
# were extracted at the source rate, ~30 fps for UCF-101/HMDB-51/Kinetics.
FRAME_FOLDER_FPS = 30.0


def _folder_info(path: str) -> VideoInfo:
  frames = _folder_frames(path)
  if not frames:
    raise DecodeError(f"frame folder {path} holds no images "
                      f"({', '.join(IMAGE_EXTENSIONS)})")
  first = _read_image(frames[0])
  return VideoInfo(len(frames), FRAME_FOLDER_FPS, first.shape[1],
                   first.shape[0])


# ============================================================================
# Video files.
# ============================================================================

def _open(path: str):
  if not os.path.exists(path):
    raise MissingVideoError(f"no such file: {path}")
  if os.path.getsize(path) == 0:
    raise DecodeError(f"empty file: {path}")
  try:
    container = av.open(path)
  except (av.FFmpegError, ValueError, OSError) as e:
    raise DecodeError(f"cannot open {path}: {e}") from e
  if not container.streams.video:
    container.close()
    raise DecodeError(f"{path} has no video stream")
  return container


def _rate(stream) -> fractions.Fraction:
  rate = stream.average_rate or stream.guessed_rate or stream.base_rate
  if not rate or rate <= 0:
    raise DecodeError(f"cannot tell the frame rate of {stream.container.name}")
  return fractions.Fraction(rate)


def _index_of(pts: int, start: int, tb_times_rate: fractions.Fraction) -> int:
  return int(round((pts - start) * tb_times_rate))


def _probe_packets(container, stream) -> tuple[int, int]:
  """(first pts, number of frames) from the demuxed packets, no decoding.

  The header's frame count is missing for WebM/Matroska and can disagree
  with what decodes; the packets' timestamps cannot.
  """
  first, last = None, None
  for packet in container.demux(stream):
    if packet.pts is not None and packet.size:
      first = packet.pts if first is None else min(first, packet.pts)
      last = packet.pts if last is None else max(last, packet.pts)
  if first is None:
    return 0, 0
  scale = stream.time_base * _rate(stream)
  return first, _index_of(last, first, scale) + 1


def _video_file_info(container, path: str) -> VideoInfo:
  stream = container.streams.video[0]
  try:
    start, num_frames = _probe_packets(container, stream)
  except (av.FFmpegError, ValueError) as e:
    raise DecodeError(f"cannot demux {path}: {e}") from e
  if num_frames <= 0:
    raise DecodeError(f"{path} holds no video frames")
  ctx = stream.codec_context
  if not ctx.width or not ctx.height:
    raise DecodeError(f"{path}: the video stream has no frame size")
  return VideoInfo(num_frames, float(_rate(stream)), ctx.width, ctx.height,
                   start)


@functools.lru_cache(maxsize=65536)
def _cached_info(path: str, mtime_ns: int, size: int) -> VideoInfo:
  del mtime_ns, size  # Only key the cache: a rewritten file is probed anew.
  if is_frame_folder(path):
    return _folder_info(path)
  container = _open(path)
  try:
    return _video_file_info(container, path)
  finally:
    container.close()


def video_info(path: str) -> VideoInfo:
  """Frame count, frame rate and size of a video file or frame folder.

  Cached per process by (path, modification time, size).
  """
  try:
    st = os.stat(path)
  except OSError as e:
    raise MissingVideoError(f"no such file: {path}") from e
  return _cached_info(path, st.st_mtime_ns, st.st_size)


def _output_size(width: int, height: int,
                 min_resize: Optional[int]) -> tuple[int, int]:
  """(width, height) after scaling the short side to `min_resize`."""
  if not min_resize:
    return width, height
  if width <= height:
    return min_resize, max(1, int(round(height * min_resize / width)))
  return max(1, int(round(width * min_resize / height))), min_resize


def resize_short_side(frames: np.ndarray, min_resize: int) -> np.ndarray:
  """uint8 [T, H, W, C] with the short side scaled to `min_resize`."""
  h, w = frames.shape[1:3]
  out_w, out_h = _output_size(w, h, min_resize)
  if (out_w, out_h) == (w, h):
    return frames
  interp = cv2.INTER_AREA if out_w < w else cv2.INTER_LINEAR
  return np.stack([cv2.resize(f, (out_w, out_h), interpolation=interp)
                   for f in frames])


def _decode_wanted(container, stream, start: int, wanted: set[int],
                   first: int, size: tuple[int, int]) -> dict[int, np.ndarray]:
  scale = stream.time_base * _rate(stream)
  target_pts = start + int(first / scale) if first else start
  got: dict[int, np.ndarray] = {}
  last_wanted = max(wanted)
  for attempt in range(2):
    # backward=True, any_frame=False: the keyframe at or before target_pts.
    container.seek(target_pts if attempt == 0 else start, stream=stream,
                   backward=True, any_frame=False)
    landed_late, first_frame = False, True
    for frame in container.decode(stream):
      if frame.pts is None:
        continue
      index = _index_of(frame.pts, start, scale)
      if first_frame and index > first and attempt == 0:
        landed_late = True  # The seek overshot: retry from the start.
        break
      first_frame = False
      if index in wanted and index not in got:
        got[index] = frame.to_ndarray(format="rgb24", width=size[0],
                                      height=size[1],
                                      interpolation="AREA")
      if index >= last_wanted:
        break
    if not landed_late:
      break
  return got


def read_frames(path: str, indices: Sequence[int],
                min_resize: Optional[int] = None) -> np.ndarray:
  """uint8 [len(indices), H, W, 3] RGB: the frames at `indices` (0-based,
  display order, repeats allowed), at the file's resolution or with the short
  side scaled to `min_resize`.

  Raises DecodeError naming the file if it is missing, empty, corrupt, or
  lacks any requested frame.
  """
  indices = [int(i) for i in indices]
  if not indices:
    raise ValueError("read_frames needs at least one frame index")
  if min(indices) < 0:
    raise DecodeError(f"negative frame index {min(indices)} for {path}")
  if is_frame_folder(path):
    files = _folder_frames(path)
    if max(indices) >= len(files):
      raise DecodeError(f"frame {max(indices)} asked of {path}, which has "
                        f"{len(files)} frames")
    cache = {i: _read_image(files[i]) for i in set(indices)}
    frames = np.stack([cache[i] for i in indices])
    return resize_short_side(frames, min_resize) if min_resize else frames
  info = video_info(path)
  container = _open(path)
  try:
    stream = container.streams.video[0]
    # Parallelism comes from data workers; one decoder thread each avoids
    # oversubscribing the cores.
    stream.thread_type = "SLICE"
    stream.thread_count = 1
    ctx = stream.codec_context
    size = _output_size(ctx.width, ctx.height, min_resize)
    wanted = set(indices)
    try:
      got = _decode_wanted(container, stream, info.start_pts, wanted,
                           min(indices), size)
    except (av.FFmpegError, ValueError, OverflowError) as e:
      raise DecodeError(f"cannot decode {path}: {e}") from e
  finally:
    container.close()
  missing = sorted(wanted - set(got))
  if missing:
    raise DecodeError(f"{path}: frames {missing[:5]}{'...' if len(missing) > 5 else ''}"
                      f" not found (the video ends or is truncated before them)")
  return np.stack([got[i] for i in indices])


def iter_frames(path: str, min_resize: Optional[int] = None):
  """Every frame of a video file or frame folder in display order, as uint8
  [H, W, 3] RGB, decoded one at a time (bounded memory for long videos)."""
  if is_frame_folder(path):
    for name in _folder_frames(path):
      frame = _read_image(name)
      yield resize_short_side(frame[None], min_resize)[0] if min_resize else frame
    return
  container = _open(path)
  try:
    stream = container.streams.video[0]
    ctx = stream.codec_context
    size = _output_size(ctx.width, ctx.height, min_resize)
    try:
      for frame in container.decode(stream):
        yield frame.to_ndarray(format="rgb24", width=size[0], height=size[1],
                               interpolation="AREA")
    except (av.FFmpegError, ValueError) as e:
      raise DecodeError(f"cannot decode {path}: {e}") from e
  finally:
    container.close()
