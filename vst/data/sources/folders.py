"""The generic layout: one folder per class inside one folder per split.

  data_dir/train/<class>/<video>.mp4 (or a frame folder <video>/)
  data_dir/test/<class>/...          (also val/, validation/)

Classes are the sorted folder names of the train split, so every split
labels a class the same way even if a split lacks some classes.
"""

import os

from vst.data.sources import index as index_lib
from vst.errors import ConfigError

LAYOUT = ("one folder per split holding one folder per class of videos or "
          "frame folders (data_dir/train/<class>/<video>.mp4, data_dir/test/...)")
SPLIT_ALIASES = {"validation": ("validation", "val", "valid"),
                 "val": ("val", "validation", "valid")}


def _split_dir(data_dir: str, split: str) -> str:
  for name in SPLIT_ALIASES.get(split, (split,)):
    path = os.path.join(data_dir, name)
    if os.path.isdir(path):
      return path
  present = sorted(d for d in os.listdir(data_dir)
                   if os.path.isdir(os.path.join(data_dir, d)))
  raise ConfigError(f"split {split!r} is not in dataset.data_dir={data_dir!r};"
                    f" allowed: {', '.join(present) or '(no split folders)'}")


def class_names(data_dir: str) -> list[str]:
  train = _split_dir(data_dir, "train")
  return sorted(d for d in os.listdir(train)
                if os.path.isdir(os.path.join(train, d)))


def folder_index(data_dir: str, split: str) -> index_lib.VideoIndex:
  index_lib.check_data_dir(data_dir, "video_folder", LAYOUT)
  names = class_names(data_dir)
  if not names:
    raise ConfigError(f"dataset.data_dir={data_dir!r}: the train split has no "
                      f"class folders; video_folder needs {LAYOUT}")
  builder = index_lib.Builder(names)
  split_dir = _split_dir(data_dir, split)
  for class_name in sorted(os.listdir(split_dir)):
    class_dir = os.path.join(split_dir, class_name)
    if not os.path.isdir(class_dir):
      continue
    if class_name not in names:
      builder.bad_row(f"{class_dir}: class {class_name!r} is not a train "
                      "class")
      continue
    videos = index_lib.find_videos(class_dir)
    for stem in sorted(videos):
      builder.add(videos[stem], names.index(class_name),
                  f"{class_name}/{stem}")
  return builder.build()
