"""PyAV decoding: exactly the requested frames, whatever the container/codec."""

import os

import numpy as np
import pytest

from tests.data import video_trees
from vst.data import decode
from vst.data import video_writer

# (extension, codec): B-frames where the codec has them, GOP 12.
FORMATS = [(".mp4", "libx264"), (".mp4", "mpeg4"), (".avi", "mpeg4"),
           (".avi", "mjpeg"), (".webm", "libvpx"), (".webm", "libvpx-vp9"),
           (".mkv", "libx264")]
NUM_FRAMES = 40


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
  root = tmp_path_factory.mktemp("decode")
  frames = video_writer.numbered_frames(NUM_FRAMES, 48, 64)
  out = {}
  for ext, codec in FORMATS:
    if not video_writer.codec_available(codec):
      continue
    path = str(root / f"{codec}{ext}")
    video_writer.write_video(path, frames, fps=25, codec=codec)
    out[(ext, codec)] = path
  return out


@pytest.mark.parametrize("ext,codec", FORMATS)
def test_read_frames_returns_exactly_the_requested_frames(videos, ext, codec):
  if (ext, codec) not in videos:
    pytest.skip(f"encoder {codec} is not in this PyAV build")
  path = videos[(ext, codec)]
  rng = np.random.default_rng(0)
  requests = [[0], [NUM_FRAMES - 1], [13, 12, 11], [25, 5, 5, 39, 0],
              list(range(NUM_FRAMES)), sorted(rng.choice(NUM_FRAMES, 8)),
              [24, 25, 26, 27]]  # straddles a keyframe (GOP 12)
  for indices in requests:
    frames = decode.read_frames(path, indices)
    assert frames.dtype == np.uint8 and frames.shape == (len(indices), 48, 64, 3)
    np.testing.assert_array_equal(video_writer.frame_numbers(frames), indices)


@pytest.mark.parametrize("ext,codec", FORMATS)
def test_video_info_counts_frames(videos, ext, codec):
  if (ext, codec) not in videos:
    pytest.skip(f"encoder {codec} is not in this PyAV build")
  info = decode.video_info(videos[(ext, codec)])
  assert (info.num_frames, info.width, info.height) == (NUM_FRAMES, 64, 48)
  assert info.fps == pytest.approx(25.0)


def test_short_side_resize_keeps_aspect_and_frames(videos):
  path = videos[(".mp4", "libx264")]
  frames = decode.read_frames(path, [3, 30], min_resize=24)
  assert frames.shape == (2, 24, 32, 3)
  np.testing.assert_array_equal(video_writer.frame_numbers(frames), [3, 30])
  tall = decode.resize_short_side(np.zeros((1, 40, 20, 3), np.uint8), 10)
  assert tall.shape == (1, 20, 10, 3)


def test_frame_folder(tmp_path):
  folder = video_trees.write_frame_folder(str(tmp_path / "v"), 12,
                                          width=64)
  info = decode.video_info(folder)
  assert info.num_frames == 12 and (info.height, info.width) == (48, 64)
  frames = decode.read_frames(folder, [11, 0, 4])
  np.testing.assert_array_equal(video_writer.frame_numbers(frames), [11, 0, 4])
  assert decode.read_frames(folder, [1], min_resize=24).shape == (1, 24, 32, 3)
  assert [f.shape for f in decode.iter_frames(folder)][0] == (48, 64, 3)


def test_iter_frames_gives_every_frame_in_order(videos):
  frames = np.stack(list(decode.iter_frames(videos[(".avi", "mpeg4")])))
  np.testing.assert_array_equal(video_writer.frame_numbers(frames),
                                np.arange(NUM_FRAMES))


def test_bad_files_raise_decode_error_naming_them(videos, tmp_path):
  good = videos[(".mp4", "libx264")]
  truncated = str(tmp_path / "truncated.mkv")
  with open(videos[(".mkv", "libx264")], "rb") as src:
    data = src.read()
  with open(truncated, "wb") as dst:
    dst.write(data[:len(data) // 3])
  empty = str(tmp_path / "empty.mp4")
  open(empty, "wb").close()
  cases = {
      str(tmp_path / "missing.mp4"): [0],
      empty: [0],
      video_trees.write_corrupt(str(tmp_path / "corrupt.mp4")): [0],
      good: [NUM_FRAMES],        # past the end
      truncated: [NUM_FRAMES - 1],  # cut off before the last frames
  }
  for path, indices in cases.items():
    with pytest.raises(decode.DecodeError, match=os.path.basename(path)):
      decode.read_frames(path, indices)
  with pytest.raises(decode.MissingVideoError):
    decode.video_info(str(tmp_path / "missing.mp4"))
