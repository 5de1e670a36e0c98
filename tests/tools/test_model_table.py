"""The model table measures published rows and survives unregistered models."""

import json

import pytest

from vst.tools import model_table

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
