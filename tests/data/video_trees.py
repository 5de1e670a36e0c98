"""Tiny datasets on disk for the real-video tests, made at test time.

Every video shows its frame numbers (`vst.data.video_writer.numbered_frames`)
starting at `100 * label`, so a test can read back both which frames it got
and which class's video they came from.
"""

import csv
import io
import json
import os

import numpy as np

from vst.data import video_writer

LABEL_STRIDE = 100  # frame numbers of class k start at k * LABEL_STRIDE


def write_numbered(path: str, num_frames: int = 24, label: int = 0,
                   height: int = 48, width: int = 48, fps: float = 25.0,
                   codec=None) -> str:
  os.makedirs(os.path.dirname(path), exist_ok=True)
  frames = video_writer.numbered_frames(num_frames, height, width,
                                        first=label * LABEL_STRIDE, seed=label)
  video_writer.write_video(path, frames, fps=fps, codec=codec)
  return path


def write_frame_folder(path: str, num_frames: int = 12, label: int = 0,
                       height: int = 48, width: int = 48) -> str:
  import cv2  # pylint: disable=g-import-not-at-top
  os.makedirs(path, exist_ok=True)
  frames = video_writer.numbered_frames(num_frames, height, width,
                                        first=label * LABEL_STRIDE)
  for i, frame in enumerate(frames):
    cv2.imwrite(os.path.join(path, f"img_{i + 1:05d}.jpg"),
                cv2.cvtColor(frame, cv2.COLOR_RGB2BGR),
                [cv2.IMWRITE_JPEG_QUALITY, 98])
  return path


def write_corrupt(path: str) -> str:
  os.makedirs(os.path.dirname(path), exist_ok=True)
  with open(path, "wb") as f:
    f.write(b"\x00\x00\x00\x18ftypmp42" + os.urandom(2000))
  return path


def to_uint8(inputs: np.ndarray) -> np.ndarray:
  """Undo the [-1, 1] normalisation of RGB model inputs."""
  return np.clip((inputs + 1) * 127.5 + 0.5, 0, 255).astype(np.uint8)


def labels_and_frames(clip: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
  """(label per frame, frame index within its video) of a [-1, 1] clip."""
  numbers = video_writer.frame_numbers(to_uint8(clip))
  return numbers // LABEL_STRIDE, numbers % LABEL_STRIDE


def folder_tree(root: str, classes: int = 3, train_per_class: int = 3,
                test_per_class: int = 2, num_frames: int = 24,
                corrupt: bool = True, size=(48, 48)) -> str:
  """root/{train,test}/class{k}/v{i}.mp4 (+ one corrupt train video)."""
  for split, n in (("train", train_per_class), ("test", test_per_class)):
    for k in range(classes):
      for i in range(n):
        write_numbered(os.path.join(root, split, f"class{k}", f"v{i}.mp4"),
                       num_frames + 4 * i, k, *size)
  if corrupt:
    write_corrupt(os.path.join(root, "train", "class0", "broken.mp4"))
  return root


def ucf_tree(root: str, classes=("ApplyEyeMakeup", "Archery", "Biking"),
             groups: int = 2) -> str:
  """UCF-101 layout with three folds; group g of a class is test in fold g+1
  (real UCF uses 7 groups per fold; the structure is the same)."""
  lists = os.path.join(root, "ucfTrainTestlist")
  os.makedirs(lists, exist_ok=True)
  with open(os.path.join(lists, "classInd.txt"), "w") as f:
    for k, name in enumerate(classes):
      f.write(f"{k + 1} {name}\n")
  names = {}
  for k, name in enumerate(classes):
    for g in range(1, groups + 2):
      video = f"{name}/v_{name}_g{g:02d}_c01.avi"
      names[(k, g)] = video
      write_numbered(os.path.join(root, "UCF-101", video), 20, k)
  for fold in (1, 2, 3):
    with open(os.path.join(lists, f"trainlist0{fold}.txt"), "w") as train, \
         open(os.path.join(lists, f"testlist0{fold}.txt"), "w") as test:
      for (k, g), video in sorted(names.items()):
        if g == fold:
          test.write(video + "\n")
        else:
          train.write(f"{video} {k + 1}\n")
  return root


def kinetics_tree(root: str, labels=("abseiling", "bowling", "juggling")):
  """Kinetics layout: annotations/{train,validate}.csv and clips named
  <id>_<start>_<end>.mp4; validation has one missing video, one corrupt
  video and two malformed rows."""
  ann = os.path.join(root, "annotations")
  os.makedirs(ann, exist_ok=True)
  header = ["label", "youtube_id", "time_start", "time_end", "split"]
  rows = {"train": [], "validate": []}
  for split, per_class in (("train", 2), ("validate", 2)):
    for k, label in enumerate(labels):
      for i in range(per_class):
        vid = f"{split[:2]}{k}x{i}abcdef"[:11]
        rows[split].append([label, vid, "10", "20", split])
        write_numbered(os.path.join(root, split, label,
                                    f"{vid}_000010_000020.mp4"), 20, k)
  rows["validate"].append([labels[0], "missingvid1", "0", "10", "validate"])
  rows["validate"].append(["unknown class", "whatever123", "0", "10",
                           "validate"])
  rows["validate"].append([labels[1], "badtimes", "x", "10", "validate"])
  rows["validate"].append([labels[2], "corrupt0001", "0", "10", "validate"])
  write_corrupt(os.path.join(root, "validate", labels[2],
                             "corrupt0001_000000_000010.mp4"))
  for split, split_rows in rows.items():
    with open(os.path.join(ann, f"{split}.csv"), "w", newline="") as f:
      writer = csv.writer(f)
      writer.writerow(header)
      writer.writerows(split_rows)
  return root


def ssv2_tree(root: str) -> str:
  templates = ["Holding something", "Pushing something from left to right",
               "Putting something on a surface"]
  os.makedirs(os.path.join(root, "labels"), exist_ok=True)
  with open(os.path.join(root, "labels", "labels.json"), "w") as f:
    json.dump({t: str(i) for i, t in enumerate(templates)}, f)
  for split, ids in (("train", range(6)), ("validation", range(100, 103))):
    rows = []
    for n, vid in enumerate(ids):
      k = n % 3
      rows.append({"id": str(vid), "label": "x",
                   "template": templates[k].replace("something",
                                                    "[something]"),
                   "placeholders": ["x"]})
      write_numbered(os.path.join(root, "20bn-something-something-v2",
                                  f"{vid}.webm"), 16, k)
    if split == "validation":
      rows.append({"id": "999", "template": "Not a template"})
      rows.append({"label": "no id"})
    with open(os.path.join(root, "labels", f"{split}.json"), "w") as f:
      json.dump(rows, f)
  return root


def hmdb_tree(root: str, classes=("brush_hair", "cartwheel")) -> str:
  lists = os.path.join(root, "testTrainMulti_7030_splits")
  os.makedirs(lists, exist_ok=True)
  for k, name in enumerate(classes):
    videos = [f"{name}_video{i}.avi" for i in range(3)]
    for i, video in enumerate(videos):
      write_numbered(os.path.join(root, "hmdb51", name, video), 16, k)
    for fold in (1, 2, 3):
      with open(os.path.join(lists, f"{name}_test_split{fold}.txt"), "w") as f:
        for i, video in enumerate(videos):
          tag = 2 if i == fold - 1 else 1
          f.write(f"{video} {tag} \n")
        f.write("unused_video.avi 0\n")
  return root


def tfds_tree(data_dir: str, classes: int = 3, train_per_class: int = 2,
              num_frames: int = 24) -> str:
  """A prepared TFDS builder `vst_test_videos` (ArrayRecord) under data_dir:
  "video" a sequence of PNG frames (how TFDS's `Video` feature stores them),
  "label" a `ClassLabel`; splits train (train_per_class videos per class,
  and one more of class 0 whose frames are not images) and test (one per
  class). Returns the builder name."""
  import cv2  # pylint: disable=g-import-not-at-top
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top

  def examples(per_class, split_seed):
    for label in range(classes):
      for k in range(per_class):
        frames = video_writer.numbered_frames(
            num_frames, 48, 48, first=label * LABEL_STRIDE,
            seed=split_seed + 10 * label + k)
        encoded = [io.BytesIO(cv2.imencode(".png", f)[1].tobytes())
                   for f in frames[..., ::-1]]  # PNG of BGR = RGB frames.
        yield f"{label}_{k}", {"video": encoded, "label": label}
    if split_seed == 0:  # A corrupt record: its bytes do not decode.
      yield "corrupt", {"video": [io.BytesIO(b"not a png")] * num_frames,
                        "label": 0}

  # skip_registration: readers find it from its files alone, as they would
  # any prepared builder whose code they do not import.
  class VstTestVideos(tfds.core.GeneratorBasedBuilder,
                      skip_registration=True):
    VERSION = tfds.core.Version("1.0.0")

    def _info(self):
      return tfds.core.DatasetInfo(
          builder=self,
          features=tfds.features.FeaturesDict({
              "video": tfds.features.Sequence(
                  tfds.features.Image(shape=(48, 48, 3))),
              "label": tfds.features.ClassLabel(
                  names=[f"class{i}" for i in range(classes)])}))

    def _split_generators(self, dl_manager):
      del dl_manager
      return {"train": self._generate_examples(train_per_class, 0),
              "test": self._generate_examples(1, 1000)}

    def _generate_examples(self, per_class, split_seed):
      return examples(per_class, split_seed)

  VstTestVideos(data_dir=data_dir,
                file_format="array_record").download_and_prepare()
  return "vst_test_videos"
