"""The PyTorch control: same batches, same schedule, a measured test top-1."""

import json
import math
import re

import ml_collections
import pytest

from vst import optim
from vst.tools import torch_control

_MVIT_3_STEPS = ["torch_control", "--config=configs/mvit_synthetic.py",
                 "--config.train.num_steps=3",
                 "--config.train.warmup_steps=1",
                 "--config.train.log_every_steps=1"]


def test_control_trains_the_reference_and_writes_its_result(tmp_path, capsys):
  pytest.importorskip("torchvision", reason="the control trains torchvision's "
                      "MViT; install requirements-test.txt")
  status = torch_control.main(_MVIT_3_STEPS + [f"--workdir={tmp_path}"])
  assert status == 0
  out = capsys.readouterr().out
  assert "step 3/3 loss=" in out and "test_top1=" in out
  result = json.loads((tmp_path / "torch_control.json").read_text())
  assert result["reference"].endswith("MViT")
  assert result["steps"] == 3 and result["test_clips"] == 512
  assert math.isfinite(result["final_loss"]) and 0 <= result["test_top1"] <= 1
  # Each step's learning rate is the trainer's schedule at that step.
  rates = [float(r) for r in re.findall(r"lr=(\S+)", out)]
  schedule = optim.learning_rate_schedule(ml_collections.ConfigDict(dict(
      schedule="cosine", learning_rate=1e-3, warmup_steps=1, num_steps=3)))
  assert len(rates) == 3
  for step, rate in enumerate(rates):
    assert math.isclose(rate, float(schedule(step)), rel_tol=1e-5,
                        abs_tol=1e-9)


def test_a_warmup_longer_than_the_run_is_the_trainers_error(capsys):
  status = torch_control.main(_MVIT_3_STEPS[:3] + [
      "--config.train.warmup_steps=50"])
  assert status == 2
  assert "train.warmup_steps=50 must be in [0, train.num_steps=3]" in (
      capsys.readouterr().err)


def test_a_model_without_reference_is_a_clear_error(capsys):
  status = torch_control.main([
      "torch_control", "--config=configs/c3d_synthetic.py"])
  assert status == 2
  assert "model.name='c3d' has no PyTorch reference" in capsys.readouterr().err
