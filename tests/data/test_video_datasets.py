"""The real-video datasets on tiny generated trees: annotations, labels,
skipped videos and coverage, determinism and resumption, multi-view eval."""

import os

import ml_collections
import numpy as np
import pytest

from tests.data import video_trees
from vst.data import registry
from vst.data import video_datasets
from vst.data import video_spec
from vst.errors import ConfigError


def _config(name, data_dir, num_classes, **fields):
  c = ml_collections.ConfigDict()
  c.name, c.data_dir, c.num_classes = name, data_dir, num_classes
  c.num_frames, c.crop_size, c.min_resize = 4, 48, 48
  c.frame_stride = 2
  c.train_crop = "center"  # keep the drawn frame numbers readable
  c.flip = False
  c.num_workers = 2
  for k, v in fields.items():
    c[k] = v
  return c


def _index(name, data_dir, split, num_classes, **fields):
  spec = video_spec.make_video_spec(_config(name, data_dir, num_classes,
                                            **fields))
  return video_datasets.load_index(spec, split)


@pytest.fixture(scope="module")
def folder_root(tmp_path_factory):
  return video_trees.folder_tree(str(tmp_path_factory.mktemp("folder")))


@pytest.fixture(scope="module")
def kinetics_root(tmp_path_factory):
  return video_trees.kinetics_tree(str(tmp_path_factory.mktemp("k400")))


# ----------------------------------------------------------------------------
# Annotation readers.
# ----------------------------------------------------------------------------

def test_ucf101_official_folds(tmp_path):
  root = video_trees.ucf_tree(str(tmp_path))
  for fold in (1, 2, 3):
    train = _index("ucf101", root, "train", 3, fold=fold)
    test = _index("ucf101", root, "test", 3, fold=fold)
    assert len(train) == 6 and len(test) == 3
    assert all(f"_g{fold:02d}_" in p for p in test.paths)
    assert not any(f"_g{fold:02d}_" in p for p in train.paths)
    for path, label in zip(train.paths + test.paths,
                           list(train.labels) + list(test.labels)):
      assert train.class_names[label] in os.path.basename(path)
  with pytest.raises(ConfigError, match="dataset.fold=4"):
    _index("ucf101", root, "train", 3, fold=4)


def test_hmdb51_official_folds(tmp_path):
  root = video_trees.hmdb_tree(str(tmp_path))
  for fold in (1, 2, 3):
    test = _index("hmdb51", root, "test", 2, fold=fold)
    assert sorted(os.path.basename(p) for p in test.paths) == [
        f"brush_hair_video{fold - 1}.avi", f"cartwheel_video{fold - 1}.avi"]
    assert len(_index("hmdb51", root, "train", 2, fold=fold)) == 4


def test_kinetics_counts_missing_and_malformed_rows(kinetics_root):
  val = _index("kinetics400", kinetics_root, "validation", 3)
  assert val.class_names == ["abseiling", "bowling", "juggling"]
  assert val.num_annotated == 10 and val.missing == 1 and val.bad_rows == 2
  assert len(val) == 7  # includes the corrupt file, found at decode time
  for path, label in zip(val.paths, val.labels):
    assert f"/{val.class_names[label]}/" in path


def test_ssv2_labels_from_templates(tmp_path):
  root = video_trees.ssv2_tree(str(tmp_path))
  train = _index("ssv2", root, "train", 3)
  assert len(train) == 6 and list(train.labels) == [0, 1, 2, 0, 1, 2]
  val = _index("ssv2", root, "validation", 3)
  assert len(val) == 3 and val.bad_rows == 2


def test_validate_names_the_field(folder_root, tmp_path):
  builder = registry.get_dataset("video_folder")
  with pytest.raises(ConfigError, match="dataset.data_dir is empty"):
    builder.validate(_config("video_folder", "", 3))
  with pytest.raises(ConfigError, match="dataset.num_classes=5.*has 3"):
    builder.validate(_config("video_folder", folder_root, 5))
  with pytest.raises(ConfigError, match="dataset.modalities"):
    builder.validate(_config("video_folder", folder_root, 3,
                             modalities=("depth",)))
  with pytest.raises(ConfigError, match="dataset.data_dir=.*annotation CSV"):
    registry.get_dataset("kinetics400").validate(
        _config("kinetics400", str(tmp_path), 400))
  with pytest.raises(ConfigError, match="mixup_alpha=-0.5"):
    builder.validate(_config("video_folder", folder_root, 3, mixup_alpha=-0.5))


# ----------------------------------------------------------------------------
# Training stream.
# ----------------------------------------------------------------------------

def _train(config, batch_size=6, seed=0, shard_index=0, shard_count=1):
  return registry.get_dataset(config.name).train(config, batch_size, seed,
                                                 shard_index, shard_count)


def test_train_clips_have_the_right_frames_and_labels(folder_root):
  it = _train(_config("video_folder", folder_root, 3))
  for _ in range(4):
    batch = next(it)
    assert batch["inputs"].shape == (6, 4, 48, 48, 3)
    assert batch["inputs"].dtype == np.float32 and batch["label"].dtype == np.int32
    for clip, label in zip(batch["inputs"], batch["label"]):
      classes, frames = video_trees.labels_and_frames(clip)
      assert (classes == label).all()  # never a clip with the wrong label
      np.testing.assert_array_equal(np.diff(frames), 2)  # frame_stride
  assert it.state()["skipped"]["unreadable"] >= 1  # broken.mp4 was met
  it.close()


def test_train_stream_is_deterministic_and_resumes_exactly(folder_root):
  config = _config("video_folder", folder_root, 3, train_crop="random_resized",
                   flip=True, colour_jitter=0.4, min_resize=56)
  first = _train(config)
  batches = [next(first) for _ in range(4)]
  resumed = _train(config)
  for _ in range(2):
    next(resumed)
  state = resumed.state()
  again = _train(config)
  again.restore(state)
  for expected in batches[2:]:
    got = next(again)
    np.testing.assert_array_equal(got["inputs"], expected["inputs"])
    np.testing.assert_array_equal(got["label"], expected["label"])
  other_seed = next(_train(config, seed=1))
  assert not np.array_equal(other_seed["inputs"], batches[0]["inputs"])
  for it in (first, resumed, again):
    it.close()


def test_hosts_read_disjoint_rows_of_the_global_batch(folder_root):
  config = _config("video_folder", folder_root, 3)
  whole = next(_train(config, batch_size=4))
  halves = [next(_train(config, batch_size=2, shard_index=i, shard_count=2))
            for i in range(2)]
  np.testing.assert_array_equal(
      np.concatenate([h["inputs"] for h in halves]), whole["inputs"])


def test_repeated_augmentation_repeats_samples_with_new_augmentation(
    folder_root):
  config = _config("video_folder", folder_root, 3, repeated_augmentation=2,
                   train_crop="random", min_resize=56)
  batch = next(_train(config, batch_size=6))
  for a, b in zip(batch["inputs"][0::2], batch["inputs"][1::2]):
    assert not np.array_equal(a, b)
  np.testing.assert_array_equal(batch["label"][0::2], batch["label"][1::2])


def test_process_workers_give_the_same_batches(folder_root):
  config = _config("video_folder", folder_root, 3)
  threads = next(_train(config))
  config.worker_type = "process"
  it = _train(config)
  np.testing.assert_array_equal(next(it)["inputs"], threads["inputs"])
  it.close()


def test_frame_folders_and_short_videos(tmp_path):
  root = str(tmp_path)
  for k in range(2):
    video_trees.write_frame_folder(os.path.join(root, "train", f"c{k}", "long"),
                                   12, k)
    video_trees.write_frame_folder(os.path.join(root, "train", f"c{k}",
                                                "short"), 3, k)
  config = _config("video_folder", root, 2, short_video="skip")
  it = _train(config, batch_size=4)
  batch = next(it)
  for clip, label in zip(batch["inputs"], batch["label"]):
    classes, frames = video_trees.labels_and_frames(clip)
    assert (classes == label).all() and frames.max() > 3  # only "long" ones
  assert it.state()["skipped"]["too_short"] >= 1
  config.short_video = "pad"
  batch = next(_train(config, batch_size=4))
  assert batch["inputs"].shape == (4, 4, 48, 48, 3)


# ----------------------------------------------------------------------------
# Multi-view evaluation.
# ----------------------------------------------------------------------------

def test_eval_yields_all_views_with_video_ids_and_reports_coverage(
    kinetics_root):
  config = _config("kinetics400", kinetics_root, 3)
  builder = registry.get_dataset("kinetics400")
  stream = builder.eval(config, "validation", 8, views=(2, 3))
  batches = list(stream)
  ids = np.concatenate([b["video_id"] for b in batches])
  mask = np.concatenate([b["mask"] for b in batches])
  labels = np.concatenate([b["label"] for b in batches])
  real_ids = ids[mask > 0]
  assert len(real_ids) == 6 * 6  # 6 readable videos × 2 clips × 3 crops
  assert all(np.sum(real_ids == v) == 6 for v in np.unique(real_ids))
  index = video_datasets.load_index(video_spec.make_video_spec(config),
                                    "validation")
  np.testing.assert_array_equal(labels[mask > 0], index.labels[real_ids])
  report = stream.report()
  assert report["global"] == {"videos_annotated": 10, "videos_missing": 1,
                              "annotation_bad_rows": 2}
  assert report["per_host"]["videos_evaluated"] == 6
  assert report["per_host"]["videos_unreadable"] == 1
  # The two temporal views of a video are its first and last frames' windows.
  first = batches[0]["inputs"]
  _, frames = video_trees.labels_and_frames(first[0])
  np.testing.assert_array_equal(frames, [0, 2, 4, 6])


def test_eval_shards_cover_every_video_once(folder_root):
  config = _config("video_folder", folder_root, 3)
  builder = registry.get_dataset("video_folder")
  seen = []
  counts = []
  for host in range(2):
    batches = list(builder.eval(config, "test", 4, host, 2, views=(1, 1)))
    counts.append(len(batches))
    for b in batches:
      seen.extend(b["video_id"][b["mask"] > 0])
  assert counts[0] == counts[1]
  assert sorted(seen) == list(range(6))


def test_vivit_k400_config_reads_kinetics_with_one_field(kinetics_root):
  import importlib.util  # pylint: disable=g-import-not-at-top
  path = os.path.join(os.path.dirname(__file__), "..", "..", "configs",
                      "vivit_k400.py")
  spec = importlib.util.spec_from_file_location("vivit_k400", path)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  config = module.get_config()
  builder = registry.get_dataset(config.dataset.name)
  with pytest.raises(ConfigError, match="dataset.data_dir is empty"):
    builder.validate(config.dataset)
  config.dataset.data_dir = kinetics_root
  with pytest.raises(ConfigError, match="num_classes=400.*has 3 classes"):
    builder.validate(config.dataset)
  config.dataset.num_classes = 3  # the fake tree has 3 of the 400 classes
  builder.validate(config.dataset)
  batch = next(builder.train(config.dataset, 1))
  assert batch["inputs"].shape == (1, 32, 224, 224, 3)
  assert builder.input_spec(config.dataset) == (32, 224, 224, 3)


# ----------------------------------------------------------------------------
# TFDS source.
# ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def tfds_root(tmp_path_factory):
  root = str(tmp_path_factory.mktemp("tfds"))
  return root, video_trees.tfds_tree(root)


def test_tfds_source_trains_on_the_asked_frames_with_their_labels(tfds_root):
  data_dir, name = tfds_root
  config = _config("ucf101", data_dir, 3, source="tfds", tfds_name=name)
  builder = registry.get_dataset("ucf101")
  builder.validate(config)
  assert builder.class_names(config) == ["class0", "class1", "class2"]
  assert builder.num_examples(config, "train") == 7  # 6 and a corrupt one.
  it = _train(config)
  seen = set()
  for _ in range(2):
    batch = next(it)
    assert batch["inputs"].shape == (6, 4, 48, 48, 3)
    for clip, label in zip(batch["inputs"], batch["label"]):
      classes, frames = video_trees.labels_and_frames(clip)
      assert (classes == label).all()
      np.testing.assert_array_equal(np.diff(frames), 2)
      seen.add(int(label))
  assert seen == {0, 1, 2}
  # The corrupt record was met, skipped and counted, never trained on.
  assert it.state()["skipped"]["unreadable"] >= 1
  it.close()


def test_tfds_source_evaluates_every_view_of_every_video(tfds_root):
  data_dir, name = tfds_root
  config = _config("ucf101", data_dir, 3, source="tfds", tfds_name=name)
  batches = list(registry.get_dataset("ucf101").eval(config, "test", 4,
                                                     views=(2, 1)))
  mask = np.concatenate([b["mask"] for b in batches]) > 0
  ids = np.concatenate([b["video_id"] for b in batches])[mask]
  labels = np.concatenate([b["label"] for b in batches])[mask]
  assert sorted(ids.tolist()) == [0, 0, 1, 1, 2, 2]
  inputs = np.concatenate([b["inputs"] for b in batches])[mask]
  for clip, label in zip(inputs, labels):
    classes, frames = video_trees.labels_and_frames(clip)
    assert (classes == label).all()
  # The two temporal views are the video's first and last windows.
  starts = sorted({int(video_trees.labels_and_frames(c)[1][0])
                   for c in inputs})
  assert starts == [0, 24 - 7]


@pytest.mark.parametrize("fields,match", [
    (dict(tfds_name=""), "dataset.tfds_name"),
    (dict(tfds_name="no_such_builder"), "no_such_builder"),
    (dict(modalities=("rgb", "flow")), "dataset.modalities"),
])
def test_tfds_source_errors_name_the_field(tfds_root, fields, match):
  data_dir, name = tfds_root
  config = _config("ucf101", data_dir, 3, source="tfds",
                   **{"tfds_name": name, **fields})
  with pytest.raises(ConfigError, match=match):
    registry.get_dataset("ucf101").validate(config)


@pytest.mark.parametrize("tfds_name", ["no_such_builder",
                                       "ucf101/ucf101_1_256"])
def test_a_tfds_builder_that_is_not_there_is_one_short_line(tfds_root,
                                                            tfds_name):
  # TFDS lists every builder it knows in its message, ~260 lines.
  data_dir, _ = tfds_root
  config = _config("ucf101", data_dir, 3, source="tfds", tfds_name=tfds_name)
  with pytest.raises(ConfigError) as raised:
    registry.get_dataset("ucf101").validate(config)
  message = str(raised.value)
  assert "\n" not in message and len(message) < 700, message
  assert f"dataset.tfds_name={tfds_name!r}" in message


def test_tfds_source_names_the_splits_it_has(tfds_root):
  data_dir, name = tfds_root
  config = _config("ucf101", data_dir, 3, source="tfds", tfds_name=name)
  with pytest.raises(ConfigError, match="train, test"):
    registry.get_dataset("ucf101").num_examples(config, "validation")


@pytest.mark.parametrize("worker_type", ["thread", "process"])
def test_grain_loader_gives_the_vst_loaders_batches_and_resumes(
    folder_root, worker_type):
  config = _config("video_folder", folder_root, 3, train_crop="random",
                   flip=True, min_resize=56)
  ours = _train(config, batch_size=4)
  expected = [next(ours) for _ in range(3)]
  ours.close()
  config.loader, config.worker_type = "grain", worker_type
  grain_it = _train(config, batch_size=4)
  for want in expected[:2]:
    got = next(grain_it)
    np.testing.assert_array_equal(got["inputs"], want["inputs"])
    np.testing.assert_array_equal(got["label"], want["label"])
  state = grain_it.state()
  assert state["position"] == 2
  grain_it.close()
  resumed = _train(config, batch_size=4)
  resumed.restore(state)
  np.testing.assert_array_equal(next(resumed)["inputs"], expected[2]["inputs"])
  resumed.close()
