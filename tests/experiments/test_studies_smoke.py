"""Each study in experiments/ runs end to end in smoke mode.

The studies themselves take hours; these tests run their `--smoke` mode (2
steps, one seed, 4×16² clips, a subset of the arms: `SMOKE_ARMS` of each
study) in-process, so one process's compiles and imports serve both, and
check that every table and plot the full study writes exists, with one row
per arm and finite numbers. Every arm of the full studies is checked more
cheaply: its config must build and pass the trainer's validation.
"""

import csv
import importlib.util
import math
import pathlib
import sys

import pytest

EXPERIMENTS = pathlib.Path(__file__).resolve().parents[2] / "experiments"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _on_path() -> None:
  """The studies import their helpers (arms, runner, ...) from their own
  folder, as they do when run as scripts or notebooks."""
  if str(EXPERIMENTS) not in sys.path:
    sys.path.insert(0, str(EXPERIMENTS))


def _load(name: str):
  """A fresh copy of the study `experiments/<name>.py`."""
  _on_path()
  spec = importlib.util.spec_from_file_location(name,
                                                EXPERIMENTS / f"{name}.py")
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


def _helper(name: str):
  """The helper module the studies themselves import (one shared copy)."""
  _on_path()
  return importlib.import_module(name)


def _csv(path: pathlib.Path) -> list[dict]:
  with open(path, newline="") as f:
    return list(csv.DictReader(f))


def _md_rows(path: pathlib.Path, first_cells) -> list[str]:
  lines = path.read_text().splitlines()
  return [line for line in lines for c in first_cells
          if line.startswith(f"| {c} |")]


def _assert_finite(rows, columns):
  for row in rows:
    for column in columns:
      assert math.isfinite(float(row[column])), (row["arm"], column, row)


def _assert_png(path: pathlib.Path):
  assert path.exists(), path
  assert path.read_bytes()[:8] == PNG_MAGIC, path


RESULT_NUMBERS = ("accuracy", "accuracy_spread", "gflops_per_clip", "params",
                  "peak_train_mib", "train_clips_per_s")


def _smoke_args(tmp_path):
  return ["--smoke", f"--out={tmp_path / 'out'}", f"--runs={tmp_path / 'runs'}"]


def _run_smoke(name: str, tmp_path):
  """(study module, rows of its results.csv) after a smoke run; checks the
  rows name the smoke arms, have finite numbers and a markdown row each."""
  study = _load(name)
  assert study.main(_smoke_args(tmp_path)) == 0
  out = tmp_path / "out"
  rows = _csv(out / "results.csv")
  assert [r["arm"] for r in rows] == list(study.SMOKE_ARMS)
  _assert_finite(rows, RESULT_NUMBERS)
  assert len(_md_rows(out / "results.md", study.SMOKE_ARMS)) == len(rows)
  return study, rows


def test_attention_factorisation_smoke(tmp_path):
  study, rows = _run_smoke("attention_factorisation", tmp_path)
  out = tmp_path / "out"
  assert all(0.0 <= float(r["accuracy"]) <= 1.0 for r in rows)

  curve = _csv(out / "cost_vs_frames.csv")
  frames = list(study.SMOKE_CURVE_FRAMES)
  assert [(r["arm"], int(r["frames"])) for r in curve] == [
      (a, t) for a in study.SMOKE_ARMS for t in frames]
  _assert_finite(curve, ("gflops_per_clip", "train_mib_batch1",
                         "train_mib_at_batch"))
  for arm in study.SMOKE_ARMS:  # Longer clips cost more compute.
    gflops = [float(r["gflops_per_clip"]) for r in curve if r["arm"] == arm]
    assert gflops == sorted(gflops) and gflops[0] < gflops[-1]
  # The table's memory is the curve's point at the study's clip length.
  smoke_t = [r for r in curve if int(r["frames"]) == frames[0]]
  assert [float(r["train_mib_at_batch"]) for r in smoke_t] == pytest.approx(
      [float(r["peak_train_mib"]) for r in rows])
  for png in ("accuracy_vs_gflops", "gflops_vs_frames", "memory_vs_frames"):
    _assert_png(out / f"{png}.png")

  # Rerunning resumes: finished arms are read back, not retrained.
  summary = tmp_path / "runs" / study.SMOKE_ARMS[0] / "seed0" / "summary.json"
  stamp = summary.stat().st_mtime_ns
  assert study.main(_smoke_args(tmp_path)) == 0
  assert summary.stat().st_mtime_ns == stamp
  assert _csv(out / "results.csv") == rows
  # --replot redraws everything from results.json alone.
  (out / "memory_vs_frames.png").unlink()
  assert study.main(_smoke_args(tmp_path) + ["--replot"]) == 0
  assert _csv(out / "results.csv") == rows
  assert _csv(out / "cost_vs_frames.csv") == curve
  _assert_png(out / "memory_vs_frames.png")


def test_fusion_in_time_smoke(tmp_path):
  study, rows = _run_smoke("fusion_in_time", tmp_path)
  out = tmp_path / "out"
  lessons = _csv(out / "lessons.csv")
  assert len(lessons) == len(study.lessons([]))
  single = [row for row in lessons if row["lesson"].startswith("single frame")]
  assert single[0]["reproduced"] in ("yes", "no")  # single_frame was run.
  assert {row["reproduced"] for row in lessons} <= {
      "yes", "no", "yes (within seed spread)", "no (within seed spread)",
      "not measured"}
  for png in ("accuracy", "accuracy_vs_gflops"):
    _assert_png(out / f"{png}.png")


def test_lesson_verdicts_follow_the_numbers():
  study = _load("fusion_in_time")
  row = lambda arm, acc, spread=0.0: dict(arm=arm, accuracy=acc,
                                          accuracy_spread=spread)
  verdicts = {v["lesson"].split(" (")[0]: v["reproduced"] for v in
              study.lessons([row("single_frame", 0.13),
                             row("early_fusion", 0.4, 0.01),
                             row("late_fusion", 0.2, 0.01),
                             row("two_stream_rgb", 0.1),
                             row("two_stream_flow", 0.8, 0.05),
                             row("two_stream_fused", 0.78, 0.05)])}
  assert verdicts["single frame is near chance on motion-only classes"] == "yes"
  assert verdicts["early fusion beats late fusion"] == "yes"
  assert verdicts["flow alone beats RGB alone on motion"] == "yes"
  assert verdicts["two-stream fusion ≥ each stream"] == (
      "no (within seed spread)")
  assert verdicts["slow fusion beats early fusion"] == "not measured"


@pytest.mark.parametrize("name", ["attention_factorisation", "fusion_in_time",
                                  "long_range"])
def test_every_arm_of_the_full_study_validates(name):
  from vst import validate  # pylint: disable=g-import-not-at-top
  study = _load(name)
  arms = _helper("arms")
  if hasattr(study, "register_grid_patterns"):
    study.register_grid_patterns()
  for arm in study.ARMS:
    config = arms.arm_config(arm, steps=None, seed=0)
    assert config.train.num_steps == 600, arm.name  # The shared budget.
    validate.check_config(config)


def test_long_range_smoke(tmp_path):
  study, rows = _run_smoke("long_range", tmp_path)
  out = tmp_path / "out"
  # One row per (model, T); the ceiling is the dataset's, and longer clips
  # cost each model more compute.
  assert [int(r["frames"]) for r in rows] == [
      int(a.rsplit("_T", 1)[1]) for a in study.SMOKE_ARMS]
  for row in rows:
    assert float(row["ceiling"]) == study.ceiling(int(row["frames"]),
                                                  study.SMOKE_VIDEO_FRAMES)
  models = {r["arm"].rsplit("_T", 1)[0] for r in rows}
  for model in models:
    gflops = [float(r["gflops_per_clip"]) for r in rows
              if r["arm"].startswith(f"{model}_T")]
    assert gflops == sorted(gflops) and gflops[0] < gflops[-1]
  for png in ("accuracy_vs_frames", "gflops_vs_frames", "memory_vs_frames"):
    _assert_png(out / f"{png}.png")


def test_update_merges_rerun_arms_into_the_saved_rows():
  runner = _helper("runner")
  arms = [_helper("arms").Arm(name=n, model="convlstm") for n in "abc"]
  saved = [{"arm": "a", "seeds": 1}, {"arm": "c", "seeds": 1}]
  measured = [{"arm": "c", "seeds": 3}, {"arm": "b", "seeds": 3}]
  merged_arms, rows = runner.merge_rows(arms, saved, measured)
  # Study order; the rerun arm replaces its old row, the new one joins.
  assert [a.name for a in merged_arms] == ["a", "b", "c"]
  assert rows == [{"arm": "a", "seeds": 1}, {"arm": "b", "seeds": 3},
                  {"arm": "c", "seeds": 3}]
  with pytest.raises(SystemExit, match=r"\['gone'\]"):
    runner.merge_rows(arms, [{"arm": "gone"}], measured)


def test_update_without_saved_results_stops_before_training(tmp_path):
  study = _load("long_range")
  with pytest.raises(SystemExit, match="--update: no .*results.json"):
    study.main(_smoke_args(tmp_path) + ["--update"])


def test_long_range_vtn_arm_keeps_the_papers_per_frame_backbone():
  """configs/vtn_synthetic.py trains 2-frame tubelets; the study's VTN does
  not, so its recorded rows stay the paper's model."""
  study, arms = _load("long_range"), _helper("arms")
  arm = next(a for a in study.ARMS if a.name == "vtn_T8")
  c = arms.arm_config(arm, steps=10, seed=0)
  assert (c.model.tubelet_frames, c.train.b2) == (1, 0.999)
