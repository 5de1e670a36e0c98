"""The harness every study in `experiments/` shares.

A study is a list of *arms* (one model configuration each) trained on the
shared `synthetic_motion` recipe, each over several seeds, and measured the
same way: test accuracy from `vst.main.run`'s summary, conv/linear/matmul
GMACs from `vst.train.model_cost` (the papers' "GFLOPs", reported by the run
itself), peak train-step memory from XLA's memory analysis of the compiled
step (`vst.bench.peak_bytes`, a compile and nothing more), and train clips/s
from the run. Nothing in a table is typed in: every number is read from a run
or a compile this harness performs.

The functions are small on purpose, so that a study reads as a notebook:
build the arms' configs, run them (resuming: an arm whose `summary.json`
exists is read back instead of retrained), aggregate seeds, write tables and
plots.
"""

import argparse
import csv
import dataclasses
import functools
import importlib.util
import json
import math
import os
import pathlib
import sys
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np

REPO = pathlib.Path(__file__).resolve().parent.parent
CONFIGS = REPO / "configs"
RESULTS = pathlib.Path(__file__).resolve().parent / "results"
# Checkpoints and TensorBoard logs are large and not results: they go under
# the git-ignored workdirs/ unless --runs says otherwise.
RUNS = REPO / "workdirs" / "experiments"

# Smoke mode: enough to exercise every code path of a study in seconds.
SMOKE_FRAMES = 4
SMOKE_CROP = 16
SMOKE_TEST_SIZE = 32
SMOKE_BATCH = 8
SMOKE_STEPS = 2
# Smoke mode checks the pipeline, not the model: transformers keep one block
# per encoder, which makes their compiles (most of a smoke run) ~3× faster.
SMOKE_MODEL = {"num_layers": 1, "temporal_layers": 1}

GIB = 1024 ** 3
MIB = 1024 ** 2


@dataclasses.dataclass(frozen=True)
class Arm:
  """One configuration of a study.

  Attributes:
    name: row label and workdir name (no slashes).
    model: `model.name`; `configs/<model>_synthetic.py` is the starting config
      when it exists (else the shared recipe, `synthetic_config`).
    variant: `model.variant`, replaced by the paper config's at --scale=paper.
    overrides: dotted config fields ("model.fusion", "dataset.modalities")
      and their values, applied after the base config; a misspelt field
      raises, since the config is locked.
    note: how the arm differs from the paper's setting, when it does; it goes
      into the table so a reader sees it next to the number.
    num_frames: the clip length T, set last (over smoke mode's and the paper
      config's): for studies whose variable is T.
  """
  name: str
  model: str
  variant: str = "tiny"
  overrides: Mapping[str, Any] = dataclasses.field(default_factory=dict)
  note: str = ""
  num_frames: int | None = None


# ----------------------------------------------------------------------------
# Command line shared by the studies.
# ----------------------------------------------------------------------------

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


def in_notebook() -> bool:
  """Whether the study runs as cells in Jupyter (its argv is the kernel's)."""
  return "ipykernel" in sys.modules


# ----------------------------------------------------------------------------
# Configs.
# ----------------------------------------------------------------------------

def _load_config_file(path: pathlib.Path):
  spec = importlib.util.spec_from_file_location(path.stem, path)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module.get_config()


def base_config(model: str, variant: str):
  """`configs/<model>_synthetic.py`'s config, else the shared recipe.

  The per-model config files hold what a model needs on synthetic_motion
  (the streams dataset of two_stream and tsn, ViViT's from-scratch head and
  tubelet init), so an arm starts from them; the study then resets the
  budget so that every arm trains for the same steps.
  """
  from vst.config_base import synthetic_config  # pylint: disable=g-import-not-at-top
  path = CONFIGS / f"{model}_synthetic.py"
  c = _load_config_file(path) if path.exists() else synthetic_config(
      model, variant)
  c.model.variant = variant
  return c


@functools.cache
def paper_setting(model: str) -> dict:
  """Variant, clip shape and batch of `model`'s paper config
  (configs/<model>_k400.py, else _ucf101.py)."""
  for suffix in ("k400", "ucf101"):
    path = CONFIGS / f"{model}_{suffix}.py"
    if path.exists():
      c = _load_config_file(path)
      return dict(variant=c.model.variant, num_frames=c.dataset.num_frames,
                  crop_size=c.dataset.crop_size,
                  batch_size=c.train.batch_size, source=path.name)
  raise SystemExit(f"error: --scale=paper: no configs/{model}_k400.py or "
                   f"configs/{model}_ucf101.py gives {model}'s paper size")


def set_field(config, dotted: str, value) -> None:
  """config.<dotted> = value; raises a readable error on a misspelt field."""
  *path, leaf = dotted.split(".")
  node = config
  for key in path:
    node = node[key]
  try:
    node[leaf] = value
  except (AttributeError, KeyError) as e:
    raise SystemExit(f"error: arm override {dotted}={value!r}: {e}") from e


def arm_config(arm: Arm, *, steps: int | None, seed: int, smoke: bool = False,
               scale: str = "synthetic"):
  """The config of one (arm, seed) run.

  Every arm gets the shared recipe's budget (steps × batch of clips, AdamW,
  cosine with warmup), evaluated once at the end, so differences between arms
  are the arms'. `steps=None` keeps the recipe's 600 (not a model config's own
  longer schedule: the budget must match).
  """
  variant = arm.variant
  paper = paper_setting(arm.model) if scale == "paper" else None
  if paper:
    variant = paper["variant"]
  c = base_config(arm.model, variant)
  for dotted, value in arm.overrides.items():
    set_field(c, dotted, value)
  from vst.config_base import synthetic_config  # pylint: disable=g-import-not-at-top
  recipe = synthetic_config(arm.model, variant).train
  c.train.num_steps = int(steps if steps is not None else
                          SMOKE_STEPS if smoke else recipe.num_steps)
  c.train.seed = int(seed)
  c.train.warmup_steps = min(int(recipe.warmup_steps), c.train.num_steps // 10)
  c.train.eval_every_steps = 0
  c.checkpoint.every_steps = max(1, min(200, c.train.num_steps))
  if paper:
    c.dataset.num_frames = paper["num_frames"]
    c.dataset.crop_size = paper["crop_size"]
    c.train.batch_size = paper["batch_size"]
  if smoke:
    c.dataset.num_frames = SMOKE_FRAMES
    c.dataset.crop_size = SMOKE_CROP
    c.dataset.test_size = SMOKE_TEST_SIZE
    c.train.batch_size = SMOKE_BATCH
    c.eval.batch_size = SMOKE_TEST_SIZE
    # One window per step, so the throughput of step 2 (the first one after
    # compilation) is measured.
    c.train.log_every_steps = 1
    for field, value in SMOKE_MODEL.items():
      if field in c.model:
        c.model[field] = value
    _fit_snippets(c)
  if arm.num_frames is not None:
    c.dataset.num_frames = int(arm.num_frames)
  return c


def _fit_snippets(config) -> None:
  """Shortens the flow stacks of a segment-sampled dataset to fit the smoke
  clip: K segments of L+1 frames need K·(L+1) ≤ T. The model's `new_length`
  (its flow input channels) follows the dataset's."""
  d = config.dataset
  if "new_length" not in d or "num_segments" not in d:
    return
  longest = d.num_frames // d.num_segments - 1
  if d.new_length > longest:
    if longest < 1:
      raise SystemExit(f"error: {d.num_segments} segments do not fit in "
                       f"{d.num_frames} smoke frames")
    d.new_length = longest
    if "new_length" in config.model:
      config.model.new_length = longest


# ----------------------------------------------------------------------------
# Running and measuring.
# ----------------------------------------------------------------------------

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


def train_step_bytes(config, batch_size: int) -> int:
  """Peak device bytes of the compiled train step at `batch_size`, for the
  config's own input spec (multi-stream models included): compiles,
  allocates nothing (`vst.tools.train_memory.step_bytes`)."""
  from vst.tools import train_memory  # pylint: disable=g-import-not-at-top
  config = config.copy_and_resolve_references()
  config.train.grad_accum_steps = 1
  return train_memory.step_bytes(config, None, batch_size)


def model_cost(config) -> tuple[int, float]:
  """(params, GMACs per clip) through `vst.train.model_cost`: tracing only."""
  from vst import train as train_lib  # pylint: disable=g-import-not-at-top
  model, _, _ = train_lib.build(config)
  return train_lib.model_cost(config, model)


def memory_at_batch(config, batch_size: int) -> dict:
  """Train-step memory at `batch_size` from compiles at batches 1 and 2.

  Activations grow linearly in the batch, parameters and optimizer state do
  not (`vst.tools.train_memory`), so M(B) = fixed + B·per_clip follows from
  two small compiles even where batch B would not fit anywhere. The result is
  cached by the config's content (the seed aside, which changes no shape), so
  a study's table and its cost curve share the compiles of the point they
  have in common.
  """
  key = _shape_key(config)
  if key not in _MEMORY_CACHE:
    m1 = train_step_bytes(config, 1)
    m2 = train_step_bytes(config, 2)
    _MEMORY_CACHE[key] = (m1, m2 - m1)
  m1, per_clip = _MEMORY_CACHE[key]
  fixed = m1 - per_clip
  return dict(batch1_bytes=m1, per_clip_bytes=per_clip, fixed_bytes=fixed,
              batch_bytes=fixed + batch_size * per_clip)


_MEMORY_CACHE: dict[str, tuple[int, int]] = {}


def _shape_key(config) -> str:
  """What the train step's program depends on: the model, the input, the
  optimizer (not the seed, the step count or the schedule's length)."""
  c = config.copy_and_resolve_references()
  return json.dumps([c.model.to_dict(), c.dataset.to_dict(),
                     c.train.optimizer, c.model.get("dtype", "")],
                    sort_keys=True, default=str)


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
  params, gflops = model_cost(config)
  memory = memory_at_batch(config, int(config.train.batch_size))
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
      "peak_train_mib": memory["batch_bytes"] / MIB,
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


# ----------------------------------------------------------------------------
# Tables and plots.
# ----------------------------------------------------------------------------

def _format(value, digits: int = 4) -> str:
  if isinstance(value, bool):
    return "yes" if value else "no"
  if isinstance(value, float):
    if math.isnan(value):
      return "n/a"
    return f"{value:.{digits}g}"
  return str(value)


def write_table(rows: Sequence[dict], columns: Sequence[str],
                path_stem: pathlib.Path, title: str = "",
                notes: Sequence[str] = ()) -> tuple[pathlib.Path, pathlib.Path]:
  """Writes `<stem>.csv` (full precision) and `<stem>.md` (4 significant
  digits, with a title and notes); returns both paths."""
  csv_path = path_stem.with_suffix(".csv")
  md_path = path_stem.with_suffix(".md")
  with open(csv_path, "w", newline="") as f:
    writer = csv.DictWriter(f, fieldnames=list(columns), extrasaction="ignore")
    writer.writeheader()
    for row in rows:
      writer.writerow({c: row.get(c, "") for c in columns})
  lines = [f"# {title}", ""] if title else []
  lines.append("| " + " | ".join(columns) + " |")
  lines.append("|" + "---|" * len(columns))
  for row in rows:
    lines.append("| " + " | ".join(_format(row.get(c, "")).replace("|", "\\|")
                                   for c in columns) + " |")
  if notes:
    lines.append("")
    lines.extend(f"* {n}" for n in notes)
  md_path.write_text("\n".join(lines) + "\n")
  return csv_path, md_path


def _pyplot():
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
  return plt


def plot_scatter(rows: Sequence[dict], x: str, y: str, path: pathlib.Path, *,
                 yerr: str = "", xlabel: str = "", ylabel: str = "",
                 title: str = "", chance: float | None = None,
                 logx: bool = False) -> pathlib.Path:
  """One labelled point per row (e.g. accuracy vs GFLOPs), error bars from
  `yerr`, a dashed chance line if given."""
  plt = _pyplot()
  fig, ax = plt.subplots(figsize=(7, 5))
  for i, row in enumerate(rows):
    err = row.get(yerr) if yerr else None
    ax.errorbar(row[x], row[y], yerr=err, fmt="osd^v"[i // 10 % 5],
                capsize=3)
    # Labels alternate above and below their points, so that two arms at
    # (nearly) the same point stay readable.
    ax.annotate(row["arm"], (row[x], row[y]), textcoords="offset points",
                xytext=(4, 4 if i % 2 == 0 else -11), fontsize=8)
  if chance is not None:
    ax.axhline(chance, ls="--", color="grey", lw=1, label="chance")
    ax.legend(loc="best")
  if logx:
    ax.set_xscale("log")
  ax.set_xlabel(xlabel or x)
  ax.set_ylabel(ylabel or y)
  ax.set_title(title)
  ax.grid(alpha=0.3)
  fig.tight_layout()
  fig.savefig(path, dpi=120)
  plt.close(fig)
  return path


def plot_bars(rows: Sequence[dict], y: str, path: pathlib.Path, *,
              yerr: str = "", ylabel: str = "", title: str = "",
              chance: float | None = None) -> pathlib.Path:
  """One bar per row, in row order."""
  plt = _pyplot()
  fig, ax = plt.subplots(figsize=(max(6, 0.6 * len(rows) + 2), 4.5))
  names = [r["arm"] for r in rows]
  values = [r[y] for r in rows]
  errs = [r.get(yerr, 0.0) for r in rows] if yerr else None
  ax.bar(range(len(rows)), values, yerr=errs, capsize=3)
  ax.set_xticks(range(len(rows)), names, rotation=45, ha="right", fontsize=8)
  if chance is not None:
    ax.axhline(chance, ls="--", color="grey", lw=1, label="chance")
    ax.legend(loc="best")
  ax.set_ylabel(ylabel or y)
  ax.set_title(title)
  ax.grid(axis="y", alpha=0.3)
  fig.tight_layout()
  fig.savefig(path, dpi=120)
  plt.close(fig)
  return path


def plot_curves(series: Mapping[str, Sequence[tuple[float, float]]],
                path: pathlib.Path, *, xlabel: str, ylabel: str,
                title: str = "", logy: bool = True,
                hline: float | None = None, hline_label: str = "",
                marked: Mapping[str, Sequence[tuple[float, float]]] = None,
                steps: Mapping[str, Sequence[tuple[float, float]]] = None
                ) -> pathlib.Path:
  """One line per series of (x, y) points; `marked` points (e.g. OOM) are
  drawn as red crosses on top; `steps` series (e.g. a bound known at every
  x) as dashed step lines that add no x ticks."""
  plt = _pyplot()
  fig, ax = plt.subplots(figsize=(7, 5))
  # Past the colour cycle's 10 colours, lines differ by style and marker.
  for i, (name, points) in enumerate(series.items()):
    if points:
      xs, ys = zip(*points)
      ax.plot(xs, ys, marker="osd^v"[i // 10 % 5],
              ls=("-", "--", ":")[i // 10 % 3], label=name)
  for name, points in (steps or {}).items():
    if points:
      xs, ys = zip(*points)
      ax.step(xs, ys, where="post", ls="--", color="black", lw=1, label=name)
  for name, points in (marked or {}).items():
    if points:
      xs, ys = zip(*points)
      ax.plot(xs, ys, "x", color="red", ms=9, mew=2)
  if hline is not None:
    ax.axhline(hline, ls="--", color="red", lw=1, label=hline_label)
  if logy:
    ax.set_yscale("log")
  ax.set_xscale("log", base=2)
  ticks = sorted({x for points in series.values() for x, _ in points})
  ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
  ax.xaxis.set_minor_locator(plt.NullLocator())
  ax.set_xlabel(xlabel)
  ax.set_ylabel(ylabel)
  ax.set_title(title)
  ax.grid(alpha=0.3, which="both")
  ax.legend(fontsize=7, ncol=2)
  fig.tight_layout()
  fig.savefig(path, dpi=120)
  plt.close(fig)
  return path


def save_results(args, out: pathlib.Path, **results) -> None:
  """Writes `out/results.json` ({"args": ..., **results}) after a study ran;
  with --replot it was the input and stays as it is."""
  if not args.replot:
    write_json({"args": vars(args), **results}, out / "results.json")
  print(f"wrote {out}")


def write_json(obj, path: pathlib.Path) -> pathlib.Path:
  with open(path, "w") as f:
    json.dump(obj, f, indent=2, default=float)
  return path


def seeds_of(args) -> list[int]:
  """Seeds 0..N-1; smoke mode runs one."""
  return [0] if args.smoke else list(range(max(1, args.seeds)))


def env_note() -> str:
  """The backend the costs were measured on (memory is backend-specific)."""
  import jax  # pylint: disable=g-import-not-at-top
  d = jax.devices()[0]
  return (f"measured on {d.platform} ({d.device_kind}), jax {jax.__version__}; "
          f"peak memory is XLA's memory analysis of the compiled train step "
          "(arguments + outputs + temporaries − donated aliases) on that "
          "backend")


def script_dir() -> pathlib.Path:
  return pathlib.Path(__file__).resolve().parent


def saved_results(out: pathlib.Path, flag: str = "--replot") -> dict:
  """The results.json a finished run of the study wrote in `out`."""
  path = out / "results.json"
  if not path.exists():
    raise SystemExit(f"error: {flag}: no {path}; run the study first")
  with open(path) as f:
    return json.load(f)


def run_arms(args, study: str, arms: Sequence[Arm],
             smoke_arms: Sequence[str]):
  """(out dir, runs dir, the arms run, one measured row per arm) of a
  study's command line: the arms --arms (or smoke mode) selects, each
  trained for every seed and measured (`measure_arm`); with --replot, the
  rows of the last results.json."""
  out, runs = output_dirs(args, study)
  if args.replot:
    rows = saved_results(out)["results"]
    by_name = {a.name: a for a in arms}
    return out, runs, [by_name[r["arm"]] for r in rows], rows
  all_arms = arms
  arms = select_arms(arms, args.arms, smoke_arms if args.smoke else ())
  # Read before anything trains, so a missing file fails in seconds.
  kept = saved_results(out, "--update")["results"] if args.update else []
  seeds = seeds_of(args)
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
