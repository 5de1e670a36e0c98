"""UCF-101 and HMDB-51 from their official split files (three folds each).

UCF-101 (`ucfTrainTestlist/`):
  classInd.txt            "1 ApplyEyeMakeup" ... (1-based)
  trainlist0{1,2,3}.txt   "ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi 1"
  testlist0{1,2,3}.txt    "ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01.avi"
HMDB-51 (`testTrainMulti_7030_splits/`):
  <class>_test_split{1,2,3}.txt   "<video>.avi 1" with 1 train, 2 test,
                                  0 unused; classes sorted by name.

Videos may sit under data_dir/UCF-101, data_dir/hmdb51, data_dir/videos or
data_dir itself, as video files of any supported container or as frame
folders named after the video.
"""

import os
import re

from vst.data.sources import index as index_lib
from vst.errors import ConfigError

FOLDS = (1, 2, 3)
SPLITS = ("train", "test")

UCF_LAYOUT = ("UCF-101's videos (UCF-101/<class>/*.avi or frame folders) and "
              "the official split files (ucfTrainTestlist/classInd.txt, "
              "trainlist0N.txt, testlist0N.txt)")
HMDB_LAYOUT = ("HMDB-51's videos (<class>/*.avi or frame folders) and the "
               "official split files (testTrainMulti_7030_splits/"
               "<class>_test_split{1,2,3}.txt)")


def check_fold_and_split(name: str, fold, split: str) -> None:
  if fold not in FOLDS:
    raise ConfigError(f"dataset.fold={fold!r} is not valid for {name}; "
                      f"allowed: {', '.join(map(str, FOLDS))} (the official "
                      "splits)")
  if split not in SPLITS:
    raise ConfigError(f"split {split!r} is not valid for {name}; allowed: "
                      f"{', '.join(SPLITS)}")


def _video_root(data_dir: str, candidates) -> str:
  for c in candidates:
    path = os.path.join(data_dir, c)
    if os.path.isdir(path):
      return path
  return data_dir


def ucf101_index(data_dir: str, split: str, fold: int) -> index_lib.VideoIndex:
  check_fold_and_split("ucf101", fold, split)
  index_lib.check_data_dir(data_dir, "ucf101", UCF_LAYOUT)
  lists = index_lib.first_existing(
      data_dir, ("ucfTrainTestlist", "splits", "annotations", "."),
      "UCF-101 split files (ucfTrainTestlist/classInd.txt)")
  class_file = os.path.join(lists, "classInd.txt")
  if not os.path.exists(class_file):
    raise ConfigError(f"dataset.data_dir={data_dir!r}: no classInd.txt in "
                      f"{lists}; ucf101 needs {UCF_LAYOUT}")
  classes = {}
  with open(class_file) as f:
    for line in f:
      parts = line.split()
      if len(parts) == 2 and parts[0].isdigit():
        classes[parts[1]] = int(parts[0]) - 1
  names = [n for n, _ in sorted(classes.items(), key=lambda kv: kv[1])]
  list_file = os.path.join(lists, f"{split}list0{fold}.txt")
  if not os.path.exists(list_file):
    raise ConfigError(f"dataset.data_dir={data_dir!r}: no {list_file}; "
                      f"ucf101 needs {UCF_LAYOUT}")
  root = _video_root(data_dir, ("UCF-101", "UCF101", "videos", "rawframes"))
  videos = index_lib.find_videos(root)
  builder = index_lib.Builder(names)
  with open(list_file) as f:
    for row, line in enumerate(f, 1):
      parts = line.split()
      if not parts:
        continue
      rel = parts[0]
      class_name = rel.split("/")[0] if "/" in rel else None
      if class_name not in classes:
        builder.bad_row(f"{list_file}:{row}: {line.strip()!r} names no class "
                        "of classInd.txt")
        continue
      label = classes[class_name]
      if len(parts) > 1 and (not parts[1].isdigit() or
                             int(parts[1]) - 1 != label):
        builder.bad_row(f"{list_file}:{row}: label {parts[1]!r} disagrees "
                        f"with the folder {class_name!r}")
        continue
      builder.add(videos.get(index_lib.stem(rel)), label,
                  f"{rel} (from {os.path.basename(list_file)})")
  return builder.build()


_HMDB_SPLIT = re.compile(r"^(.+)_test_split([123])\.txt$")


def hmdb51_index(data_dir: str, split: str, fold: int) -> index_lib.VideoIndex:
  check_fold_and_split("hmdb51", fold, split)
  index_lib.check_data_dir(data_dir, "hmdb51", HMDB_LAYOUT)
  lists = index_lib.first_existing(
      data_dir, ("testTrainMulti_7030_splits", "splits", "annotations", "."),
      "HMDB-51 split files (testTrainMulti_7030_splits/)")
  files = {}
  for name in os.listdir(lists):
    m = _HMDB_SPLIT.match(name)
    if m and int(m.group(2)) == fold:
      files[m.group(1)] = os.path.join(lists, name)
  if not files:
    raise ConfigError(f"dataset.data_dir={data_dir!r}: no "
                      f"<class>_test_split{fold}.txt in {lists}; hmdb51 needs "
                      f"{HMDB_LAYOUT}")
  names = sorted(files)
  want = 1 if split == "train" else 2
  root = _video_root(data_dir, ("hmdb51", "HMDB51", "videos", "rawframes"))
  videos = index_lib.find_videos(root)
  builder = index_lib.Builder(names)
  for label, class_name in enumerate(names):
    with open(files[class_name]) as f:
      for row, line in enumerate(f, 1):
        parts = line.split()
        if not parts:
          continue
        if len(parts) != 2 or parts[1] not in ("0", "1", "2"):
          builder.bad_row(f"{files[class_name]}:{row}: {line.strip()!r} is "
                          "not '<video> 0|1|2'")
          continue
        if int(parts[1]) != want:
          continue
        builder.add(videos.get(index_lib.stem(parts[0])), label,
                    f"{parts[0]} (class {class_name})")
  return builder.build()
