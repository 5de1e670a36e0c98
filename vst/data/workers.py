"""The work data workers do, and the pools they do it in.

A worker holds a `ClipMaker` (and for training a `TrainStream`) registered
under a key once, at pool start, so a task ships only numbers. Pools are
threads (PyAV, OpenCV and most numpy release the GIL, and nothing is
pickled) or spawned processes (`dataset.worker_type=process`: no GIL at all;
spawned, never forked, because the parent runs JAX's threads).

Training tasks never fail on a bad video: `train_item` walks to the next
sample of the epoch's permutation, deterministically, and says what it
skipped, so a resumed run and an uninterrupted one see the same clips and
the same counts. A substitute's label is its own, never the skipped one's.
Any exception a sample raises counts, not only a `DecodeError`: a frame
folder whose JPEGs differ in size fails in numpy, not in the decoder, and
must not end a run of days. Each skip carries the file and the message, for
the run's `skipped.jsonl`.
"""

import concurrent.futures
import dataclasses
import functools
import multiprocessing
from typing import Optional

import cv2
import numpy as np

from vst.data import clips as clips_lib
from vst.data import decode

# Consecutive bad videos one item may step over before the data is declared
# unusable (the error then names the last few).
MAX_ATTEMPTS = 64
# "error": any other exception while making the sample's clip.
SKIP_REASONS = ("missing", "unreadable", "too_short", "error")

_MAKERS: dict[str, "clips_lib.ClipMaker"] = {}
_STREAMS: dict[str, "TrainStream"] = {}
# sample -> Skip, per worker: a video known bad is not decoded again.
_BAD: dict[str, dict[int, "Skip"]] = {}


def skip_reason(error: Exception) -> str:
  if isinstance(error, clips_lib.ShortVideoError):
    return "too_short"
  if isinstance(error, decode.MissingVideoError):
    return "missing"
  if isinstance(error, decode.DecodeError):
    return "unreadable"
  return "error"


@dataclasses.dataclass(frozen=True)
class Skip:
  """One sample passed over: its number, the cause (a SKIP_REASONS entry)
  and the error's message (with the exception type for "error")."""
  sample: int
  reason: str
  message: str


def skip_of(sample: int, error: Exception) -> Skip:
  reason = skip_reason(error)
  message = str(error) or type(error).__name__
  if reason == "error":
    message = f"{type(error).__name__}: {message}"
  return Skip(sample, reason, message[:500])


@dataclasses.dataclass(frozen=True)
class TrainStream:
  """Stream item g -> (sample, RNG). Item g is copy g % repeats of position
  g // repeats of the epoch permutations laid end to end; every epoch has
  its own permutation from (data seed, train seed, epoch)."""
  size: int
  repeats: int
  seed: int
  train_seed: int

  def candidate(self, item: int, attempt: int) -> int:
    epoch, offset = divmod(item // self.repeats, self.size)
    return int(_permutation(self.seed, self.train_seed, self.size,
                            epoch)[(offset + attempt) % self.size])

  def rng(self, item: int, attempt: int) -> np.random.Generator:
    return np.random.default_rng([self.seed, self.train_seed, item, attempt])


@functools.lru_cache(maxsize=4)
def _permutation(seed: int, train_seed: int, size: int,
                 epoch: int) -> np.ndarray:
  return np.random.default_rng([seed, train_seed, 1 << 20, epoch]).permutation(
      size)


def register(key: str, maker, stream: Optional[TrainStream] = None) -> None:
  _MAKERS[key] = maker
  _BAD.setdefault(key, {})
  if stream is not None:
    _STREAMS[key] = stream
  # Decoding threads of every worker on every core would oversubscribe them.
  cv2.setNumThreads(1)


def ensure_registered(key: str, maker, stream: Optional[TrainStream] = None
                      ) -> None:
  """`register` unless this process already holds `key` (pools whose
  workers are not started through `make_pool`, e.g. Grain's)."""
  if key not in _MAKERS:
    register(key, maker, stream)


def unregister(key: str) -> None:
  for table in (_MAKERS, _STREAMS, _BAD):
    table.pop(key, None)


class DataUnusableError(RuntimeError):
  """Too many consecutive videos failed to decode."""


def train_item(key: str, item: int):
  """(clip, skipped) of stream item `item`: clip as `ClipMaker.train_clip`,
  skipped the list of `Skip`s passed over on the way to it."""
  maker, stream, bad = _MAKERS[key], _STREAMS[key], _BAD[key]
  skipped, messages = [], []
  for attempt in range(MAX_ATTEMPTS):
    sample = stream.candidate(item, attempt)
    if sample in bad:
      skipped.append(bad[sample])
      continue
    try:
      return maker.train_clip(sample, stream.rng(item, attempt)), skipped
    except Exception as e:  # pylint: disable=broad-except
      bad[sample] = skip_of(sample, e)
      skipped.append(bad[sample])
      messages.append(bad[sample].message)
  raise DataUnusableError(
      f"{MAX_ATTEMPTS} videos in a row could not be read; the data under "
      f"dataset.data_dir={maker.spec.data_dir!r} looks unusable. Last errors: "
      + " | ".join(messages[-3:]))


def eval_video(key: str, sample: int, num_clips: int, num_crops: int):
  """(views, None) of a test video, or (None, Skip)."""
  try:
    return _MAKERS[key].test_views(sample, num_clips, num_crops), None
  except Exception as e:  # pylint: disable=broad-except
    return None, skip_of(sample, e)


def make_pool(worker_type: str, num_workers: int, key: str, maker,
              stream: Optional[TrainStream] = None):
  """A thread or spawned-process pool whose workers hold `maker`."""
  if worker_type == "process":
    return concurrent.futures.ProcessPoolExecutor(
        num_workers, mp_context=multiprocessing.get_context("spawn"),
        initializer=register, initargs=(key, maker, stream))
  register(key, maker, stream)
  return concurrent.futures.ThreadPoolExecutor(
      num_workers, thread_name_prefix=f"vst-data-{key}")
