"""Writing videos with PyAV, and frames that say their own index.

Tests and the input benchmark make their own videos rather than download
any: `numbered_frames` draws each frame's index as a row of black/white bars
(coarse enough to survive lossy codecs), and `frame_numbers` reads it back,
so a test can check that exactly the requested frames were decoded.
"""

import fractions
from typing import Optional

import av
import numpy as np

# Container extension -> (codec, pixel format) that suits it.
DEFAULT_CODECS = {
    ".mp4": ("libx264", "yuv420p"),
    ".avi": ("mpeg4", "yuv420p"),
    ".webm": ("libvpx", "yuv420p"),
    ".mkv": ("libx264", "yuv420p"),
}
INDEX_BITS = 10  # frames 0..1023


def codec_available(codec: str) -> bool:
  try:
    av.codec.Codec(codec, "w")
    return True
  except (av.codec.codec.UnknownCodecError, ValueError):
    return False


def write_video(path: str, frames: np.ndarray, fps: float = 25.0,
                codec: Optional[str] = None, pix_fmt: Optional[str] = None,
                gop: int = 12, bframes: int = 2) -> None:
  """Writes uint8 [T, H, W, 3] RGB `frames` (H, W even) to `path`.

  `gop` and `bframes` shape the stream so seeking is non-trivial: keyframes
  every `gop` frames and B-frames reordered for codecs that have them.
  """
  ext = path[path.rfind("."):].lower()
  default_codec, default_fmt = DEFAULT_CODECS.get(ext, ("mpeg4", "yuv420p"))
  codec = codec or default_codec
  pix_fmt = pix_fmt or ("yuvj420p" if codec == "mjpeg" else default_fmt)
  rate = fractions.Fraction(fps).limit_denominator(1001)
  with av.open(path, "w") as container:
    stream = container.add_stream(codec, rate=rate)
    stream.width, stream.height = frames.shape[2], frames.shape[1]
    stream.pix_fmt = pix_fmt
    stream.gop_size = gop
    if codec in ("libx264", "mpeg4"):
      stream.codec_context.max_b_frames = bframes
    if codec == "libx264":
      stream.options = {"crf": "18", "preset": "ultrafast" if not bframes
                        else "veryfast"}
    for image in frames:
      frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image),
                                         format="rgb24")
      for packet in stream.encode(frame):
        container.mux(packet)
    for packet in stream.encode():
      container.mux(packet)


def numbered_frames(num_frames: int, height: int = 64, width: int = 96,
                    first: int = 0, seed: int = 0) -> np.ndarray:
  """uint8 [T, H, W, 3] whose top half shows each frame's index in binary.

  The bottom half is smooth coloured texture that drifts, so codecs see
  motion as in real video.
  """
  rng = np.random.default_rng(seed)
  frames = np.empty((num_frames, height, width, 3), np.uint8)
  bar = width / INDEX_BITS  # fractional, so any width reads back the same
  y, x = np.mgrid[0:height, 0:width].astype(np.float32)
  phase = rng.uniform(0, 2 * np.pi, 3)
  for t in range(num_frames):
    index = first + t
    for c in range(3):
      frames[t, ..., c] = (127 + 90 * np.sin(
          (x + 2 * t) / 9 + (c + 1) * y / 13 + phase[c])).astype(np.uint8)
    top = frames[t, :height // 2]
    top[:] = 0
    for bit in range(INDEX_BITS):
      if index >> bit & 1:
        top[:, round(bit * bar):round((bit + 1) * bar)] = 255
  return frames


def frame_numbers(frames: np.ndarray) -> np.ndarray:
  """int [T]: the indices drawn by `numbered_frames` into uint8 [T, H, W, 3]
  frames at their original size or resized (any size)."""
  height, width = frames.shape[1:3]
  bar = width / INDEX_BITS
  top = frames[:, height // 8: 3 * height // 8].astype(np.float32).mean(-1)
  numbers = np.zeros(len(frames), np.int64)
  for bit in range(INDEX_BITS):
    lo, hi = int(bit * bar + bar / 4), int((bit + 1) * bar - bar / 4)
    on = top[:, :, lo:max(hi, lo + 1)].mean((1, 2)) > 127
    numbers |= on.astype(np.int64) << bit
  return numbers


def textured_frames(num_frames: int, height: int, width: int,
                    seed: int = 0) -> np.ndarray:
  """uint8 [T, H, W, 3] of drifting detailed texture: a realistic decoding
  load for the input benchmark (flat frames decode unrealistically fast)."""
  rng = np.random.default_rng(seed)
  base = rng.integers(0, 256, (height + num_frames * 2, width + num_frames * 3,
                               3), np.uint8)
  # Smooth a little so the codec sees structure rather than pure noise.
  base = ((base.astype(np.uint16) + np.roll(base, 1, 0) + np.roll(base, 1, 1)
           + np.roll(base, 1, (0, 1))) // 4).astype(np.uint8)
  return np.stack([base[2 * t:2 * t + height, 3 * t:3 * t + width]
                   for t in range(num_frames)])
