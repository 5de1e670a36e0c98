"""A study's tables: `<stem>.csv` at full precision for tools, `<stem>.md`
at 4 significant digits with a title and notes for readers."""

import csv
import math
import pathlib
from typing import Sequence


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
