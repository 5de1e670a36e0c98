"""A study's `results.json`: written after it runs, read back by --replot
(which redraws from it) and --update (which keeps its other arms' rows)."""

import json
import pathlib


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


def saved_results(out: pathlib.Path, flag: str = "--replot") -> dict:
  """The results.json a finished run of the study wrote in `out`."""
  path = out / "results.json"
  if not path.exists():
    raise SystemExit(f"error: {flag}: no {path}; run the study first")
  with open(path) as f:
    return json.load(f)
