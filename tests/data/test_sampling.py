"""Which frames a clip takes: dense clips, TSN segments, test views, fps."""

import numpy as np
import pytest

from vst.config_base import base_config
from vst.data import sampling
from vst.errors import ConfigError


def test_dense_training_clip_has_stride_and_random_offset():
  s = sampling.ClipSampling("dense", num_frames=8, frame_stride=2)
  starts = set()
  for seed in range(50):
    idx = sampling.train_indices(100, 25.0, s, np.random.default_rng(seed))
    np.testing.assert_array_equal(np.diff(idx), 2)
    assert 0 <= idx[0] and idx[-1] < 100
    starts.add(int(idx[0]))
  assert len(starts) > 20  # the offset is random


def test_dense_test_views_cover_the_video_evenly():
  s = sampling.ClipSampling("dense", num_frames=4, frame_stride=2)
  views = sampling.test_indices(31, 25.0, s, 3)
  np.testing.assert_array_equal(views[:, 0], [0, 12, 24])
  np.testing.assert_array_equal(views[-1], [24, 26, 28, 30])
  centre = sampling.test_indices(31, 25.0, s, 1)
  assert centre[0, 0] == 12  # (31 - 7) // 2


def test_short_video_repeats_its_last_frame():
  s = sampling.ClipSampling("dense", num_frames=6, frame_stride=2)
  idx = sampling.test_indices(5, 25.0, s, 1)[0]
  np.testing.assert_array_equal(idx, [0, 2, 4, 4, 4, 4])


def test_tsn_segments_random_in_training_centre_in_testing():
  s = sampling.ClipSampling("segments", num_frames=3)
  for seed in range(20):
    idx = sampling.train_indices(30, 25.0, s, np.random.default_rng(seed))
    assert [i // 10 for i in idx] == [0, 1, 2]  # one frame in each third
  np.testing.assert_array_equal(sampling.test_indices(30, 25.0, s, 1)[0],
                                [5, 15, 25])
  stacked = sampling.ClipSampling("segments", num_frames=6, segment_length=2)
  idx = sampling.test_indices(31, 25.0, stacked, 1)[0]
  np.testing.assert_array_equal(idx.reshape(3, 2)[:, 1] - idx.reshape(3, 2)[:, 0], 1)


def test_target_fps_resamples_the_timeline():
  s = sampling.ClipSampling("dense", num_frames=4, frame_stride=1,
                            target_fps=10.0)
  idx = sampling.test_indices(60, 30.0, s, 1)[0]
  np.testing.assert_array_equal(np.diff(idx), 3)  # every third 30-fps frame


def test_bad_fields_name_the_field():
  c = base_config().dataset
  c.sampling = "uniform"
  with pytest.raises(ConfigError, match="dataset.sampling='uniform'.*dense"):
    sampling.make_clip_sampling(c)
  c.sampling = "segments"
  c.segment_length = 3
  with pytest.raises(ConfigError, match="dataset.segment_length=3"):
    sampling.make_clip_sampling(c)
