"""Running a study's arms: each trained once per seed through `vst.main.run`
(an arm whose `summary.json` exists is read back instead of retrained) and
measured into one row of the results table.

Every number in a row is read from a run or a compile: test accuracy and
train clips/s from the run's summary, params, GMACs and memory from `costs`.
"""

import json
import math
import pathlib
from typing import Callable, Iterable, Sequence

import numpy as np

import costs
import results_file
import study_cli
from arms import Arm, arm_config


def run_arm(config, workdir: pathlib.Path) -> dict:
  """`vst.main.run(config, workdir)`'s summary; read back if already there.

  A run interrupted before its summary resumes from its last checkpoint (the
  trainer's own resume), so rerunning a study finishes it.
  """
  summary_path = workdir / "summary.json"
  if summary_path.exists():
    with open(summary_path) as f:
      return json.load(f)
  from vst import main as vst_main  # pylint: disable=g-import-not-at-top
  workdir.mkdir(parents=True, exist_ok=True)
  return vst_main.run(config, str(workdir))


def measure_arm(arm: Arm, *, seeds: Iterable[int], steps: int | None,
                runs_root: pathlib.Path, smoke: bool, scale: str,
                log: Callable[[str], None] = print) -> dict:
  """Trains `arm` once per seed and measures its cost once.

  Returns one row: per-seed accuracies, their mean and spread, params and
  GMACs (`vst.train.model_cost`, as the run's summary reports them), peak
  train-step memory at the run's batch, mean train clips/s.
  """
  from vst.train import NonFiniteLossError  # pylint: disable=g-import-not-at-top
  accuracies, clips_per_s, diverged = [], [], []
  config = None
  for seed in seeds:
    config = arm_config(arm, steps=steps, seed=seed, smoke=smoke, scale=scale)
    workdir = runs_root / arm.name / f"seed{seed}"
    log(f"[{arm.name}] seed {seed}: {workdir}")
    try:
      summary = run_arm(config, workdir)
    except NonFiniteLossError as e:
      # One diverging seed must not end a study of hours: it is counted and
      # named in the row, and the mean is over the seeds that finished.
      log(f"[{arm.name}] seed {seed} diverged: {e}")
      diverged.append(seed)
      continue
    accuracies.append(float(summary["accuracy"]))
    clips_per_s.append(float(summary["train_clips_per_s"]))
  params, gflops = costs.model_cost(config)
  memory = costs.memory_at_batch(config, int(config.train.batch_size))
  mean, spread = mean_spread(accuracies)
  note = arm.note
  if diverged:
    note = "; ".join(filter(None, [note, f"diverged (NaN loss): seeds "
                                   f"{diverged}, not in the mean"]))
  return {
      "arm": arm.name,
      "model": f"{arm.model}/{config.model.variant}",
      "accuracy": mean,
      "accuracy_spread": spread,
      "accuracy_std": float(np.std(accuracies)) if accuracies else math.nan,
      "seeds": len(accuracies),
      "accuracy_per_seed": " ".join(f"{a:.4f}" for a in accuracies),
      "params": int(params),
      "gflops_per_clip": float(gflops),
      "peak_train_mib": memory["batch_bytes"] / costs.MIB,
      "batch_size": int(config.train.batch_size),
      "train_clips_per_s": (float(np.nanmean(clips_per_s)) if clips_per_s
                            else math.nan),
      "steps": int(config.train.num_steps),
      "input": input_description(config),
      "note": note,
  }


def input_description(config) -> str:
  d = config.dataset
  return f"{d.name} {d.num_frames}×{d.crop_size}²"


def mean_spread(values: Sequence[float]) -> tuple[float, float]:
  """Mean and half the range, (max − min)/2: with 3 seeds a spread that
  says what was seen, where a standard deviation would be a guess."""
  if not values:
    return math.nan, math.nan
  v = np.asarray(values, dtype=float)
  return float(v.mean()), float((v.max() - v.min()) / 2)


def run_arms(args, study: str, arms: Sequence[Arm],
             smoke_arms: Sequence[str]):
  """(out dir, runs dir, the arms run, one measured row per arm) of a
  study's command line: the arms --arms (or smoke mode) selects, each
  trained for every seed and measured (`measure_arm`); with --replot, the
  rows of the last results.json; with --update, the measured rows merged
  into it (`merge_rows`)."""
  out, runs = study_cli.output_dirs(args, study)
  if args.replot:
    rows = results_file.saved_results(out)["results"]
    by_name = {a.name: a for a in arms}
    return out, runs, [by_name[r["arm"]] for r in rows], rows
  all_arms = arms
  arms = study_cli.select_arms(arms, args.arms,
                               smoke_arms if args.smoke else ())
  # Read before anything trains, so a missing file fails in seconds.
  kept = (results_file.saved_results(out, "--update")["results"]
          if args.update else [])
  seeds = study_cli.seeds_of(args)
  rows = [measure_arm(arm, seeds=seeds, steps=args.steps, runs_root=runs,
                      smoke=args.smoke, scale=args.scale) for arm in arms]
  if args.update:
    arms, rows = merge_rows(all_arms, kept, rows)
  return out, runs, arms, rows


def merge_rows(arms: Sequence[Arm], saved: Sequence[dict],
               measured: Sequence[dict]) -> tuple[list[Arm], list[dict]]:
  """(arms, rows) of the saved rows with the measured ones replacing (or
  joining) those of the same arm, in the study's arm order."""
  by_name = {r["arm"]: r for r in saved}
  by_name.update({r["arm"]: r for r in measured})
  unknown = sorted(set(by_name) - {a.name for a in arms})
  if unknown:
    raise SystemExit(f"error: --update: results.json has arms {unknown} "
                     "that the study no longer defines; rerun it in full")
  merged = [a for a in arms if a.name in by_name]
  return merged, [by_name[a.name] for a in merged]
