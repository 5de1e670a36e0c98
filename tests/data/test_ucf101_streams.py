"""The two-stream and TSN UCF-101 configs end to end on a UCF-style tree:
PyAV videos with official split files, flow precomputed by `vst.tools.flow`,
then training and multi-view testing through `vst.main` with the configs'
own data sections (segment sampling, RGB + flow, 10-crop test), only the
model shrunk to its tiny variant and the sizes to the tree's."""

import importlib
import json
import os

import pytest

from tests.data import video_trees
from vst import main as main_lib
from vst.models import registry as model_registry
from vst.tools import flow as flow_tool


@pytest.fixture(scope="module")
def ucf_with_flow(tmp_path_factory):
  root = video_trees.ucf_tree(str(tmp_path_factory.mktemp("ucf")))
  flow_dir = str(tmp_path_factory.mktemp("ucf_flow"))
  assert flow_tool.main(["--src", root, "--dst", flow_dir, "--method", "dis",
                         "--workers", "1", "--min_resize", "0"]) == 0
  return root, flow_dir


@pytest.mark.parametrize("config_name,model", [("two_stream_ucf101",
                                                "two_stream"),
                                               ("tsn_ucf101", "tsn")])
def test_stream_config_trains_and_tests_on_precomputed_flow(
    ucf_with_flow, tmp_path, config_name, model):
  root, flow_dir = ucf_with_flow
  config = importlib.import_module(f"configs.{config_name}").get_config()
  assert config.dataset.modalities == ("rgb", "flow")
  assert config.dataset.sampling == "segments"
  config.model = model_registry.model_config(model, "tiny")
  config.model.new_length = config.dataset.segment_length
  config.dataset.data_dir, config.dataset.flow_dir = root, flow_dir
  config.dataset.num_classes = 3
  config.dataset.crop_size, config.dataset.min_resize = 32, 48
  config.dataset.num_workers = 1
  config.train.batch_size, config.train.num_steps = 4, 2
  config.train.log_every_steps = config.train.eval_every_steps = 2
  config.checkpoint.every_steps = 2
  config.eval.num_clips, config.eval.batch_size = 2, 20
  assert config.eval.num_crops == 10 and config.eval.split == "test"
  main_lib.run(config, str(tmp_path))
  with open(tmp_path / "summary.json") as f:
    summary = json.load(f)
  assert summary["step"] == 2
  # Fold 1 tests group 1 of each of the 3 classes: 2 clips × 10 crops each.
  assert summary["num_videos"] == 3 and summary["num_views"] == 60
  assert 0.0 <= summary["accuracy"] <= 1.0
  assert os.path.exists(tmp_path / "confusion.png")
