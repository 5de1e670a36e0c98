"""Optical flow: the flow command (resumable, quantised), warped flow, and
flow read back as a model input."""

import json
import os

import ml_collections
import numpy as np
import pytest

from tests.data import video_trees
from vst.data import flow_store
from vst.data import optical_flow
from vst.data import registry
from vst.data import video_writer
from vst.tools import flow as flow_tool


def _moving_texture(num_frames=4, dx=2, dy=0, size=64, seed=0):
  """uint8 [T, size, size, 3] of smooth texture translating (dx, dy)/frame."""
  rng = np.random.default_rng(seed)
  big = rng.integers(0, 256, (size + 40, size + 40), np.uint8)
  import cv2  # pylint: disable=g-import-not-at-top
  big = cv2.GaussianBlur(big, (0, 0), 2.0)
  frames = [big[20 - t * dy:20 - t * dy + size, 20 - t * dx:20 - t * dx + size]
            for t in range(num_frames)]
  return np.repeat(np.stack(frames)[..., None], 3, -1)


def test_quantisation_round_trip_and_clipping():
  flow = np.array([[[-25.0, 0.0], [3.3, 20.0]]], np.float32)
  back = flow_store.dequantize(flow_store.quantize(flow, 20.0), 20.0)
  np.testing.assert_allclose(back, np.clip(flow, -20, 20), atol=40 / 255)


def test_tvl1_is_installed_and_auto_picks_it():
  # The pinned opencv-contrib build carries cv2.optflow's TV-L1, the flow
  # two-stream and TSN were trained on; `auto` must not fall back silently.
  assert optical_flow.available_methods()[0] == "tvl1"
  assert optical_flow.resolve_method("auto") == "tvl1"


@pytest.mark.parametrize("method", optical_flow.available_methods())
def test_flow_measures_a_known_translation(method):
  flows = optical_flow.video_flow(_moving_texture(dx=2), method)
  centre = flows[0][16:48, 16:48]
  np.testing.assert_allclose(centre.mean((0, 1)), [2.0, 0.0], atol=0.3)


def test_warped_flow_removes_camera_motion():
  frames = _moving_texture(dx=3, dy=1)  # the whole scene pans: camera motion
  plain = optical_flow.video_flow(frames, "auto")[0][16:48, 16:48]
  warped = optical_flow.video_flow(frames, "auto", warp=True)[0][16:48, 16:48]
  # |flow| averages (3 + 1) / 2 = 2 px before warping, ~0 after.
  assert np.abs(plain).mean() > 1.5 > 5 * np.abs(warped).mean()
  np.testing.assert_allclose(optical_flow.rgb_difference(frames[:2]).shape,
                             (1, 64, 64, 3))


def test_flow_command_writes_resumes_and_feeds_the_dataset(tmp_path, capsys):
  src, dst = str(tmp_path / "videos"), str(tmp_path / "flow")
  for k in range(2):
    path = os.path.join(src, "train", f"c{k}", "v.mp4")
    os.makedirs(os.path.dirname(path))
    video_writer.write_video(path, _moving_texture(8, dx=2 - 4 * k, seed=k))
  video_trees.write_corrupt(os.path.join(src, "train", "c0", "bad.mp4"))
  args = ["--src", src, "--dst", dst, "--workers", "1", "--min_resize", "0"]
  assert flow_tool.main(args) == 0
  assert "2 of 3 videos have flow" in capsys.readouterr().err
  folder = os.path.join(dst, "train", "c1", "v")
  with open(os.path.join(folder, "flow.json")) as f:
    meta = json.load(f)
  assert meta["num_frames"] == 7 and meta["bound"] == 20.0
  flow = flow_store.read_flow(folder, [0, 3])
  assert flow.shape == (2, 64, 64, 2)
  assert flow[:, 16:48, 16:48, 0].mean() == pytest.approx(-2.0, abs=0.4)
  # A rerun skips finished videos (resume after an interruption).
  os.remove(os.path.join(dst, "train", "c0", "v", "flow.json"))
  flow_tool.main(args)
  assert "1 already done, 2 to do" in capsys.readouterr().err

  c = ml_collections.ConfigDict()
  c.name, c.data_dir, c.num_classes = "video_folder", src, 2
  c.num_frames, c.crop_size, c.min_resize = 4, 32, 64
  c.modalities, c.flow_dir = ("rgb", "flow"), dst
  c.train_crop, c.flip, c.num_workers = "center", True, 1
  builder = registry.get_dataset("video_folder")
  assert builder.input_spec(c) == {"rgb": (4, 32, 32, 3),
                                   "flow": (4, 32, 32, 2)}
  batch = next(builder.train(c, 8))
  assert batch["inputs"]["flow"].shape == (8, 4, 32, 32, 2)
  for flow_clip in batch["inputs"]["flow"]:
    # Flow reaches the model in px / 20 (the quantisation bound); every clip
    # moves 2 px per frame, to the right or (class 1, or flipped) the left.
    mean_dx = flow_clip[..., 0].mean() * 20.0
    assert abs(abs(mean_dx) - 2.0) < 0.5
  views = list(builder.eval(c, "train", 10, views=(1, 10)))[0]
  dx = views["inputs"]["flow"][:10, ..., 0].mean((1, 2, 3)) * 20.0
  np.testing.assert_allclose(dx[:5], -dx[5:], atol=1e-5)  # 10-crop mirrors
