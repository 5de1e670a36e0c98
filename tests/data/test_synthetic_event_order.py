"""synthetic_event_order: the label is the order of the motions, short clips
are the first frames of the same videos, and the ceiling is what they show."""

import ml_collections
import numpy as np
import pytest

from vst.data import registry
from vst.data import synthetic_event_order as eo
from vst.data import synthetic_motion as sm
from vst.errors import ConfigError


def _config(**fields):
  c = dict(num_frames=8, crop_size=32, num_classes=6, num_events=3,
           video_frames=64, test_size=8)
  c.update(fields)
  return ml_collections.ConfigDict(c)


def test_each_phase_moves_with_the_labels_order():
  spec = eo.make_spec(_config(num_frames=64))
  # synthetic_motion's constant motions, for comparison.
  plain = sm.make_spec(ml_collections.ConfigDict(
      dict(num_frames=2, crop_size=32, num_classes=8)))
  labels = np.arange(6)
  rates = sm.motion_rates(spec, labels)               # [6, 64, 4]
  orders = sm.event_orders(3)
  assert len(set(orders)) == 6
  for label, order in zip(labels, orders):
    for phase, motion in enumerate(order):
      frames = [t for t in range(64) if t * 3 // 64 == phase]
      # Every frame of the phase moves with that phase's motion, and the
      # phases are a third of the video each (21 or 22 frames).
      assert 21 <= len(frames) <= 22
      constant = sm.motion_rates(plain, np.array([motion]))[0, 0]
      np.testing.assert_array_equal(rates[label, frames],
                                    np.broadcast_to(constant, (len(frames), 4)))
  assert eo.class_names(spec)[0] == "right>left>down"
  assert eo.class_names(spec)[-1] == "down>left>right"


def test_a_short_clip_is_the_first_frames_of_the_same_video():
  short = eo.make_spec(_config(num_frames=8))
  full = eo.make_spec(_config(num_frames=64))
  a = sm.make_examples(short, 1, [0, 5])
  b = sm.make_examples(full, 1, [0, 5])
  np.testing.assert_array_equal(a["label"], b["label"])
  np.testing.assert_array_equal(a["inputs"], b["inputs"][:, :8])


@pytest.mark.parametrize("frames,visible,ceiling", [
    (8, 1, 0.5), (16, 1, 0.5), (23, 1, 0.5), (24, 2, 1.0), (64, 3, 1.0)])
def test_ceiling_counts_the_phases_a_clip_shows(frames, visible, ceiling):
  spec = eo.make_spec(_config(num_frames=frames))
  assert eo.visible_events(spec) == visible
  assert eo.accuracy_ceiling(spec) == ceiling


def test_four_events_leave_more_orders_to_a_short_clip():
  spec = eo.make_spec(_config(num_classes=24, num_events=4, num_frames=16))
  assert eo.visible_events(spec) == 1
  assert eo.accuracy_ceiling(spec) == pytest.approx(1 / 6)


def test_builder_batches_and_names():
  config = _config()
  builder = registry.get_dataset(eo.NAME)
  train = builder.train(config, 4)
  batch = next(train)
  train.close()
  assert batch["inputs"].shape == (4, 8, 32, 32, 3)
  assert batch["label"].max() < 6
  assert builder.num_examples(config, "test") == 8
  assert len(builder.class_names(config)) == 6
  evals = list(builder.eval(config, "test", 4))
  assert sum(int(b["mask"].sum()) if "mask" in b else len(b["label"])
             for b in evals) == 8


@pytest.mark.parametrize("fields,message", [
    (dict(num_classes=8), "num_classes=8 .* allowed: 6"),
    (dict(num_events=5, num_classes=120), "num_events=5 .* 2..4"),
    (dict(video_frames=4), "video_frames=4 .* >= 8"),
    (dict(num_events=3, video_frames=5, num_frames=4), "video_frames=5 .* >= 6"),
    (dict(crop_size=8), "crop_size=8 .*synthetic_event_order"),
])
def test_bad_fields_name_the_value_and_what_is_allowed(fields, message):
  with pytest.raises(ConfigError, match=message):
    eo.make_spec(_config(**fields))
