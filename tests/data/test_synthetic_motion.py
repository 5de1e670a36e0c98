"""synthetic_motion: determinism, resumption, sharding, and that only motion
carries the label."""

import numpy as np
import pytest

from vst.config_base import base_config
from vst.data import registry
from vst.data import synthetic_motion as sm
from vst.errors import ConfigError


def _config(**fields):
  """`config.dataset` of the base config, with `fields` set or added."""
  c = base_config().dataset
  for key, value in fields.items():
    c[key] = value
  return c


def _train(config, batch_size=4, seed=0, shard_index=0, shard_count=1,
           name=sm.NAME):
  return registry.get_dataset(name).train(config, batch_size, seed,
                                          shard_index, shard_count)


def _eval(config, split="test", batch_size=4, shard_index=0, shard_count=1):
  return list(registry.get_dataset(sm.NAME).eval(config, split, batch_size,
                                                 shard_index, shard_count))


def _take(iterator, n):
  return [next(iterator) for _ in range(n)]


def _assert_same(batches_a, batches_b):
  assert len(batches_a) == len(batches_b)
  for a, b in zip(batches_a, batches_b):
    assert a.keys() == b.keys()
    for key in a:
      np.testing.assert_array_equal(a[key], b[key])


def _nearest_centroid_accuracy(train_x, train_y, test_x, test_y, classes):
  """Held-out accuracy of nearest centroids on standardised features."""
  mean, std = train_x.mean(0), train_x.std(0) + 1e-8
  train_x, test_x = (train_x - mean) / std, (test_x - mean) / std
  centroids = np.stack([train_x[train_y == k].mean(0) for k in range(classes)])
  distances = ((test_x[:, None] - centroids) ** 2).sum(-1)
  return float((distances.argmin(1) == test_y).mean())


# ----------------------------------------------------------------------------
# Interface.
# ----------------------------------------------------------------------------

def test_registered_with_input_spec():
  names = registry.list_datasets()
  assert sm.NAME in names and sm.APPEARANCE_NAME in names
  config = _config(num_frames=6, crop_size=24)
  assert registry.get_dataset(sm.NAME).input_spec(config) == (6, 24, 24, 3)


def test_shapes_dtypes_and_range():
  config = _config(num_frames=5, crop_size=24, num_classes=6)
  batch = next(_train(config, batch_size=3))
  assert set(batch) == {"inputs", "label"}
  assert batch["inputs"].shape == (3, 5, 24, 24, 3)
  assert batch["inputs"].dtype == np.float32
  assert batch["label"].shape == (3,) and batch["label"].dtype == np.int32

  inputs = sm.make_examples(sm.make_spec(config), 1, range(64))["inputs"]
  assert np.isfinite(inputs).all()
  # [-1, 1] plus a little pixel noise; roughly centred, not collapsed.
  assert -1.4 < inputs.min() and inputs.max() < 1.4
  assert abs(inputs.mean()) < 0.3 and 0.2 < inputs.std() < 0.8


def test_defaults_fill_missing_fields():
  config = _config()
  assert "num_objects" not in config and "speed" not in config
  spec = sm.make_spec(config)
  assert (spec.num_objects, spec.noise_std, spec.train_size, spec.test_size,
          spec.seed) == (2, 0.05, 0, 512, 0)
  assert spec.speed == config.crop_size / 16
  assert registry.get_dataset(sm.NAME).num_examples(config, "test") == 512


def test_fewer_classes_use_the_first_motions():
  spec = sm.make_spec(_config(num_classes=3))
  labels = sm.make_examples(spec, 0, range(60))["label"]
  assert set(labels.tolist()) == {0, 1, 2}


# ----------------------------------------------------------------------------
# Determinism, resumption, sharding.
# ----------------------------------------------------------------------------

def test_same_seed_same_batches_and_positions_differ():
  config = _config(num_frames=4, crop_size=16)
  first, second = _take(_train(config), 3), _take(_train(config), 3)
  _assert_same(first, second)
  assert not np.array_equal(first[0]["inputs"], first[1]["inputs"])
  other_seed = next(_train(_config(num_frames=4, crop_size=16, seed=1)))
  assert not np.array_equal(first[0]["inputs"], other_seed["inputs"])


def test_prefetch_does_not_change_batches():
  spec = sm.make_spec(_config(num_frames=4, crop_size=16))
  prefetched = sm.SyntheticTrainIterator(spec, 4, prefetch=3)
  synchronous = sm.SyntheticTrainIterator(spec, 4, prefetch=0)
  _assert_same(_take(prefetched, 5), _take(synchronous, 5))
  prefetched.close()


@pytest.mark.parametrize("train_size", [0, 10])
def test_restore_resumes_exactly(train_size):
  config = _config(num_frames=4, crop_size=16, train_size=train_size)
  uninterrupted = _take(_train(config, seed=3), 6)

  interrupted = _train(config, seed=3)
  _take(interrupted, 2)
  state = interrupted.state()
  assert state["position"] == 2
  _take(interrupted, 1)  # Runs ahead of the checkpoint, as a crash would.

  resumed = _train(config, seed=3)
  resumed.restore(state)
  _assert_same(_take(resumed, 4), uninterrupted[2:])


def test_restore_rejects_another_batch_size():
  config = _config(num_frames=4, crop_size=16)
  state = _train(config, batch_size=4).state()
  with pytest.raises(ConfigError, match="batch size"):
    _train(config, batch_size=8).restore(state)


def test_finite_train_set_is_reshuffled_every_epoch():
  spec = sm.make_spec(_config(train_size=10))
  iterator = sm.SyntheticTrainIterator(spec, 5, seed=0, prefetch=0)
  epochs = [np.concatenate([iterator.sample_indices(2 * e + i)
                            for i in range(2)]) for e in range(3)]
  for epoch in epochs:
    assert sorted(epoch.tolist()) == list(range(10))
  assert not np.array_equal(epochs[0], epochs[1])
  other_seed = sm.SyntheticTrainIterator(spec, 5, seed=1, prefetch=0)
  assert not np.array_equal(other_seed.sample_indices(0), epochs[0][:5])


def test_train_and_test_share_no_sample():
  spec = sm.make_spec(_config(num_frames=4, crop_size=16))
  train = sm.make_examples(spec, sm.SPLITS["train"], range(200))["inputs"]
  test = sm.make_examples(spec, sm.SPLITS["test"], range(200))["inputs"]
  # Backgrounds alone would betray a shared RNG stream.
  train_keys = {clip[0].tobytes() for clip in train}
  test_keys = {clip[0].tobytes() for clip in test}
  assert len(train_keys) == len(test_keys) == 200
  assert not train_keys & test_keys


@pytest.mark.parametrize("train_size", [0, 7])
def test_shards_concatenate_to_the_unsharded_batch(train_size):
  config = _config(num_frames=4, crop_size=16, train_size=train_size)
  whole = _take(_train(config, batch_size=6), 3)
  shards = [_take(_train(config, batch_size=3, shard_index=h, shard_count=2), 3)
            for h in range(2)]
  for step, batch in enumerate(whole):
    for key in batch:
      joined = np.concatenate([shards[0][step][key], shards[1][step][key]])
      np.testing.assert_array_equal(joined, batch[key])


def test_eval_pads_the_last_batch():
  config = _config(num_frames=4, crop_size=16, test_size=10)
  batches = _eval(config, batch_size=4)
  assert [b["mask"].tolist() for b in batches] == [
      [1, 1, 1, 1], [1, 1, 1, 1], [1, 1, 0, 0]]
  last = batches[-1]
  assert last["inputs"].shape == (4, 4, 16, 16, 3)
  assert not last["inputs"][2:].any() and not last["label"][2:].any()
  # The split in order: sample i of the test stream is row i.
  spec = sm.make_spec(config)
  expected = sm.make_examples(spec, sm.SPLITS["test"], range(10))
  inputs = np.concatenate([b["inputs"] for b in batches])[:10]
  np.testing.assert_array_equal(inputs, expected["inputs"])
  # A second pass is the same.
  _assert_same(batches, _eval(config, batch_size=4))


def test_eval_shards_and_empty_last_share():
  config = _config(num_frames=4, crop_size=16, test_size=5)
  whole = _eval(config, batch_size=4)
  shards = [_eval(config, batch_size=2, shard_index=h, shard_count=2)
            for h in range(2)]
  # Every host runs the same number of steps, even one left only padding.
  assert len(shards[0]) == len(shards[1]) == 2
  assert shards[1][1]["mask"].tolist() == [0, 0]
  real = [x for shard_step in zip(*shards) for b in shard_step
          for x, m in zip(b["inputs"], b["mask"]) if m]
  np.testing.assert_array_equal(
      np.stack(real), np.concatenate([b["inputs"] for b in whole])[:5])


def test_eval_splits_and_num_examples():
  builder = registry.get_dataset(sm.NAME)
  endless = _config(num_frames=4, crop_size=16)
  assert builder.num_examples(endless, "train") == 0
  with pytest.raises(ConfigError, match="train is endless"):
    _eval(endless, split="train")
  with pytest.raises(ConfigError, match="'validation'"):
    _eval(endless, split="validation")

  finite = _config(num_frames=4, crop_size=16, train_size=6)
  assert builder.num_examples(finite, "train") == 6
  train_batches = _eval(finite, split="train", batch_size=4)
  assert [b["mask"].sum() for b in train_batches] == [4, 2]


# ----------------------------------------------------------------------------
# Validation.
# ----------------------------------------------------------------------------

@pytest.mark.parametrize("field, value, message", [
    ("num_classes", 12, "dataset.num_classes=12 is not valid for "
                        "synthetic_motion; allowed: integers 1..8"),
    ("num_classes", 0, "dataset.num_classes=0"),
    ("num_frames", 1, "dataset.num_frames=1 .* at least two frames"),
    ("crop_size", 8, "dataset.crop_size=8 .* >= 16"),
    ("num_objects", 0, "dataset.num_objects=0"),
    ("noise_std", -0.1, "dataset.noise_std=-0.1"),
    ("speed", 5.0, r"dataset.speed=5.0 .* crop_size/8 = 4\]"),
    ("test_size", 0, "dataset.test_size=0"),
    ("train_size", -1, "dataset.train_size=-1"),
    ("seed", -3, "dataset.seed=-3"),
    ("num_objects", 1.5, "dataset.num_objects=1.5"),
])
def test_validate_names_the_field(field, value, message):
  with pytest.raises(ConfigError, match=message):
    registry.get_dataset(sm.NAME).validate(_config(**{field: value}))


def test_appearance_validation():
  validate = registry.get_dataset(sm.APPEARANCE_NAME).validate
  validate(_config(num_classes=16))
  validate(_config(num_classes=12, num_appearances=4))
  with pytest.raises(ConfigError, match="dataset.num_classes=7 is not valid "
                     "for synthetic_motion_appearance"):
    validate(_config(num_classes=7))
  with pytest.raises(ConfigError, match="dataset.num_classes=18"):
    validate(_config(num_classes=18))
  with pytest.raises(ConfigError, match="dataset.num_appearances=9"):
    validate(_config(num_classes=18, num_appearances=9))


# ----------------------------------------------------------------------------
# Only motion carries the label.
# ----------------------------------------------------------------------------

def _frame_features(frames):
  """[B, F] single-frame statistics of frames [B, H, W, 3].

  Colour (channel means and spreads, a grey-level histogram), edge energy
  and edge orientation: the 2nd and 4th angular harmonics of the gradient
  (with g = ∂x + i∂y, the mean of g² and g⁴), which see the angle of stripes
  and of squares.
  """
  grey = frames.mean(-1)
  gradient = (np.roll(grey, -1, 2) - grey) + 1j * (np.roll(grey, -1, 1) - grey)
  orientation = [(gradient ** k).mean((1, 2)) for k in (2, 4)]
  histogram = [((grey >= lo) & (grey < lo + 0.5)).mean((1, 2))
               for lo in (-1.0, -0.5, 0.0, 0.5)]
  return np.concatenate([
      frames.mean((1, 2)), frames.std((1, 2)),
      np.stack([(np.abs(gradient) ** 2).mean((1, 2)), *histogram], axis=1),
      np.stack([f(o) for o in orientation for f in (np.real, np.imag)], 1),
  ], axis=1)


def _affine_flow_features(clip):
  """[4] (vx, vy, curl, div) of the affine flow that best explains `clip`.

  Per frame pair: centre the frame on the changing pixels (on the torus),
  then least-squares fit I_t = -(v + A x) · ∇I, the brightness-constancy
  equation with an affine flow. Averaged over the pairs.
  """
  size = clip.shape[1]
  grey = clip.mean(-1)
  pos = np.arange(size) + 0.5
  phase = np.exp(2j * np.pi * pos / size)
  x, y = np.meshgrid(pos - size / 2, pos - size / 2)
  features = []
  for a, b in zip(grey[:-1], grey[1:]):
    change = (b - a) ** 2
    cx = np.angle((change.sum(0) * phase).sum()) * size / (2 * np.pi)
    cy = np.angle((change.sum(1) * phase).sum()) * size / (2 * np.pi)
    shift = (int(round(size / 2 - cy)), int(round(size / 2 - cx)))
    a, b = np.roll(a, shift, (0, 1)), np.roll(b, shift, (0, 1))
    mean = (a + b) / 2
    ix = (np.roll(mean, -1, 1) - np.roll(mean, 1, 1)) / 2
    iy = (np.roll(mean, -1, 0) - np.roll(mean, 1, 0)) / 2
    design = np.stack([ix, iy, x * ix, y * ix, x * iy, y * iy], -1)
    p = np.linalg.lstsq(design.reshape(-1, 6), (a - b).reshape(-1),
                        rcond=None)[0]
    features.append([p[0], p[1], p[4] - p[3], p[2] + p[5]])
  return np.mean(features, 0)


def _anova_chi2(x, labels, classes):
  """[F] (classes - 1) * one-way ANOVA F-statistic of each column of x [N, F].

  Without class effects it is ~ chi² with classes - 1 degrees of freedom.
  """
  groups = [x[labels == k] for k in range(classes)]
  between = sum(len(g) * (g.mean(0) - x.mean(0)) ** 2 for g in groups)
  within = sum(((g - g.mean(0)) ** 2).sum(0) for g in groups)
  return between / (within / (len(x) - classes))


def test_single_frames_are_class_independent():
  spec = sm.make_spec(_config())
  train = sm.make_examples(spec, sm.SPLITS["train"], range(960))
  test = sm.make_examples(spec, sm.SPLITS["test"], range(480))
  rng = np.random.default_rng(0)
  for frame in ("random", "last"):
    def features(batch):
      n = len(batch["label"])
      t = (rng.integers(spec.num_frames, size=n) if frame == "random"
           else np.full(n, spec.num_frames - 1))
      return _frame_features(batch["inputs"][np.arange(n), t])

    x, labels = features(train), train["label"]
    # Class means and class spreads (squared deviations) of every statistic.
    # 30 is chi²(7) at p = 1e-4: no false alarm over these 60 tests, while
    # objects 15% larger in 4 of the 8 classes score up to ~200, and squares
    # at a fixed angle in 4 classes ~40.
    for stats in (x, (x - x.mean(0)) ** 2):
      chi2 = _anova_chi2(stats, labels, spec.num_classes)
      assert (chi2 < 30).all(), (frame, chi2.round(1))

    accuracy = _nearest_centroid_accuracy(x, labels, features(test),
                                          test["label"], spec.num_classes)
    assert accuracy < 0.2, (frame, accuracy)  # chance: 0.125


def test_motion_separates_classes():
  spec = sm.make_spec(_config(num_objects=1))
  train = sm.make_examples(spec, sm.SPLITS["train"], range(240))
  test = sm.make_examples(spec, sm.SPLITS["test"], range(240))
  features = [np.stack([_affine_flow_features(c) for c in b["inputs"]])
              for b in (train, test)]
  accuracy = _nearest_centroid_accuracy(features[0], train["label"],
                                        features[1], test["label"],
                                        spec.num_classes)
  assert accuracy > 0.7, accuracy  # chance: 0.125


def test_appearance_variant_label_layout_and_colour_cue():
  config = _config(num_classes=16, num_appearances=2)
  spec = sm.make_spec(config, appearance=True)
  assert (spec.num_motions, spec.num_appearances) == (8, 2)
  batch = next(_train(config, batch_size=8, name=sm.APPEARANCE_NAME))
  assert batch["label"].max() < 16

  def colour_of_saturated_pixels(inputs):
    frames = inputs[:, 0].reshape(len(inputs), -1, 3)
    saturation = frames.max(-1) - frames.min(-1)
    top = np.argsort(-saturation, axis=1)[:, :frames.shape[1] // 10]
    return np.take_along_axis(frames, top[..., None], axis=1).mean(1)

  train = sm.make_examples(spec, sm.SPLITS["train"], range(200))
  test = sm.make_examples(spec, sm.SPLITS["test"], range(200))
  accuracy = _nearest_centroid_accuracy(
      colour_of_saturated_pixels(train["inputs"]), train["label"] % 2,
      colour_of_saturated_pixels(test["inputs"]), test["label"] % 2, 2)
  assert accuracy > 0.85, accuracy  # chance: 0.5
