"""Measured parameters and GMACs of every published model, beside the papers'.

  python -m vst.tools.model_table [--markdown] [--json PATH] \
      [--names vivit,single_frame] [--published PATH] [--memory]

Each row of `published/*.json` (beside this file, one file per model) is built through the model
registry and measured with `flops.model_cost` (eval_shape and make_jaxpr only,
so even ViViT-L on 3136 tokens takes seconds). Rows whose model is not
registered yet are listed as such.

The "train GiB" column is the memory one train step needs on one device at
the batch size of the model's paper config (`configs/<name>_k400.py` or
`_ucf101.py`, train.batch_size, its optimizer), from XLA's memory analysis
(`vst.tools.train_memory`: two compiles per row, about a minute each for a
ViT-B on CPU). `--memory` measures the rows not yet in
`measured/train_memory.json` and adds them there as it goes (an interrupted
run resumes); the table shows what that file holds for this backend. The
checked-in file was measured on CPU with convolutions lowered as on an
accelerator (one native conv each, not vst's CPU rewrites, so the program is
the one a GPU/TPU runs; it also compiles much faster) and LLVM unoptimised
(which leaves XLA's buffer assignment unchanged):

  VST_CONV_LOWERING=native XLA_FLAGS=--xla_backend_optimization_level=0 \
      python -m vst.tools.model_table --memory

A published file is a list of rows, one per published (model, variant, input):

  name              registry name, e.g. "vivit".
  variant           a key of that model's VARIANTS, e.g. "B/16x2".
  overrides         further `config.model` fields, e.g.
                    {"vivit_model": "factorised_encoder"}; {} if none.
  input             [T, H, W] of one view.
  in_channels       C of the input (3 for RGB, 2·L for a flow stack).
  num_classes       classifier size the published count includes
                    (400 K400, 101 UCF101, 487 Sports-1M).
  published_params  absolute parameter count, e.g. 88.9e6; null if n/p.
  published_gflops  GMACs (the papers' "GFLOPs") per view; null if n/p.
  source            REFERENCE.md's tag for the numbers: "L" paper via lecture,
                    "R" official repo, "S" secondary, "C" computed, "M"
                    unverified; "P/G" when params and GFLOPs differ, e.g. "C/L".
  note              free text: which paper row, caveats, other counts.
"""

import argparse
import importlib
import importlib.util
import json
import os
import pathlib
import sys
from typing import Any, Sequence

from vst import flops
from vst.errors import ConfigError
from vst.models import registry

# One file per model family, `published/<name>.json`, each a list of rows.
PUBLISHED_PATH = pathlib.Path(__file__).with_name("published")
MEMORY_PATH = pathlib.Path(__file__).with_name("measured") / "train_memory.json"
CONFIGS_PATH = pathlib.Path(__file__).parents[2] / "configs"

NOT_REGISTERED = "not registered"


def load_rows(path=PUBLISHED_PATH) -> list[dict[str, Any]]:
  """The rows of a published-numbers file, or of every `*.json` in a folder."""
  path = pathlib.Path(path)
  files = sorted(path.glob("*.json")) if path.is_dir() else [path]
  rows = []
  for file in files:
    with open(file) as f:
      rows.extend(json.load(f))
  return rows


def registered_models() -> tuple[set[str], dict[str, str]]:
  """Registered model names, and {model module: error} for those that fail.

  Each model file is imported on its own, so one that is missing or broken
  (a model still being written) costs only its own rows.
  """
  failures = {}
  for module in registry.model_modules():
    try:
      importlib.import_module(module)
    except Exception as e:  # pylint: disable=broad-except
      failures[module] = f"{type(e).__name__}: {e}"
  try:
    names = registry.list_models()
  except Exception:  # pylint: disable=broad-except
    # The registry retried the failed imports above and marked itself loaded;
    # everything that imports is registered by now.
    names = registry.list_models()
  return set(names), failures


def _rel_err(measured, published):
  if measured is None or not published:
    return None
  return (measured - published) / published


def measure_row(row: dict[str, Any], registered: set[str]) -> dict[str, Any]:
  """`row` with params, gflops_per_clip, their relative errors and a status."""
  result = {
      "name": row["name"],
      "variant": row["variant"],
      "overrides": row.get("overrides", {}),
      "input": list(row["input"]),
      "in_channels": row.get("in_channels", 3),
      "num_classes": row["num_classes"],
      "params": None,
      "gflops_per_clip": None,
      "published_params": row.get("published_params"),
      "published_gflops": row.get("published_gflops"),
      "source": row.get("source"),
      "note": row.get("note", ""),
      "status": "ok",
  }
  if row["name"] not in registered:
    result["status"] = NOT_REGISTERED
  else:
    shape = tuple(row["input"]) + (row.get("in_channels", 3),)
    try:
      model = registry.build_model(
          {"name": row["name"], "variant": row["variant"],
           **result["overrides"]}, row["num_classes"])
      registry.check_input_shape(model, shape)
      params, gmacs = flops.model_cost(model, (1,) + shape)
      result["params"], result["gflops_per_clip"] = params, gmacs
    except ConfigError as e:
      result["status"] = f"config error: {e}"
    except Exception as e:  # pylint: disable=broad-except
      # One broken model must not hide the other rows.
      result["status"] = f"error: {type(e).__name__}: {e}"
  result["params_rel_err"] = _rel_err(result["params"],
                                      result["published_params"])
  result["gflops_rel_err"] = _rel_err(result["gflops_per_clip"],
                                      result["published_gflops"])
  return result


def build_table(rows: Sequence[dict[str, Any]],
                names: Sequence[str] | None = None,
                memory: dict[str, dict] | None = None) -> list[dict[str, Any]]:
  """Measured rows, for models in `names` only if given, with the train
  memory found in `memory` (see `memory_key`)."""
  registered, _ = registered_models()
  results = [measure_row(row, registered) for row in rows
             if not names or row["name"] in names]
  for result in results:
    result["train_memory"] = (memory or {}).get(memory_key(result))
  return results


# ============================================================================
# Train memory at the paper batch.
# ============================================================================

def paper_config(name: str):
  """The model's paper config (Kinetics or UCF-101 recipe), or None."""
  for suffix in ("k400", "ucf101"):
    path = CONFIGS_PATH / f"{name}_{suffix}.py"
    if path.exists():
      spec = importlib.util.spec_from_file_location(f"{name}_{suffix}", path)
      module = importlib.util.module_from_spec(spec)
      spec.loader.exec_module(module)
      return module.get_config()
  return None


def memory_key(result: dict[str, Any]) -> str:
  import jax  # pylint: disable=g-import-not-at-top
  overrides = json.dumps(result.get("overrides", {}), sort_keys=True)
  return (f"{result['name']}|{result['variant']}|{overrides}|"
          f"{'x'.join(map(str, result['input']))}x{result['in_channels']}|"
          f"{result['num_classes']}|{jax.default_backend()}")


def load_memory(path=MEMORY_PATH) -> dict[str, dict]:
  path = pathlib.Path(path)
  if not path.exists():
    return {}
  with open(path) as f:
    return json.load(f)


def measure_memory(rows: Sequence[dict[str, Any]], path=MEMORY_PATH,
                   names: Sequence[str] | None = None) -> dict[str, dict]:
  """Adds the train memory of every measurable row missing from `path`,
  saving after each row; returns the file's contents."""
  import time  # pylint: disable=g-import-not-at-top
  import jax  # pylint: disable=g-import-not-at-top
  from vst.layers import conv3d  # pylint: disable=g-import-not-at-top
  from vst.tools import train_memory  # pylint: disable=g-import-not-at-top
  memory = load_memory(path)
  for row in rows:
    if names and row["name"] not in names:
      continue
    result = {"name": row["name"], "variant": row["variant"],
              "overrides": row.get("overrides", {}), "input": row["input"],
              "in_channels": row.get("in_channels", 3),
              "num_classes": row["num_classes"]}
    key = memory_key(result)
    config = paper_config(row["name"])
    if key in memory or config is None:
      continue
    config.model = registry.model_config(row["name"], row["variant"])
    for field, value in result["overrides"].items():
      config.model[field] = value
    config.dataset.num_classes = row["num_classes"]
    shape = tuple(row["input"]) + (row.get("in_channels", 3),)
    start = time.perf_counter()
    try:
      m = train_memory.train_memory(config, shape,
                                    int(config.train.batch_size))
    except Exception as e:  # pylint: disable=broad-except
      print(f"{key}: {type(e).__name__}: {e}", file=sys.stderr)
      continue
    memory[key] = {"total_bytes": m.total_bytes, "fixed_bytes": m.fixed_bytes,
                   "per_clip_bytes": m.per_clip_bytes,
                   "batch_size": m.batch_size,
                   "optimizer": config.train.optimizer,
                   "measured_batches": list(m.measured_batches),
                   "backend": m.backend, "jax": jax.__version__,
                   "xla_flags": os.environ.get("XLA_FLAGS", ""),
                   "conv_lowering": conv3d.auto_lowering(),
                   "seconds": round(time.perf_counter() - start, 1)}
    pathlib.Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as f:
      json.dump(memory, f, indent=1, sort_keys=True)
    print(f"{key}: {m.total_bytes / 2**30:.1f} GiB at batch {m.batch_size}",
          file=sys.stderr)
  return memory


# ============================================================================
# Formatting.
# ============================================================================

COLUMNS = ("model", "input", "params M", "pub M", "Δ params", "GMACs", "pub G",
           "Δ GMACs", "train GiB @ batch", "src", "status")


def _number(value, scale=1.0) -> str:
  return "n/p" if value is None else f"{value / scale:.2f}"


def _percent(value) -> str:
  return "" if value is None else f"{100 * value:+.1f}%"


def _memory_cell(memory: dict[str, Any] | None) -> str:
  if not memory:
    return ""
  return f"{memory['total_bytes'] / 2**30:.1f} @ {memory['batch_size']}"


def _cells(result: dict[str, Any]) -> list[str]:
  model = f"{result['name']} {result['variant']}"
  if result["overrides"]:
    model += " " + ",".join(f"{k}={v}" for k, v in result["overrides"].items())
  measured = result["status"] == "ok"
  return [
      model,
      "×".join(map(str, result["input"])),
      _number(result["params"], 1e6) if measured else "",
      _number(result["published_params"], 1e6),
      _percent(result["params_rel_err"]),
      _number(result["gflops_per_clip"]) if measured else "",
      _number(result["published_gflops"]),
      _percent(result["gflops_rel_err"]),
      _memory_cell(result.get("train_memory")),
      result["source"] or "",
      result["status"],
  ]


def format_text(results: Sequence[dict[str, Any]]) -> str:
  table = [list(COLUMNS)] + [_cells(r) for r in results]
  widths = [max(len(row[i]) for row in table) for i in range(len(COLUMNS))]
  lines = []
  for row in table:
    # Text columns align left, numbers right.
    cells = [c.ljust(w) if i in (0, 1, 9, 10) else c.rjust(w)
             for i, (c, w) in enumerate(zip(row, widths))]
    lines.append("  ".join(cells).rstrip())
  return "\n".join(lines)


def format_markdown(results: Sequence[dict[str, Any]]) -> str:
  lines = ["| " + " | ".join(COLUMNS) + " |",
           "|" + "---|" * len(COLUMNS)]
  lines += ["| " + " | ".join(_cells(r)) + " |" for r in results]
  return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
  parser = argparse.ArgumentParser(
      prog="python -m vst.tools.model_table",
      description="Measured params and GMACs beside the published ones.")
  parser.add_argument("--json", help="also write the rows to this JSON file")
  parser.add_argument("--markdown", action="store_true",
                      help="print a markdown table")
  parser.add_argument("--names", default="",
                      help="comma-separated model names (default: all)")
  parser.add_argument("--published", default=str(PUBLISHED_PATH),
                      help="the published-numbers file")
  parser.add_argument("--memory", action="store_true",
                      help="measure the train memory of rows not yet in "
                      "--memory_file (slow: two compiles per row)")
  parser.add_argument("--memory_file", default=str(MEMORY_PATH),
                      help="measured train memory, read and extended")
  args = parser.parse_args(argv)

  names = [n for n in args.names.split(",") if n]
  rows = load_rows(args.published)
  memory = (measure_memory(rows, args.memory_file, names) if args.memory
            else load_memory(args.memory_file))
  results = build_table(rows, names, memory)
  print(format_markdown(results) if args.markdown else format_text(results))
  for module, error in registered_models()[1].items():
    print(f"note: {module} could not be imported ({error})", file=sys.stderr)
  if args.json:
    with open(args.json, "w") as f:
      json.dump(results, f, indent=2)
  failed = [r for r in results if r["status"] not in ("ok", NOT_REGISTERED)]
  return 1 if failed else 0


if __name__ == "__main__":
  sys.exit(main())
