"""A study's plots (matplotlib, written as PNG without a display): labelled
scatter points, bars, and curves over a log2 x axis."""

import pathlib
from typing import Mapping, Sequence


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
