"""`python -m vst.tools.train_memory` sizes a config's train step per device on
a mesh it does not have, from XLA's memory analysis, with no data."""

import json
import subprocess
import sys

import pytest

from tests.conftest import synthetic_config_of
from vst.tools import sharding as sharding_tool

TINY = ("--config=configs/vivit_synthetic.py", "--config.model.variant=tiny",
        "--config.dataset.num_frames=4", "--config.dataset.crop_size=16",
        "--config.train.batch_size=8")


def _run(*args):
  return subprocess.run(
      [sys.executable, "-m", "vst.tools.train_memory", *args],
      capture_output=True, text=True, timeout=600, check=False)


def test_fsdp_on_four_simulated_devices(tmp_path):
  out = tmp_path / "memory.json"
  proc = _run(*TINY, "--mesh=data:4", "--config.mesh.param_sharding=fsdp",
              f"--json={out}")
  assert proc.returncode == 0, proc.stderr[-2000:]
  result = json.loads(out.read_text())
  assert result["mesh"] == {"data": 4, "model": 1}
  # One clip per data shard, then two.
  assert result["measured_batches"] == [4, 8]
  assert result["fixed_bytes"] > 0 and result["per_clip_bytes"] > 0
  assert result["total_bytes"] == pytest.approx(
      result["fixed_bytes"] + 8 * result["per_clip_bytes"])
  # Params + grads + optimizer state, a quarter of each on each device.
  config = synthetic_config_of("vivit", "tiny")  # TINY's config
  config.dataset.num_frames, config.dataset.crop_size = 4, 16
  _, whole = sharding_tool.rows(config, {"data": 1, "model": 1})
  config.mesh.param_sharding = "fsdp"
  _, split = sharding_tool.rows(config, {"data": 4, "model": 1})
  assert result["state_bytes"] == split["total"] < whole["total"] / 2
  assert "total per device" in proc.stdout and "fixed per device" in proc.stdout


def test_a_mesh_that_does_not_fit_the_devices_is_one_line():
  proc = _run(*TINY, "--mesh=data:3", "--devices=8")
  assert proc.returncode == 2
  errors = [l for l in proc.stderr.splitlines() if l.startswith("error:")]
  assert len(errors) == 1 and "--mesh=data:3 is 3 devices but --devices=8" in errors[0]
