"""The PyTorch control: same batches, same schedule, a measured test top-1."""

import json
import math

import ml_collections
import pytest

from vst import optim
from vst.tools import torch_control


def test_learning_rate_follows_the_trainer_schedule():
  train = ml_collections.ConfigDict(dict(
      schedule="cosine", learning_rate=1e-3, warmup_steps=50, num_steps=600))
  schedule = optim.learning_rate_schedule(train)
  for step in (0, 1, 25, 50, 51, 300, 599):
    assert math.isclose(1e-3 * torch_control.lr_factor(step, 50, 600),
                        float(schedule(step)), rel_tol=1e-5, abs_tol=1e-9)


def test_control_trains_the_reference_and_writes_its_result(tmp_path, capsys):
  pytest.importorskip("torchvision", reason="the control trains torchvision's "
                      "MViT; install requirements-test.txt")
  status = torch_control.main([
      "torch_control", "--config=configs/mvit_synthetic.py",
      "--config.train.num_steps=3", "--config.train.log_every_steps=1",
      f"--workdir={tmp_path}"])
  assert status == 0
  out = capsys.readouterr().out
  assert "step 3/3 loss=" in out and "test_top1=" in out
  result = json.loads((tmp_path / "torch_control.json").read_text())
  assert result["reference"].endswith("MViT")
  assert result["steps"] == 3 and result["test_clips"] == 512
  assert math.isfinite(result["final_loss"]) and 0 <= result["test_top1"] <= 1


def test_a_model_without_reference_is_a_clear_error(capsys):
  status = torch_control.main([
      "torch_control", "--config=configs/c3d_synthetic.py"])
  assert status == 2
  assert "model.name='c3d' has no PyTorch reference" in capsys.readouterr().err
