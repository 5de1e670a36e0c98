"""Videos from a prepared TensorFlow Datasets builder (dataset.source=tfds).

  --config.dataset.source=tfds --config.dataset.tfds_name=ucf101/ucf101_1_256
  --config.dataset.data_dir=~/tensorflow_datasets

The builder must already be prepared under `data_dir` (nothing is downloaded)
in the ArrayRecord file format (`tfds build NAME --file_format=array_record`),
the random-access format that `tfds.data_source` reads without TensorFlow.
Examples need a "video" feature (TFDS `Video`, a `Sequence` of `Image`, or a
uint8 tensor [N, H, W, 3]) and a "label" `ClassLabel`; split names are TFDS's.

Only the frames a clip asks for are decoded: a record is parsed into its
encoded frames, and those at the sampled indices are decoded. Sampling,
augmentation, views and batching are the file datasets' (`vst.data.clips`).
"""

import functools
import threading

import numpy as np

from vst.data import decode
from vst.data.sources import index as index_lib
from vst.errors import ConfigError

VIDEO_KEY = "video"
LABEL_KEY = "label"


def _tfds():
  try:
    import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  except ImportError as e:
    raise ConfigError("dataset.source='tfds' needs tensorflow_datasets "
                      "(in requirements.txt: make setup)") from e
  return tfds


@functools.lru_cache(maxsize=16)
def _open(name: str, data_dir: str, split: str):
  """(features, raw record source, parser) of one split, once per process."""
  tfds = _tfds()
  if not name:
    raise ConfigError("dataset.source='tfds' needs dataset.tfds_name, e.g. "
                      "'ucf101/ucf101_1_256'")
  try:
    builder = tfds.builder(name, data_dir=data_dir or None)
    info = builder.info
    splits = list(info.splits)
  except Exception as e:  # pylint: disable=broad-except
    # TFDS's own message lists every registered builder (hundreds of lines);
    # its first line says what went wrong.
    first = (str(e).strip().splitlines() or [type(e).__name__])[0][:300]
    raise ConfigError(f"dataset.tfds_name={name!r} is not a prepared TFDS "
                      f"builder under dataset.data_dir={data_dir!r} ({first}); "
                      "vst reads builders prepared as ArrayRecord (`tfds build "
                      "NAME --file_format=array_record`, which needs "
                      "TensorFlow), and no Kinetics builder exists in TFDS"
                      ) from e
  if not splits:
    raise ConfigError(f"dataset.tfds_name={name!r} is not prepared under "
                      f"dataset.data_dir={data_dir!r} (run `tfds build {name} "
                      f"--data_dir=... --file_format=array_record`)")
  if split not in splits:
    raise ConfigError(f"split {split!r} is not in TFDS {name!r}; it has "
                      f"{', '.join(splits)}")
  file_format = str(getattr(info.file_format, "value", info.file_format))
  if file_format != "array_record":
    raise ConfigError(
        f"TFDS {name!r} is stored as {file_format}, which only TensorFlow "
        f"reads, in order; vst reads ArrayRecord (random access): rebuild it "
        f"with `tfds build {name} --file_format=array_record`")
  features = info.features
  missing = [k for k in (VIDEO_KEY, LABEL_KEY) if k not in features]
  if missing:
    raise ConfigError(f"TFDS {name!r} examples have {', '.join(features)}; "
                      f"vst needs {VIDEO_KEY!r} and {LABEL_KEY!r}")
  source = builder.as_data_source(split=split).data_source
  parser = tfds.core.example_parser.ExampleParserNp(
      features.get_serialized_info())
  return features, source, parser


def _frame_feature(features):
  """The per-frame Image feature of a Video or Sequence feature; None for a
  tensor feature, which is decoded whole."""
  inner = getattr(features[VIDEO_KEY], "feature", None)
  return inner if isinstance(inner, _tfds().features.Image) else None


def sample_path(name: str, split: str, sample: int) -> str:
  """The index's path of one record, which errors about it also name."""
  return f"tfds:{name}/{split}/{sample}"


def tfds_index(name: str, data_dir: str, split: str) -> index_lib.VideoIndex:
  """Every example of the split, labelled, without decoding any frame."""
  features, source, parser = _open(name, data_dir, split)
  names = list(features[LABEL_KEY].names)
  labels = np.empty(len(source), np.int32)
  chunk = 256
  for start in range(0, len(source), chunk):
    rows = source.__getitems__(range(start, min(start + chunk, len(source))))
    for k, raw in enumerate(rows):
      labels[start + k] = int(np.asarray(parser.parse_example(raw)[LABEL_KEY]))
  paths = [sample_path(name, split, i) for i in range(len(source))]
  return index_lib.VideoIndex(paths=paths, labels=labels, class_names=names,
                              num_annotated=len(paths))


# The record each worker thread parsed last: a clip asks for a record's
# length, then its frames (and eval's views ask again), all from one thread,
# so one entry per thread parses each record once while holding at most one
# decoded video per worker; a process-wide LRU of whole decoded tensor
# videos would hold as many as it has slots, whatever the worker count.
_last_record = threading.local()


def _record(name: str, data_dir: str, split: str, sample: int):
  """(frames, per-frame Image feature or None) of one record.

  Frames are the encoded images (a list of bytes) of a Video/Sequence
  feature, or a tensor feature decoded whole. A record that cannot be
  parsed is a `DecodeError`, which the data workers skip and count, as they
  do a corrupt video file.
  """
  key = (name, data_dir, split, sample)
  if getattr(_last_record, "key", None) != key:
    # Drop the previous video before parsing the next (peak memory), and
    # leave no key behind if the parse raises.
    _last_record.key, _last_record.value = None, None
    _last_record.value = _parse_record(*key)
    _last_record.key = key
  return _last_record.value


def _parse_record(name: str, data_dir: str, split: str, sample: int):
  features, source, parser = _open(name, data_dir, split)
  frame = _frame_feature(features)
  try:
    video = parser.parse_example(source[sample])[VIDEO_KEY]
    if frame is None:
      return np.asarray(features[VIDEO_KEY].decode_example_np(video)), None
    return list(video), frame
  except Exception as e:  # pylint: disable=broad-except
    raise decode.DecodeError(
        f"{sample_path(name, split, sample)} cannot be parsed: {e!r}") from e


class TfdsFrames:
  """Frame access by sample number for `vst.data.clips.ClipMaker`. Holds
  names only, so it pickles into worker processes, each of which opens the
  source once."""

  def __init__(self, name: str, data_dir: str, split: str):
    self.name, self.data_dir, self.split = name, data_dir, split

  def info(self, sample: int) -> tuple[int, float]:
    video, _ = _record(self.name, self.data_dir, self.split, sample)
    return len(video), 0.0  # TFDS keeps no frame rate.

  def read(self, sample: int, indices, min_resize=None) -> np.ndarray:
    video, frame = _record(self.name, self.data_dir, self.split, sample)
    where = sample_path(self.name, self.split, sample)
    indices = np.asarray(indices)
    if indices.size and (indices.min() < 0 or indices.max() >= len(video)):
      raise decode.DecodeError(
          f"{where} has {len(video)} frames; asked for "
          f"{indices.min()}..{indices.max()}")
    if frame is None:
      frames = video[indices]
    else:
      try:
        frames = np.stack([np.asarray(frame.decode_example_np(video[i]))
                           for i in indices])
      except Exception as e:  # pylint: disable=broad-except
        raise decode.DecodeError(
            f"{where}: a frame cannot be decoded: {e!r}") from e
    frames = frames.astype(np.uint8, copy=False)
    return decode.resize_short_side(frames, min_resize) if min_resize \
        else frames
