"""The model table measures published rows and survives unregistered models."""

import json

import pytest

from tests.conftest import tiny_config
from vst.tools import model_table
from vst.tools import train_memory

REQUIRED_KEYS = {"name", "variant", "input", "params", "gflops_per_clip",
                 "published_params", "published_gflops", "params_rel_err",
                 "gflops_rel_err"}


def test_published_rows_have_the_documented_fields():
  for row in model_table.load_rows():
    assert set(row) == {"name", "variant", "overrides", "input", "in_channels",
                        "num_classes", "published_params", "published_gflops",
                        "source", "note"}, row
    assert len(row["input"]) == 3


def test_single_frame_rows_measure_and_write_json(tmp_path, capsys):
  out = tmp_path / "table.json"
  assert model_table.main(["--names", "single_frame", "--json", str(out)]) == 0
  assert "single_frame" in capsys.readouterr().out
  rows = json.loads(out.read_text())
  assert rows and all(r["name"] == "single_frame" for r in rows)
  for row in rows:
    assert REQUIRED_KEYS <= set(row)
    assert row["status"] == "ok"
  paper = next(r for r in rows if r["variant"] == "paper")
  assert paper["input"] == [1, 170, 170]
  assert paper["params"] == pytest.approx(60.3e6, rel=0.01)
  assert paper["gflops_per_clip"] == pytest.approx(1.13, rel=0.01)
  assert abs(paper["params_rel_err"]) < 0.01


def test_unregistered_model_is_reported_not_crashed_on(tmp_path, capsys):
  published = tmp_path / "published.json"
  published.write_text(json.dumps([{
      "name": "no_such_model", "variant": "base", "overrides": {},
      "input": [8, 112, 112], "in_channels": 3, "num_classes": 400,
      "published_params": 1e6, "published_gflops": None, "source": "M",
      "note": ""}]))
  out = tmp_path / "table.json"
  assert model_table.main(["--published", str(published), "--markdown",
                           "--json", str(out)]) == 0
  printed = capsys.readouterr().out
  assert printed.startswith("| model")
  assert "not registered" in printed
  (row,) = json.loads(out.read_text())
  assert row["params"] is None and row["status"] == "not registered"


def test_train_memory_extrapolates_to_a_directly_compiled_batch():
  """fixed + B·per_clip from batches 2 and 4 predicts the compiled step's
  memory at batch 8 (XLA's memory analysis, as bench reports it)."""
  config = tiny_config()
  shape = (4, 16, 16, 3)
  m = train_memory.train_memory(config, shape, 8)
  direct = train_memory.step_bytes(config, shape, 8)
  assert m.per_clip_bytes > 0 and m.fixed_bytes > 0
  assert m.total_bytes == pytest.approx(direct, rel=0.1)


def test_memory_column_comes_from_the_measured_file(tmp_path, capsys,
                                                    monkeypatch):
  """--memory measures rows that have a paper config, with that config's
  batch and optimizer, into the file; the table shows them; a row without a
  paper config stays blank. (The measurement itself is tested above.)"""
  seen = []

  def fake_memory(config, shape, batch_size):
    seen.append((config.model.name, config.train.optimizer, shape, batch_size))
    return train_memory.TrainMemory(2**30, 2**29, batch_size, (2, 4), "cpu")

  monkeypatch.setattr(train_memory, "train_memory", fake_memory)
  published = tmp_path / "published.json"
  row = {"name": "vivit", "variant": "tiny", "overrides": {},
         "input": [4, 16, 16], "in_channels": 3, "num_classes": 4,
         "published_params": None, "published_gflops": None, "source": "M",
         "note": ""}
  published.write_text(json.dumps([row, {**row, "name": "single_frame",
                                         "input": [1, 16, 16]}]))
  memory_file = tmp_path / "memory.json"
  assert model_table.main(["--published", str(published), "--memory",
                           "--memory_file", str(memory_file)]) == 0
  # configs/vivit_k400.py: batch 64, SGD with momentum (Scenic's recipe).
  assert seen == [("vivit", "sgd", (4, 16, 16, 3), 64)]
  (measured,) = json.loads(memory_file.read_text()).values()
  assert measured["total_bytes"] == 2**30 + 64 * 2**29
  lines = capsys.readouterr().out.splitlines()
  assert "33.0 @ 64" in next(l for l in lines if l.startswith("vivit"))
  assert "@" not in next(l for l in lines if l.startswith("single_frame"))
