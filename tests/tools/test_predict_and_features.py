"""vst.predict and vst.tools.features on videos the tests encode themselves."""

import json
import os

import jax
import numpy as np
import pytest

from tests.conftest import tiny_config
from vst import checkpointing
from vst import inference
from vst import predict
from vst import train as train_lib
from vst.data import synthetic_motion
from vst.data import video_writer
from vst.errors import ConfigError
from vst.tools import features

# --config overrides that make configs/vivit_synthetic.py the tiny config.
TINY_FLAGS = ["--config=configs/vivit_synthetic.py",
              "--config.dataset.num_frames=4", "--config.dataset.crop_size=16",
              "--config.dataset.num_classes=4"]


def _tiny():
  c = tiny_config()
  assert (c.dataset.num_frames, c.dataset.crop_size,
          c.dataset.num_classes) == (4, 16, 4), "TINY_FLAGS are out of date"
  return c


@pytest.fixture(scope="module")
def run(tmp_path_factory):
  """A workdir holding a checkpoint (freshly initialised, saved at step 7),
  and videos: a 40-frame mp4, a 3-frame avi, a lossless PNG frame folder of
  a synthetic_motion clip."""
  root = tmp_path_factory.mktemp("predict")
  config = _tiny()
  model, tx, _ = train_lib.build(config)
  state = train_lib.create_state(config, model, tx, None)
  state = state.replace(step=jax.numpy.asarray(7, jax.numpy.int32))
  mgr = checkpointing.manager(str(root / "run"), 1, 1)
  checkpointing.save(mgr, 7, state, {}, {}, force=True)
  mgr.wait_until_finished()
  videos = root / "videos"
  videos.mkdir()
  video_writer.write_video(str(videos / "long.mp4"),
                           video_writer.numbered_frames(40, 32, 48))
  video_writer.write_video(str(videos / "short.avi"),
                           video_writer.numbered_frames(3, 32, 48))
  return {"config": config, "workdir": str(root / "run"), "videos": videos,
          "root": root, "state": state, "model": model}


def _frame_folder(run, frames_uint8) -> str:
  import cv2  # pylint: disable=g-import-not-at-top
  folder = run["root"] / "frames"
  folder.mkdir(exist_ok=True)
  for i, frame in enumerate(frames_uint8):
    cv2.imwrite(str(folder / f"{i:05d}.png"), frame[..., ::-1])
  return str(folder)


def test_predict_cli_prints_and_writes_top_k(run, tmp_path, capsys):
  out = tmp_path / "p.json"
  status = predict.main(["predict", *TINY_FLAGS, f"--workdir={run['workdir']}",
                         f"--json={out}", "--top_k=3",
                         "--config.eval.num_clips=2", str(run["videos"])])
  assert status == 0
  printed = capsys.readouterr().out
  results = json.loads(out.read_text())
  assert [os.path.basename(r["video"]) for r in results] == [
      "long.mp4", "short.avi"]
  for r in results:
    assert r["step"] == 7 and r["views"] == 2
    probs = [t["probability"] for t in r["top"]]
    assert len(probs) == 3 and probs == sorted(probs, reverse=True)
    assert all(t["label"] in synthetic_motion.MOTIONS for t in r["top"])
    assert f"1. {r['top'][0]['label']}" in printed
  # Two temporal views spread over the long video; the short one is padded
  # by repeating its last frame, as evaluation does.
  long_views = [v["frames"] for v in results[0]["layouts"]]
  assert long_views[0][0] == 0 and long_views[1][-1] == 39
  assert results[1]["layouts"][0]["frames"][-1] == 2


def test_prediction_is_the_model_on_the_clip_it_names(run):
  """A lossless frame folder of a synthetic_motion clip: predict's
  probabilities are softmax(model(clip)) exactly."""
  config = run["config"]
  spec = synthetic_motion.make_spec(config.dataset)
  clip = synthetic_motion.make_examples(spec, 1, [0])["inputs"][0]
  frames = np.clip(np.round((clip + 1) * 127.5), 0, 255).astype(np.uint8)
  folder = _frame_folder(run, frames)
  # Files for a synthetic_motion model are read at crop_size (no resize):
  # the model sees exactly these pixels.
  (result,) = predict.predict_videos(config, run["workdir"], [folder],
                                     top_k=4)
  variables = train_lib.variables_of(run["state"])
  logits = run["model"].apply(variables, frames[None] / 127.5 - 1.0,
                              train=False)
  expected = np.asarray(jax.nn.softmax(logits[0]))
  got = np.zeros(4)
  for t in result["top"]:
    got[t["index"]] = t["probability"]
  np.testing.assert_allclose(got, expected, atol=1e-5)


def test_predict_reports_unreadable_videos_and_missing_checkpoints(run,
                                                                    tmp_path):
  broken = tmp_path / "broken.mp4"
  broken.write_bytes(b"not a video")
  (result,) = predict.predict_videos(run["config"], run["workdir"],
                                     [str(broken)])
  assert "error" in result and "broken.mp4" in result["error"]
  with pytest.raises(ConfigError, match="no checkpoint in"):
    inference.load(run["config"], str(tmp_path / "empty"))


def test_features_windows_resume_and_match_the_model(run, tmp_path, capsys):
  out = tmp_path / "features"
  argv = ["features", *TINY_FLAGS, f"--workdir={run['workdir']}",
          f"--out={out}", "--window=8", "--stride=4",
          str(run["videos"] / "long.mp4"), str(run["videos"] / "short.avi")]
  assert features.main(argv) == 0
  saved = np.load(out / "long.npz")
  # 40 frames, windows of 8 every 4 frames: starts 0, 4, ..., 32.
  assert saved["clip_frames"].tolist() == [[s, s + 8] for s in range(0, 33, 4)]
  assert saved["frame_indices"][1].tolist() == [4, 6, 8, 10]
  assert saved["clip_features"].shape == (9, 64)
  np.testing.assert_allclose(saved["video_feature"],
                             saved["clip_features"].mean(0), rtol=1e-6)
  np.testing.assert_allclose(saved["clip_seconds"][1], [4 / 25, 12 / 25])
  assert np.load(out / "short.npz")["frame_indices"].tolist() == [[0, 2, 2, 2]]

  # The feature is the model's pre_logits on exactly those frames.
  spec, maker = inference.clip_maker(run["config"],
                                     str(run["videos"] / "long.mp4"))
  views = maker.clips_at(0, saved["frame_indices"][2:3])
  _, state = run["model"].apply(
      train_lib.variables_of(run["state"]), inference.stack_views(views, spec),
      train=False, mutable=["intermediates"])
  np.testing.assert_allclose(saved["clip_features"][2],
                             features.pre_logits(state)[0], atol=1e-5)

  # A second run skips finished videos; other settings are refused.
  assert features.main(argv) == 0
  assert "0 videos written, 2 already there" in capsys.readouterr().out
  assert len((out / "features.jsonl").read_text().splitlines()) == 2
  assert features.main(argv[:-2] + ["--stride=2", argv[-1]]) == 2
  assert "other settings (stride" in capsys.readouterr().err


def test_clip_windows_reject_a_window_shorter_than_the_clip():
  with pytest.raises(ValueError, match="--window=2 is shorter"):
    features.clip_windows(40, 2, 1, 4)
