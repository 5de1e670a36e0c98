"""The record of an image-to-video initialisation: one line per target
parameter, the source keys nothing used, and notes; as a table and as JSON.

Statuses:
  loaded        the source values, at most reshaped (heads split, [1, k, k]).
  inflated      a 2D kernel spread over time (centre | mean | repeat), a
                position table tiled over time, or RGB weights spread over
                other input channels.
  interpolated  a position table resized bilinearly over space.
  new           no source counterpart (temporal layers, time embeddings, a
                head for another class count): the fresh initialisation.
"""

import collections
import dataclasses
import json
import os

STATUSES = ("loaded", "inflated", "interpolated", "new")


@dataclasses.dataclass(frozen=True)
class Entry:
  target: str                  # "params/<path>" or "batch_stats/<path>"
  status: str
  target_shape: tuple[int, ...]
  source: str = ""             # the file key(s), with the layout change
  source_shape: tuple[int, ...] | None = None
  detail: str = ""


@dataclasses.dataclass
class Report:
  """What happened to every target parameter; `str()` is the table."""
  checkpoint: str
  format: str
  family: str
  model: str
  entries: list[Entry]
  unused: list[str]
  notes: list[str]

  def counts(self) -> dict[str, int]:
    counts = collections.Counter(e.status for e in self.entries)
    return {s: counts.get(s, 0) for s in STATUSES}

  def summary(self) -> str:
    """One line: what was loaded, inflated, interpolated, new, unused."""
    counts = ", ".join(f"{n} {s}" for s, n in self.counts().items())
    return (f"init_from {os.path.basename(self.checkpoint)} ({self.format}, "
            f"{self.family}) -> {self.model}: {counts}; "
            f"{len(self.unused)} unused source keys")

  def __str__(self) -> str:
    def shape(s):
      return "" if s is None else "×".join(map(str, s)) or "scalar"
    rows = [("status", "target", "shape", "source", "source shape", "detail")]
    rows += [(e.status, e.target, shape(e.target_shape), e.source,
              shape(e.source_shape), e.detail) for e in self.entries]
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    lines = [f"init_from: {self.checkpoint} ({self.format}, {self.family}) "
             f"-> {self.model}"]
    for row in rows:
      lines.append("  ".join(c.ljust(w) for c, w in zip(row, widths))
                   + "  " + row[5])
    lines.append(f"unused source keys ({len(self.unused)}):"
                 + ("" if self.unused else " none"))
    lines += [f"  {key}" for key in self.unused]
    lines += [f"note: {note}" for note in self.notes]
    lines.append(self.summary())
    return "\n".join(line.rstrip() for line in lines)

  def to_json(self) -> dict:
    return {
        "checkpoint": self.checkpoint, "format": self.format,
        "family": self.family, "model": self.model, "counts": self.counts(),
        "entries": [dict(dataclasses.asdict(e),
                         target_shape=list(e.target_shape),
                         source_shape=(None if e.source_shape is None
                                       else list(e.source_shape)))
                    for e in self.entries],
        "unused": self.unused, "notes": self.notes,
    }

  def write(self, workdir: str) -> tuple[str, str]:
    """Writes init_report.txt and init_report.json; returns their paths."""
    os.makedirs(workdir, exist_ok=True)
    text = os.path.join(workdir, "init_report.txt")
    with open(text, "w") as f:
      f.write(str(self) + "\n")
    path = os.path.join(workdir, "init_report.json")
    with open(path, "w") as f:
      json.dump(self.to_json(), f, indent=1)
    return text, path
