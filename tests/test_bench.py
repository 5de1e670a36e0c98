"""`vst.bench` reports every documented key with sane values."""

import json
import subprocess
import sys

from vst import bench
from tests.conftest import tiny_config

KEYS = ("params", "gflops_per_clip", "compile_s", "fwd_clips_per_s",
        "train_clips_per_s", "peak_bytes", "matmul_fraction")


def test_bench_measures_a_tiny_config():
  result = bench.bench(tiny_config(), runs=1, reference=False)
  for key in KEYS:
    assert result[key] > 0, key
  assert 0 < result["matmul_fraction"] < 1
  assert "train_clips_per_s" in bench.format_result(result)


def test_bench_data_compares_input_with_train_step():
  config = tiny_config()
  result = bench.data_throughput(config, train_clips_per_s=1e9, batches=1)
  assert result["data_clips_per_s"] > 0
  # No input pipeline feeds a billion clips/s: the input is the bottleneck.
  assert result["bottleneck"] == "input" and result["data_over_train"] < 1
  assert bench.data_throughput(config, 1e-9, 1)["bottleneck"] == "model"


def test_bench_cli_writes_json_and_fails_in_one_line(tmp_path):
  out = tmp_path / "bench.json"
  proc = subprocess.run(
      [sys.executable, "-m", "vst.bench", "--config=configs/vivit_synthetic.py",
       "--config.train.batch_size=2", "--runs=1", "--noreference", "--data",
       "--data_batches=1", f"--json={out}"], capture_output=True, text=True, check=False)
  assert proc.returncode == 0, proc.stderr[-2000:]
  assert set(KEYS) | {"data_clips_per_s", "bottleneck"} <= set(
      json.loads(out.read_text()))
  proc = subprocess.run(
      [sys.executable, "-m", "vst.bench", "--config=configs/vivit_synthetic.py",
       "--config.dataset.num_frames=7"], capture_output=True, text=True,
      check=False)
  assert proc.returncode == 2
  assert proc.stderr.strip().splitlines()[-1].startswith(
      "error: dataset.num_frames=7"), proc.stderr[-2000:]
