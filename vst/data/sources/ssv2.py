"""Something-Something v2 from its JSON labels.

  labels/labels.json       {"Approaching something with your camera": "0", ...}
  labels/train.json        [{"id": "78687", "label": "holding potato next to
                             vicks vaporub bottle", "template": "Holding
                             [something] next to [something]", ...}, ...]
  labels/validation.json   (same), labels/test.json (ids only)
  20bn-something-something-v2/<id>.webm   (or videos/, or frame folders)

A row's class is its template with the brackets removed.
"""

import json
import os

from vst.data.sources import index as index_lib
from vst.errors import ConfigError

LAYOUT = ("Something-Something v2's .webm videos (20bn-something-something-v2/"
          "<id>.webm) and its labels JSON files (labels/labels.json, "
          "train.json, validation.json)")
SPLIT_FILES = {"train": "train", "validation": "validation",
               "val": "validation", "test": "test"}


def _json(data_dir: str, base: str):
  path = index_lib.first_existing(
      data_dir, (f"labels/{base}.json", f"{base}.json",
                 f"annotations/{base}.json", f"something-something-v2-{base}.json"),
      f"Something-Something v2 {base}.json")
  try:
    with open(path) as f:
      return path, json.load(f)
  except json.JSONDecodeError as e:
    raise ConfigError(f"{path} is not valid JSON: {e}") from e


def ssv2_index(data_dir: str, split: str) -> index_lib.VideoIndex:
  index_lib.check_data_dir(data_dir, "ssv2", LAYOUT)
  if split not in SPLIT_FILES:
    raise ConfigError(f"split {split!r} is not valid for ssv2; allowed: "
                      f"{', '.join(SPLIT_FILES)}")
  labels_path, labels = _json(data_dir, "labels")
  try:
    label_of = {name: int(i) for name, i in labels.items()}
  except (AttributeError, ValueError) as e:
    raise ConfigError(f"{labels_path} must map class names to indices") from e
  names = [n for n, _ in sorted(label_of.items(), key=lambda kv: kv[1])]
  path, rows = _json(data_dir, SPLIT_FILES[split])
  root = data_dir
  for c in ("20bn-something-something-v2", "videos", "rawframes"):
    if os.path.isdir(os.path.join(data_dir, c)):
      root = os.path.join(data_dir, c)
      break
  videos = index_lib.find_videos(root)
  builder = index_lib.Builder(names)
  for n, row in enumerate(rows if isinstance(rows, list) else []):
    where = f"{os.path.basename(path)}[{n}]"
    if not isinstance(row, dict) or "id" not in row:
      builder.bad_row(f"{where}: {str(row)[:60]!r} has no id")
      continue
    template = str(row.get("template", "")).replace("[", "").replace("]", "")
    if template not in label_of:
      builder.bad_row(f"{where}: template {template!r} is not in labels.json")
      continue
    video_id = str(row["id"])
    builder.add(videos.get(video_id), label_of[template], f"{video_id}.webm")
  return builder.build()
