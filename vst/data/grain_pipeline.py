"""The real-video train stream on Grain (`dataset.loader=grain`).

The batches are `VideoTrainIterator`'s, bit for bit: batch `position` is
made by one Grain task from the same stream items, seeds and skip rules
(`vst.data.workers.train_item`), so switching the loader changes where the
work runs, never what the model sees. Grain runs the tasks in parallel and
prefetches `dataset.prefetch` batches: on threads
(`dataset.worker_type=thread`), or in `dataset.num_workers` processes
(`process`, Grain's `mp_prefetch`). Resuming rebuilds the Grain pipeline at
the restored position; the state is the same {"position", ...} dict.
"""

from absl import flags

from vst.data import registry
from vst.data import video_pipeline
from vst.data import workers

# Batch positions the pipeline may reach: endless in practice.
_END = 1 << 62


class _BatchAt:
  """position -> (batch, skipped); pickled into Grain's worker processes,
  where it registers the clip maker on first use."""

  def __init__(self, key, maker, stream, spec, train_seed, items):
    self.key, self.maker, self.stream = key, maker, stream
    self.spec, self.train_seed, self.items = spec, train_seed, items

  def __call__(self, position: int):
    workers.ensure_registered(self.key, self.maker, self.stream)
    results = [workers.train_item(self.key, item)
               for item in self.items(int(position))]
    return video_pipeline.assemble_batch(self.spec, self.train_seed,
                                         int(position), results)


class GrainTrainIterator(video_pipeline.VideoTrainIterator):
  """`VideoTrainIterator` whose batches Grain makes and prefetches."""

  def _start_workers(self) -> None:
    self._iterator = None

  def _pipeline(self):
    import grain  # pylint: disable=g-import-not-at-top
    spec = self._spec
    make = _BatchAt(self._key, self._maker, self._stream, spec,
                    self._train_seed, self._items)
    dataset = grain.MapDataset.range(self._position, _END).map(make)
    if spec.worker_type == "process":
      # Grain's process pool reads its absl flags; outside an absl app
      # (a notebook, a test) they are unparsed, so take their defaults.
      if not flags.FLAGS.is_parsed():
        flags.FLAGS.mark_as_parsed()
      dataset = dataset.to_iter_dataset(grain.ReadOptions(
          num_threads=1, prefetch_buffer_size=1)).mp_prefetch(
              grain.MultiprocessingOptions(
                  num_workers=spec.num_workers,
                  per_worker_buffer_size=max(1, spec.prefetch)))
    else:
      dataset = dataset.to_iter_dataset(grain.ReadOptions(
          num_threads=spec.num_workers,
          prefetch_buffer_size=max(1, spec.prefetch)))
    return iter(dataset)

  def _next_result(self) -> tuple[registry.Batch, list]:
    if self._iterator is None:
      self._iterator = self._pipeline()
    return next(self._iterator)

  def _drop_pending(self) -> None:
    self._iterator = None

  def close(self) -> None:
    self._iterator = None
    workers.unregister(self._key)
