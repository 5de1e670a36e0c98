"""Kinetics-400/600/700 from the annotation CSVs released with each version.

  label,youtube_id,time_start,time_end,split[,is_cc]
  "abseiling",0347ZoDXyP0,14,24,train

Files: {train,validate,test}.csv under data_dir/annotations or data_dir
(validate.csv may be named val.csv, as in the public mirrors; the K400
test.csv may lack labels: such rows are malformed for evaluation).
Classes are the sorted labels of train.csv, the convention of every released
checkpoint. A row's video is `<youtube_id>_<start:06d>_<end:06d>.<ext>` (the
official downloader and the CVDF mirror) or `<youtube_id>.<ext>`, anywhere
under data_dir, or a frame folder of that name.

YouTube videos vanish, so a copy always lacks some; they are counted as
missing and the coverage (usable / annotated) is reported with every
accuracy, since accuracies on different subsets do not compare.
"""

import csv
import functools
import os

from vst.data.sources import index as index_lib
from vst.errors import ConfigError

VERSIONS = {"kinetics400": 400, "kinetics600": 600, "kinetics700": 700}
SPLIT_FILES = {"train": "train", "validation": "validate", "val": "validate",
               "validate": "validate", "test": "test"}


def layout(name: str) -> str:
  title = f"Kinetics-{VERSIONS[name]}"
  return (f"the {title} videos (<youtube_id>_<start>_<end>.mp4, any folder "
          "layout) and its annotation CSVs (annotations/train.csv, "
          "validate.csv or val.csv: label,youtube_id,time_start,time_end,"
          "split)")


def _csv_path(data_dir: str, name: str, split: str) -> str:
  if split not in SPLIT_FILES:
    raise ConfigError(f"split {split!r} is not valid for {name}; allowed: "
                      f"{', '.join(SPLIT_FILES)}")
  base = SPLIT_FILES[split]
  # The validation CSV is validate.csv in the official release and val.csv
  # in the most used public mirrors (e.g. the CVDF one).
  bases = (base, "val") if base == "validate" else (base,)
  candidates = tuple(path for b in bases for path in (
      f"annotations/{b}.csv", f"{b}.csv", f"{name}/{b}.csv",
      f"annotations/{name}_{b}.csv"))
  return index_lib.first_existing(
      data_dir, candidates, f"{name} annotation CSV for split {split!r}")


def _rows(path: str):
  with open(path, newline="") as f:
    reader = csv.reader(f)
    header = next(reader, None)
    if not header or "youtube_id" not in header:
      raise ConfigError(f"{path} is not a Kinetics annotation CSV: its header "
                        f"{header!r} lacks youtube_id; expected label,"
                        "youtube_id,time_start,time_end,split")
    for row_number, row in enumerate(reader, 2):
      yield row_number, header, row


@functools.lru_cache(maxsize=8)
def class_names(data_dir: str, name: str) -> tuple[str, ...]:
  labels = set()
  path = _csv_path(data_dir, name, "train")
  for _, header, row in _rows(path):
    if len(row) == len(header):
      label = dict(zip(header, row)).get("label", "").strip()
      if label:
        labels.add(label)
  return tuple(sorted(labels))


def kinetics_index(data_dir: str, name: str,
                   split: str) -> index_lib.VideoIndex:
  index_lib.check_data_dir(data_dir, name, layout(name))
  path = _csv_path(data_dir, name, split)
  classes = class_names(data_dir, name)
  label_of = {c: i for i, c in enumerate(classes)}
  videos = index_lib.find_videos(data_dir)
  builder = index_lib.Builder(classes)
  for row_number, header, row in _rows(path):
    where = f"{os.path.basename(path)}:{row_number}"
    if len(row) != len(header):
      builder.bad_row(f"{where}: {len(row)} fields, header has {len(header)}")
      continue
    fields = dict(zip(header, row))
    label = fields.get("label", "").strip()
    youtube_id = fields.get("youtube_id", "").strip()
    try:
      start, end = int(float(fields["time_start"])), int(float(fields["time_end"]))
    except (KeyError, ValueError):
      builder.bad_row(f"{where}: time_start/time_end "
                      f"{fields.get('time_start')!r}/{fields.get('time_end')!r}"
                      " are not numbers")
      continue
    if not youtube_id or label not in label_of:
      builder.bad_row(f"{where}: youtube_id {youtube_id!r} / label {label!r} "
                      f"not one of the {len(classes)} train.csv classes")
      continue
    clip = f"{youtube_id}_{start:06d}_{end:06d}"
    found = videos.get(clip) or videos.get(youtube_id)
    builder.add(found, label_of[label], f"{clip} ({label})")
  return builder.build()
