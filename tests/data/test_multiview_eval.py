"""Multi-view evaluation: view aggregation, coverage, the confusion image,
and an end-to-end run (train + N clips × M crops eval) on generated videos."""

import json
import os

import numpy as np
import pytest

from tests.conftest import tiny_config
from tests.data import video_trees
from vst import evaluate
from vst import main
from vst.errors import ConfigError


def test_views_of_a_video_are_aggregated_before_video_hit():
  # Video 0 (label 1): two views wrong with low confidence, one right with
  # high confidence; mean softmax gets it right, clip Hit@1 does not.
  logits = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 6.0],   # video 0
                     [5.0, 0.0], [4.0, 0.0], [3.0, 0.0]])  # video 1
  labels = np.array([1, 1, 1, 0, 0, 0])
  ids = np.array([0, 0, 0, 7, 7, 7])
  m = evaluate.metrics_from_outputs(logits, labels, ids, 2)
  assert m["clip_hit@1"] == pytest.approx(4 / 6)
  assert m["video_hit@1"] == m["accuracy"] == 1.0 and m["num_videos"] == 2
  by_max = evaluate.metrics_from_outputs(logits, labels, ids, 2, "max_softmax")
  assert by_max["accuracy"] == 1.0
  with pytest.raises(ConfigError, match="eval.aggregation='vote'"):
    evaluate.metrics_from_outputs(logits, labels, ids, 2, "vote")


def test_coverage_and_confusion_image(tmp_path):
  report = {"global": {"videos_annotated": 10, "videos_missing": 3},
            "per_host": {"videos_evaluated": 6, "videos_unreadable": 1}}
  m = evaluate.coverage_metrics(report)
  assert m["coverage"] == pytest.approx(0.6) and m["videos_missing"] == 3
  confusion = np.array([[3, 1], [0, 4]])
  image = evaluate.confusion_image(confusion, cell=4)
  assert image.shape == (8, 8, 3) and image.dtype == np.uint8
  assert image[0, 0].sum() < image[0, 4].sum()  # 0.75 darker than 0.25
  evaluate.write_confusion_png(str(tmp_path / "c.png"), confusion)
  assert os.path.getsize(tmp_path / "c.png") > 0


def test_train_and_multiview_eval_on_a_video_folder(tmp_path):
  data = video_trees.folder_tree(str(tmp_path / "data"), classes=4,
                                 train_per_class=2, test_per_class=1,
                                 num_frames=12, size=(24, 32))
  c = tiny_config("vivit")
  c.dataset.name = "video_folder"
  c.dataset.data_dir = data
  c.dataset.frame_stride = 2
  c.dataset.min_resize = 20
  c.dataset.train_crop = "random_resized"
  c.dataset.num_workers = 2
  c.eval.num_clips = 2
  c.eval.num_crops = 3
  c.eval.batch_size = 8
  c.eval.aggregation = "mean_softmax"
  workdir = str(tmp_path / "run")
  summary = main.run(c, workdir)
  assert summary["step"] == c.train.num_steps
  assert summary["num_videos"] == 4 and summary["num_views"] == 4 * 2 * 3
  assert summary["coverage"] == 1.0 and summary["videos_annotated"] == 4
  assert np.isfinite(summary["loss"]) and 0 <= summary["accuracy"] <= 1
  assert os.path.getsize(os.path.join(workdir, "confusion.png")) > 0
  with open(os.path.join(workdir, "summary.json")) as f:
    assert json.load(f)["clip_hit@1"] == summary["clip_hit@1"]
