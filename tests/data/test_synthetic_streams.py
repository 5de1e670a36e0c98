"""synthetic_motion_streams: TSN snippets of synthetic_motion as modalities."""

import ml_collections
import numpy as np
import pytest

from vst.data import registry
from vst.data import synthetic_motion
from vst.data import synthetic_streams
from vst.errors import ConfigError


def _config(**fields):
  base = dict(name=synthetic_streams.NAME, num_frames=8, crop_size=32,
              num_classes=4, test_size=6, modalities=("rgb", "flow"),
              num_segments=2, new_length=3, flow_bound=4.0)
  return ml_collections.ConfigDict({**base, **fields})


def _builder(config):
  return registry.get_dataset(config.name)


def test_input_spec_matches_the_batches():
  config = _config(modalities=synthetic_streams.MODALITIES)
  spec = _builder(config).input_spec(config)
  assert spec == {"rgb": (2, 32, 32, 3), "flow": (6, 32, 32, 2),
                  "warped_flow": (6, 32, 32, 2), "rgb_diff": (6, 32, 32, 3)}
  (batch,) = list(_builder(config).eval(config, "test", 8))[:1]
  for name, shape in spec.items():
    assert batch["inputs"][name].shape == (8,) + shape
  np.testing.assert_array_equal(batch["mask"], [1] * 6 + [0] * 2)


def test_eval_videos_are_synthetic_motions_with_centred_snippets():
  config = _config(modalities=("rgb", "rgb_diff"))
  batch = next(iter(_builder(config).eval(config, "test", 6)))
  videos = synthetic_motion.make_examples(
      synthetic_motion.make_spec(config), synthetic_motion.SPLITS["test"],
      range(6))
  np.testing.assert_array_equal(batch["label"], videos["label"])
  # Segments [0, 4) and [4, 8), 4-frame snippets: both start at the edge.
  starts = synthetic_streams.snippet_starts(
      synthetic_streams.make_stream_spec(config))
  np.testing.assert_array_equal(starts, [0, 4])
  np.testing.assert_allclose(batch["inputs"]["rgb"],
                             videos["inputs"][:, [0, 4]])
  np.testing.assert_allclose(batch["inputs"]["rgb_diff"][:, :3],
                             np.diff(videos["inputs"][:, 0:4], axis=1),
                             rtol=1e-6, atol=1e-6)


def test_flow_points_along_the_motion():
  # Class 0 moves right, class 1 left, at crop_size / 16 = 2 px per frame.
  config = _config(num_classes=2, test_size=16, noise_std=0.0,
                   modalities=("flow",))
  batch = next(iter(_builder(config).eval(config, "test", 16)))
  flow = batch["inputs"]["flow"] * config.flow_bound
  moving = np.abs(flow[..., 0]) > 0.5
  mean_dx = np.array([flow[i][..., 0][moving[i]].mean() for i in range(16)])
  labels = batch["label"]
  assert set(labels) == {0, 1}
  assert (mean_dx[labels == 0] > 0.5).all() and (mean_dx[labels == 1] < -0.5).all()
  assert np.abs(batch["inputs"]["flow"]).max() <= 1.0


def test_train_snippets_move_within_segments_and_resume_exactly():
  config = _config(num_frames=12, modalities=("rgb",), new_length=1)
  spec = synthetic_streams.make_stream_spec(config)
  starts = {tuple(synthetic_streams.snippet_starts(
      spec, np.random.default_rng(seed))) for seed in range(20)}
  assert len(starts) > 1
  assert all(0 <= a <= 5 and 6 <= b <= 11 for a, b in starts)
  builder = _builder(config)
  it = builder.train(config, 2, seed=1)
  next(it)
  state = it.state()
  expected = next(it)
  resumed = builder.train(config, 2, seed=1)
  resumed.restore(state)
  np.testing.assert_array_equal(next(resumed)["inputs"]["rgb"],
                                expected["inputs"]["rgb"])
  it.close()
  resumed.close()


def test_appearance_variant_keeps_the_hue_label():
  config = _config(name=synthetic_streams.APPEARANCE_NAME, num_classes=4,
                   modalities=("rgb",), new_length=1)
  batch = next(iter(_builder(config).eval(config, "test", 6)))
  assert batch["label"].max() < 4 and batch["inputs"]["rgb"].shape[1] == 2


@pytest.mark.parametrize("field,value,match", [
    ("modalities", ("rgb", "depth"), "dataset.modalities"),
    ("num_segments", 0, "dataset.num_segments"),
    ("num_frames", 6, "dataset.num_frames"),
    ("flow_bound", -1.0, "dataset.flow_bound"),
    ("flow_method", "lucas_kanade", "dataset.flow_method"),
])
def test_bad_fields_are_named(field, value, match):
  with pytest.raises(ConfigError, match=match):
    _builder(_config()).validate(_config(**{field: value}))
