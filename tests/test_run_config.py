"""A run carries its config: every tool needs only --workdir."""

import json
import os
import shutil
import subprocess
import sys

import pytest

from vst import main as main_lib
from vst import predict
from vst import run_config
from tests.conftest import tiny_config
from tests.data import video_trees

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def folder_run(tmp_path_factory):
  """A tiny ViViT trained on a class-folder dataset, whose data is then gone."""
  root = tmp_path_factory.mktemp("folder_run")
  data = video_trees.folder_tree(str(root / "data"), corrupt=False)
  config = tiny_config()
  config.dataset.name = "video_folder"
  config.dataset.data_dir = data
  config.dataset.num_classes = 3
  config.train.num_steps = 2
  workdir = str(root / "run")
  main_lib.run(config, workdir)
  video = shutil.copy(os.path.join(data, "test", "class2", "v0.mp4"),
                      str(root / "clip.mp4"))
  shutil.rmtree(data)
  return workdir, video


def test_the_run_saves_its_config_and_class_names(folder_run):
  workdir, _ = folder_run
  saved = run_config.get_config(workdir)
  assert saved.dataset.name == "video_folder"
  assert saved.model.name == "vivit" and saved.train.num_steps == 2
  assert saved.train.step_boundaries == ()  # JSON lists come back as tuples
  assert run_config.class_names(workdir) == ["class0", "class1", "class2"]


def test_predict_needs_only_the_workdir_and_prints_class_names(folder_run,
                                                               capsys):
  workdir, video = folder_run
  assert predict.main(["predict", f"--workdir={workdir}", video]) == 0
  out = capsys.readouterr().out
  assert "class_0" not in out
  assert sum(f"class{k}" in out for k in range(3)) == 3  # its top-3


def test_eval_mode_needs_only_the_workdir_and_takes_overrides(tmp_path):
  workdir = str(tmp_path / "run")
  config = tiny_config()
  config.train.num_steps = 2
  main_lib.run(config, workdir)
  env = dict(os.environ, JAX_PLATFORMS="cpu")
  proc = subprocess.run(
      [sys.executable, "-m", "vst.main", f"--workdir={workdir}", "--mode=eval",
       "--config.eval.batch_size=8", "--config.eval.max_examples=8"],
      cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
  assert proc.returncode == 0, proc.stderr[-3000:]
  with open(os.path.join(workdir, "eval_summary.json")) as f:
    summary = json.load(f)
  assert summary["step"] == 2 and summary["num_views"] == 8


def test_with_run_config_keeps_a_training_recipe_and_overrides(tmp_path):
  config = tiny_config()
  run_config.save(str(tmp_path), config, None)
  given = ["main", f"--workdir={tmp_path}", "--config=configs/x.py",
           "--config.train.num_steps=3"]
  assert run_config.with_run_config(given, prefer_saved=False) == given
  rewritten = run_config.with_run_config(given)
  assert "--config=configs/x.py" not in rewritten
  assert "--config.train.num_steps=3" in rewritten
  assert rewritten[1].endswith(f"run_config.py:{tmp_path}")
  assert run_config.with_run_config(["main", "--workdir=/nonexistent"]) == [
      "main", "--workdir=/nonexistent"]
