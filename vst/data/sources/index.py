"""`VideoIndex`, the one thing every annotation reader returns, and the
file lookup they share.

Videos are found by their stem (file name without extension, or the name of
a frame folder), so a dataset may be stored as .mp4, .avi, .webm, .mkv or
as folders of JPEG frames without any reader caring which.
"""

import dataclasses
import functools
import os
from typing import Optional, Sequence

import numpy as np

from vst.data import decode
from vst.errors import ConfigError

# How many problem lines an index keeps for the log; the counts are exact.
MAX_PROBLEMS = 20


@dataclasses.dataclass
class VideoIndex:
  """The usable videos of one split, and what had to be left out.

  paths/labels: the videos that exist, in annotation order.
  num_annotated: annotation rows read, usable or not, so
    coverage = len(paths) / num_annotated.
  missing: rows whose video is not on disk (all named in `missing_videos`);
  bad_rows: rows that could not be parsed or name an unknown class.
  `problems` holds the first few, verbatim.
  """
  paths: list[str]
  labels: np.ndarray
  class_names: list[str]
  num_annotated: int = 0
  missing: int = 0
  bad_rows: int = 0
  problems: list[str] = dataclasses.field(default_factory=list)
  missing_videos: list[str] = dataclasses.field(default_factory=list)

  def __len__(self) -> int:
    return len(self.paths)

  def note(self, kind: str, message: str) -> None:
    if kind == "missing":
      self.missing += 1
      self.missing_videos.append(message)
    else:
      self.bad_rows += 1
    if len(self.problems) < MAX_PROBLEMS:
      self.problems.append(f"{kind}: {message}")

  def describe(self) -> dict:
    """What the split holds, for the start-up report: counts, coverage,
    classes and the class-balance extremes, every missing video."""
    counts = np.bincount(self.labels, minlength=len(self.class_names))
    extremes = {}
    if len(self.class_names) and len(self.paths):
      small, large = int(np.argmin(counts)), int(np.argmax(counts))
      extremes = {"smallest_class": [self.class_names[small], int(counts[small])],
                  "largest_class": [self.class_names[large], int(counts[large])]}
    return {"annotated": self.num_annotated, "found": len(self.paths),
            "missing": self.missing, "malformed_rows": self.bad_rows,
            "coverage": len(self.paths) / max(self.num_annotated, 1),
            "classes": len(self.class_names), **extremes,
            "missing_videos": list(self.missing_videos)}

  def summary(self) -> str:
    return (f"{len(self.paths)} of {self.num_annotated} annotated videos "
            f"usable ({self.missing} missing, {self.bad_rows} malformed rows)")


class Builder:
  """Accumulates (path, label) pairs into a `VideoIndex`."""

  def __init__(self, class_names: Sequence[str]):
    self.index = VideoIndex([], np.zeros(0, np.int32), list(class_names))
    self._labels: list[int] = []

  def add(self, path: Optional[str], label: int, what: str) -> None:
    self.index.num_annotated += 1
    if path is None:
      self.index.note("missing", what)
      return
    self.index.paths.append(path)
    self._labels.append(label)

  def bad_row(self, message: str) -> None:
    self.index.num_annotated += 1
    self.index.note("bad row", message)

  def build(self) -> VideoIndex:
    self.index.labels = np.asarray(self._labels, np.int32)
    return self.index


# A folder of precomputed optical flow holds this file (vst.data.flow_store);
# it is never mistaken for a video's frame folder.
FLOW_MARKER = "flow.json"


def _is_frame_folder(names: Sequence[str]) -> bool:
  return any(n.lower().endswith(decode.IMAGE_EXTENSIONS) for n in names[:8])


def list_videos(root: str) -> list[str]:
  """Every video file and frame folder under `root`, in sorted walk order.

  A directory holding images is a frame folder (one video); its images are
  not searched further. Flow folders (holding flow.json) are skipped.
  """
  found = []
  for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
    dirnames.sort()
    if FLOW_MARKER in filenames:
      dirnames[:] = []
      continue
    if dirpath != root and _is_frame_folder(sorted(filenames)):
      found.append(dirpath)
      dirnames[:] = []
      continue
    found.extend(os.path.join(dirpath, name) for name in sorted(filenames)
                 if decode.is_video_file(name))
  return found


@functools.lru_cache(maxsize=16)
def find_videos(root: str) -> dict[str, str]:
  """stem -> path of every video under `root` (`list_videos`); the first of
  two equal stems wins, so use it where stems are unique (UCF-101, HMDB-51,
  Kinetics ids, SSv2 ids), or per class folder."""
  found: dict[str, str] = {}
  for path in list_videos(root):
    found.setdefault(stem(path), path)
  return found


def stem(path: str) -> str:
  return os.path.splitext(os.path.basename(path.rstrip("/")))[0]


def first_existing(data_dir: str, candidates: Sequence[str], what: str,
                   field: str = "dataset.data_dir") -> str:
  """The first of `candidates` (relative to data_dir) that exists."""
  for candidate in candidates:
    path = os.path.join(data_dir, candidate)
    if os.path.exists(path):
      return path
  raise ConfigError(
      f"{field}={data_dir!r} has no {what}; looked for "
      f"{', '.join(os.path.join(data_dir, c) for c in candidates)}")


def check_data_dir(data_dir: str, name: str, layout: str) -> None:
  if not data_dir:
    raise ConfigError(
        f"dataset.data_dir is empty: dataset.name={name} needs {layout}; "
        f"point at it with --config.dataset.data_dir=/path/to/{name}")
  if not os.path.isdir(data_dir):
    raise ConfigError(f"dataset.data_dir={data_dir!r} is not a directory; "
                      f"dataset.name={name} needs {layout}")
