"""Batches of real-video clips: the train stream and the multi-view eval pass.

Train: batch `position` holds stream items position·G + shard·B + r (G the
global batch, B this host's share, r < B), so each host reads only its rows.
Items go to the worker pool in order, `prefetch` batches ahead, and one
assembler thread stacks and normalises finished items into batches while the
model trains: decoding, augmentation and batching all overlap the step. A
batch depends only on its position (and the seeds), so `state()` is the
position and the skip counts, and `restore` resumes exactly.

Eval: the split's videos are dealt round-robin to hosts; every video becomes
num_clips × num_crops rows sharing a "video_id" (its index in the split),
which `vst.evaluate` uses to aggregate views. A video that cannot be read
becomes masked rows, so all hosts still run the same number of steps, and is
counted; `report()` gives the coverage that goes next to every accuracy.

Both sides keep a record of every sample they passed over (file, cause,
message); the trainer drains them into the run's `skipped.jsonl`.
"""

import collections
import concurrent.futures
import itertools
import os
from typing import Any, Iterator, Mapping, Optional

import numpy as np

from vst.data import clips as clips_lib
from vst.data import mixing as mixing_lib
from vst.data import registry
from vst.data import workers
from vst.data.sources.index import VideoIndex
from vst.data.video_spec import VideoSpec
from vst.errors import ConfigError

_MIX_STREAM = 1 << 21
_keys = itertools.count()


def _key(kind: str) -> str:
  return f"{kind}-{os.getpid()}-{next(_keys)}"


def _stack(rows: list[dict], spec: VideoSpec) -> registry.Batch:
  inputs = [clips_lib.to_inputs(r["inputs"], spec) for r in rows]
  if isinstance(inputs[0], dict):
    stacked = {k: np.stack([x[k] for x in inputs]) for k in inputs[0]}
  else:
    stacked = np.stack(inputs)
  return {"inputs": stacked,
          "label": np.asarray([r["label"] for r in rows], np.int32)}


def assemble_batch(spec: VideoSpec, train_seed: int, position: int,
                   results: list) -> tuple[registry.Batch, list]:
  """The train batch at `position` from its rows' `workers.train_item`
  results: stacked, normalised and mixed; and the `workers.Skip`s passed
  over on the way."""
  batch = _stack([clip for clip, _ in results], spec)
  if spec.mixing:
    rng = np.random.default_rng([spec.seed, train_seed, _MIX_STREAM,
                                 position])
    batch = mixing_lib.mix_batch(batch, rng, spec.mixing)
  return batch, [s for _, skipped in results for s in skipped]


def _log(message: str) -> None:
  from vst import observe  # pylint: disable=g-import-not-at-top
  observe.log(message)


def skip_record(maker: clips_lib.ClipMaker, skip: "workers.Skip",
                split: str) -> dict[str, Any]:
  """A `skipped.jsonl` line: the file, the cause and the error message."""
  path = (maker.paths[skip.sample] if 0 <= skip.sample < len(maker.paths)
          else f"sample {skip.sample}")
  return {"path": str(path), "cause": skip.reason, "message": skip.message,
          "split": split}


# Train samples read before the failed fraction is judged, so that one bad
# file among the first few does not stop a run.
MIN_SAMPLES_FOR_SKIP_FRACTION = 100


# ============================================================================
# Train.
# ============================================================================

class BatchItems:
  """position -> the stream items of this host's rows of that batch."""

  def __init__(self, global_batch_size: int, shard_index: int,
               batch_size: int):
    self.first = shard_index * batch_size
    self.stride, self.size = global_batch_size, batch_size

  def __call__(self, position: int) -> range:
    first = position * self.stride + self.first
    return range(first, first + self.size)


class VideoTrainIterator(registry.TrainIterator):
  """Endless, resumable, prefetched batches of augmented training clips."""

  def __init__(self, spec: VideoSpec, maker: clips_lib.ClipMaker,
               batch_size: int, seed: int = 0, shard_index: int = 0,
               shard_count: int = 1):
    if not len(maker):
      raise ConfigError(f"dataset.data_dir={spec.data_dir!r}: the train split "
                        f"of {spec.name} has no usable videos")
    if batch_size < 1 or not 0 <= shard_index < shard_count:
      raise ValueError(f"bad batch_size={batch_size} or shard "
                       f"{shard_index}/{shard_count}")
    self._spec = spec
    self._global_batch_size = batch_size * shard_count
    self._train_seed = int(seed) & 0xFFFFFFFF
    self._stream = workers.TrainStream(len(maker), spec.repeats, spec.seed,
                                       self._train_seed)
    self._key = _key("train")
    self._items = BatchItems(self._global_batch_size, shard_index,
                             batch_size)
    self._maker = maker
    self._position = 0
    self._start_workers()
    self.skipped = {reason: 0 for reason in workers.SKIP_REASONS}
    self._reported = 0
    self._records: list[dict] = []
    self._recorded: set[int] = set()

  def _start_workers(self) -> None:
    self._pool = workers.make_pool(self._spec.worker_type,
                                   self._spec.num_workers, self._key,
                                   self._maker, self._stream)
    self._assembler = concurrent.futures.ThreadPoolExecutor(
        1, thread_name_prefix="vst-batches")
    self._pending = collections.deque()  # (position, future of batch)

  def items(self, position: int) -> range:
    return self._items(position)

  def _assemble(self, position: int, futures) -> tuple[registry.Batch, list]:
    return assemble_batch(self._spec, self._train_seed, position,
                          [f.result() for f in futures])

  def _schedule(self, position: int) -> None:
    futures = [self._pool.submit(workers.train_item, self._key, item)
               for item in self.items(position)]
    self._pending.append(
        (position, self._assembler.submit(self._assemble, position, futures)))

  def _next_result(self) -> tuple[registry.Batch, list]:
    """(batch, skipped) at the current position."""
    while len(self._pending) <= self._spec.prefetch:
      self._schedule(self._position + len(self._pending))
    _, future = self._pending.popleft()
    return future.result()

  def __next__(self) -> registry.Batch:
    batch, skipped = self._next_result()
    self._position += 1
    for skip in skipped:
      self.skipped[skip.reason] += 1
      # Each bad file once per run: an epoch meets it again every time.
      if skip.sample not in self._recorded:
        self._recorded.add(skip.sample)
        self._records.append(skip_record(self._maker, skip, "train"))
    total = sum(self.skipped.values())
    if total and total >= max(1, 10 * self._reported):
      self._reported = total
      _log(f"{self._spec.name} train: skipped {total} unusable clips so far "
           f"({self._counts()}), the latest "
           f"{skip_record(self._maker, skipped[-1], 'train')['path'] if skipped else 'earlier'}")
    self._check_skip_fraction(total)
    return batch

  def _counts(self) -> str:
    return ", ".join(f"{k}={v}" for k, v in self.skipped.items() if v)

  def _check_skip_fraction(self, total: int) -> None:
    read = total + self._position * self._items.size
    limit = self._spec.max_skip_fraction
    if read >= MIN_SAMPLES_FOR_SKIP_FRACTION and total > limit * read:
      raise workers.DataUnusableError(
          f"{total} of the {read} train samples read so far failed "
          f"({self._counts()}), more than dataset.max_skip_fraction={limit}; "
          f"the files and errors are listed in the workdir's skipped.jsonl")

  def drain_skipped(self) -> list[dict]:
    """The skip records since the last call (path, cause, message)."""
    records, self._records = self._records, []
    return records

  def state(self) -> dict[str, Any]:
    return {"position": self._position,
            "global_batch_size": self._global_batch_size,
            "skipped": dict(self.skipped)}

  def restore(self, state: Mapping[str, Any]) -> None:
    position = registry.checked_position(self._spec.name, state,
                                         self._global_batch_size)
    self._drop_pending()
    self._position = position
    for reason, count in dict(state.get("skipped", {})).items():
      if reason in self.skipped:
        self.skipped[reason] = int(count)

  def close(self) -> None:
    """Stops the workers; may be called more than once. Process workers are
    waited for (each finishes at most its current clip), so none outlives
    the run."""
    self._drop_pending()
    self._assembler.shutdown(wait=False, cancel_futures=True)
    self._pool.shutdown(wait=self._spec.worker_type == "process",
                        cancel_futures=True)
    workers.unregister(self._key)

  def _drop_pending(self) -> None:
    for _, future in self._pending:
      future.cancel()
    # Running assemblies finish on their own; their results are dropped.
    self._pending.clear()


# ============================================================================
# Eval.
# ============================================================================

class EvalStream:
  """One pass of multi-view eval batches over a split, with a `report()`."""

  def __init__(self, spec: VideoSpec, maker: clips_lib.ClipMaker,
               index: VideoIndex, batch_size: int, num_clips: int = 1,
               num_crops: int = 1, shard_index: int = 0, shard_count: int = 1):
    self._spec, self._maker, self._index = spec, maker, index
    self._batch_size = batch_size
    self._num_clips, self._num_crops = num_clips, num_crops
    self._shard_index, self._shard_count = shard_index, shard_count
    self.unreadable = {reason: 0 for reason in workers.SKIP_REASONS}
    self.evaluated = 0
    self.problems: list[str] = []
    self._records: list[dict] = []

  @property
  def views_per_video(self) -> int:
    return self._num_clips * self._num_crops

  def _videos(self) -> list[Optional[int]]:
    """This host's videos; None pads it to the longest host's count."""
    n, s = len(self._maker), self._shard_count
    mine = list(range(self._shard_index, n, s))
    return mine + [None] * (-(-n // s) - len(mine))

  def num_batches(self) -> int:
    rows = len(self._videos()) * self.views_per_video
    return -(-rows // self._batch_size)

  def _rows(self) -> Iterator[dict]:
    key = _key("eval")
    pool = workers.make_pool(self._spec.worker_type, self._spec.num_workers,
                             key, self._maker)
    # Enough videos in flight to keep every worker busy, in order.
    window = max(4 * self._spec.num_workers, 8)
    pending = collections.deque()
    try:
      for video in self._videos():
        future = None if video is None else pool.submit(
            workers.eval_video, key, video, self._num_clips, self._num_crops)
        pending.append((video, future))
        if len(pending) >= window:
          yield from self._finish(*pending.popleft())
      while pending:
        yield from self._finish(*pending.popleft())
    finally:
      pool.shutdown(wait=False, cancel_futures=True)
      workers.unregister(key)

  def _finish(self, video, future) -> Iterator[dict]:
    views, failure = (None, None) if future is None else future.result()
    if views is None:
      if failure is not None:
        self.unreadable[failure.reason] += 1
        if len(self.problems) < 20:
          self.problems.append(failure.message)
        self._records.append(skip_record(self._maker, failure, "eval"))
      for _ in range(self.views_per_video):
        yield {"row": None, "video_id": -1}
      return
    self.evaluated += 1
    for view in views:
      yield {"row": view, "video_id": video}

  def __iter__(self) -> Iterator[registry.Batch]:
    rows = []
    for row in self._rows():
      rows.append(row)
      if len(rows) == self._batch_size:
        yield self._batch(rows)
        rows = []
    if rows:
      yield self._batch(rows)

  def _batch(self, rows: list[dict]) -> registry.Batch:
    """`rows` stacked and padded to the batch size; "mask" 0 marks padding
    and the views of videos that could not be read."""
    zero = clips_lib.zero_inputs(self._spec)
    inputs = [zero if r["row"] is None else
              clips_lib.to_inputs(r["row"]["inputs"], self._spec)
              for r in rows]
    inputs += [zero] * (self._batch_size - len(rows))
    rows = rows + [{"row": None, "video_id": -1}] * (self._batch_size - len(rows))
    if isinstance(zero, dict):
      stacked = {k: np.stack([x[k] for x in inputs]) for k in zero}
    else:
      stacked = np.stack(inputs)
    return {
        "inputs": stacked,
        "label": np.asarray([0 if r["row"] is None else r["row"]["label"]
                             for r in rows], np.int32),
        "video_id": np.asarray([r["video_id"] for r in rows], np.int64),
        "mask": np.asarray([r["row"] is not None for r in rows], np.float32),
    }

  def drain_skipped(self) -> list[dict]:
    """The skip records since the last call (path, cause, message)."""
    records, self._records = self._records, []
    return records

  def report(self) -> dict[str, dict[str, int]]:
    """Counts behind the coverage: "global" ones are the same on every host
    (from the annotation index), "per_host" ones are summed over hosts."""
    return {
        "global": {"videos_annotated": self._index.num_annotated,
                   "videos_missing": self._index.missing,
                   "annotation_bad_rows": self._index.bad_rows},
        "per_host": {"videos_evaluated": self.evaluated,
                     **{f"videos_{k}": v for k, v in self.unreadable.items()
                        if k != "missing"},
                     "videos_vanished": self.unreadable["missing"]},
    }

