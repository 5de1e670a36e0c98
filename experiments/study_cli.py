"""The command line every study shares: its flags, and what they select
(output folders, arms, seeds)."""

import argparse
import pathlib
import sys
from typing import Sequence

from arms import Arm, SMOKE_CROP, SMOKE_FRAMES, SMOKE_STEPS, SMOKE_TEST_SIZE

_EXPERIMENTS = pathlib.Path(__file__).resolve().parent
RESULTS = _EXPERIMENTS / "results"
# Checkpoints and TensorBoard logs are large and not results: they go under
# the git-ignored workdirs/ unless --runs says otherwise.
RUNS = _EXPERIMENTS.parent / "workdirs" / "experiments"


def argument_parser(study: str, description: str) -> argparse.ArgumentParser:
  """The flags every study takes; a study adds its own."""
  p = argparse.ArgumentParser(prog=f"experiments/{study}.py",
                              description=description)
  p.add_argument("--smoke", action="store_true",
                 help=f"{SMOKE_STEPS} steps, one seed, {SMOKE_FRAMES}×"
                 f"{SMOKE_CROP}² clips, test_size {SMOKE_TEST_SIZE}, a subset "
                 "of the arms: checks that the study runs end to end")
  p.add_argument("--scale", choices=("synthetic", "paper"),
                 default="synthetic",
                 help="paper: each arm at its paper config's model variant, "
                 "clip length, resolution and batch (for an accelerator)")
  p.add_argument("--steps", type=int, default=None,
                 help="train steps per run (default: the shared recipe's, "
                 f"{SMOKE_STEPS} in smoke mode)")
  p.add_argument("--seeds", type=int, default=3,
                 help="seeds per arm (train.seed = 0 .. N-1)")
  p.add_argument("--arms", default="",
                 help="comma-separated arm names to run (default: all)")
  p.add_argument("--out", default="",
                 help=f"results folder (default experiments/results/{study}"
                 "[_smoke|_paper])")
  p.add_argument("--runs", default="",
                 help=f"root of the run workdirs (default workdirs/experiments/"
                 f"{study}[_smoke|_paper])")
  p.add_argument("--update", action="store_true",
                 help="run only the arms --arms selects and keep every other "
                 "arm's row from the results folder's results.json (one arm "
                 "rerun with more seeds without rerunning the study)")
  p.add_argument("--replot", action="store_true",
                 help="rewrite the tables and plots from the results folder's "
                 "results.json, running and compiling nothing")
  return p


def output_dirs(args, study: str) -> tuple[pathlib.Path, pathlib.Path]:
  """(results folder, runs root) for the mode; smoke and paper runs never
  mix with (and so never resume from) the synthetic-scale ones."""
  suffix = "_smoke" if args.smoke else ("_paper" if args.scale == "paper"
                                        else "")
  out = pathlib.Path(args.out) if args.out else RESULTS / f"{study}{suffix}"
  runs = pathlib.Path(args.runs) if args.runs else RUNS / f"{study}{suffix}"
  out.mkdir(parents=True, exist_ok=True)
  runs.mkdir(parents=True, exist_ok=True)
  return out, runs


def select_arms(arms: Sequence[Arm], names: str,
                default: Sequence[str] = ()) -> list[Arm]:
  """The arms named in `names` (comma-separated), else `default`, else all;
  unknown names stop the study before anything runs."""
  wanted = [n for n in names.split(",") if n] or list(default)
  if not wanted:
    return list(arms)
  by_name = {a.name: a for a in arms}
  unknown = [n for n in wanted if n not in by_name]
  if unknown:
    raise SystemExit(f"error: unknown arm(s) {unknown}; valid: "
                     f"{sorted(by_name)}")
  return [by_name[n] for n in wanted]


def seeds_of(args) -> list[int]:
  """Seeds 0..N-1; smoke mode runs one."""
  return [0] if args.smoke else list(range(max(1, args.seeds)))


def in_notebook() -> bool:
  """Whether the study runs as cells in Jupyter (its argv is the kernel's)."""
  return "ipykernel" in sys.modules
