"""`vst.bench` reports every documented key with sane values."""

import importlib.util
import json
import pathlib
import subprocess
import sys

import jax
import pytest

from vst import bench
from vst import train as train_lib
from vst.errors import ConfigError
from tests.conftest import tiny_config

KEYS = ("params", "gflops_per_clip", "compile_s", "fwd_clips_per_s",
        "train_clips_per_s", "peak_bytes", "matmul_fraction")


def _kinetics_config():
  spec = importlib.util.spec_from_file_location(
      "vivit_k400", pathlib.Path(__file__).parent.parent / "configs/vivit_k400.py")
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module.get_config()


def test_bench_measures_a_tiny_config_without_its_data():
  """A Kinetics config with no files here (tiny model, small clips) runs on
  random inputs of its shapes with its own 400 classes."""
  config = _kinetics_config()
  config.model.variant = "tiny"
  config.dataset.num_frames, config.dataset.crop_size = 4, 16
  config.train.batch_size = 8
  result = bench.bench(config, runs=1, reference=False)
  for key in KEYS:
    assert result[key] > 0, key
  assert 0 < result["matmul_fraction"] < 1
  assert "train_clips_per_s" in bench.format_result(result)
  model, tx, _ = train_lib.build(config)
  params = train_lib.abstract_state(config, model, tx).params
  assert result["params"] == sum(x.size for x in jax.tree.leaves(params))


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


def test_a_config_is_sized_without_its_data():
  """No Kinetics files here: the checks that sizing needs pass, the 400-class
  factorised encoder has its 115.06M parameters, and a bad field is still
  refused."""
  config = _kinetics_config()
  assert not config.dataset.data_dir
  bench.check_config_for_sizing(config)
  model, tx, _ = train_lib.build(config)
  params = train_lib.abstract_state(config, model, tx).params
  assert sum(x.size for x in jax.tree.leaves(params)) == 115062928
  config.dataset.num_frames = 7
  with pytest.raises(ConfigError, match="dataset.num_frames=7"):
    bench.check_config_for_sizing(config)
