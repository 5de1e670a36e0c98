"""Datasets by name. A dataset turns `config.dataset` into host-side batches.

Batches are dicts of numpy arrays:
  "inputs": float32[B, T, H, W, C] (or a dict of modalities, e.g. {"rgb", "flow"})
  "label":  int32[B]
  "mask":   float32[B], eval only: 0 marks padding added to fill the last batch.

A dataset module of the `vst.data` package registers a `DatasetBuilder` on
import (`register(name, builder)`); the registry imports every module of the
package the first time a name is looked up, so adding a dataset is adding a
file. The builder's methods are all the trainer uses; a dataset never touches
a device.
"""

import dataclasses
from typing import Any, Callable, Iterator, Mapping

import numpy as np

from vst.errors import ConfigError
from vst.registry import PackageModules, Registry

Batch = dict[str, Any]


class TrainIterator:
  """An endless iterator of training batches whose position can be saved.

  `state()` returns a JSON-serialisable dict and `restore(state)` puts the
  iterator back there, so a resumed run sees exactly the batches it would
  have seen without the interruption.
  """

  def __next__(self) -> Batch:
    raise NotImplementedError

  def __iter__(self):
    return self

  def state(self) -> dict[str, Any]:
    raise NotImplementedError

  def restore(self, state: Mapping[str, Any]) -> None:
    raise NotImplementedError


@dataclasses.dataclass(frozen=True)
class DatasetBuilder:
  """How to read one dataset.

  train(config, batch_size, seed, shard_index, shard_count) -> TrainIterator
    `batch_size` is this host's share; the host reads only its shard.
  eval(config, split, batch_size, shard_index, shard_count[, views]) ->
      Iterable[Batch]
    one pass over `split`, the last batch padded and marked by "mask".
    `views` = (eval.num_clips, eval.num_crops) is passed only for multi-view
    evaluation; a dataset with several views per video gives each row a
    "video_id" shared by the views of one video. The iterable may have a
    `report()` of skipped videos (see `vst.evaluate.coverage_metrics`).
  num_examples(config, split) -> int
  validate(config) -> None: raises ConfigError naming a bad dataset field.
  input_spec(config) -> per-example shape of "inputs": a tuple (T, H, W, C), or
    a dict of tuples for multi-modal inputs; the trainer initialises models
    and counts FLOPs from it without reading data.
  class_names(config) -> the label of each class index, for predictions
    (`vst.predict`); "class_<k>" where a dataset has no names.
  describe(config, split) -> what the split holds on disk (annotated, found,
    missing, classes, balance; `VideoIndex.describe`), or None for
    procedural data; the trainer reports it at start-up.
  """
  train: Callable[..., TrainIterator]
  eval: Callable[..., Iterator[Batch]]
  num_examples: Callable[[Any, str], int]
  validate: Callable[[Any], None] = lambda config: None
  input_spec: Callable[[Any], Any] = lambda config: rgb_clip_shape(config)
  class_names: Callable[[Any], list[str]] = lambda config: numbered_classes(
      config.num_classes)
  describe: Callable[[Any, str], Any] = lambda config, split: None


def numbered_classes(num_classes: int) -> list[str]:
  return [f"class_{k}" for k in range(int(num_classes))]


def checked_position(name: str, state: Mapping[str, Any],
                     global_batch_size: int) -> int:
  """The saved position of a batch-counting train stream, checked.

  Positions count global batches, so they mean the same clips only at the
  batch size they were saved at.
  """
  saved = state.get("global_batch_size", global_batch_size)
  if saved != global_batch_size:
    raise ConfigError(
        f"cannot resume the {name} train stream: it was saved at global "
        f"batch size {saved}, now train.batch_size is {global_batch_size}")
  position = int(state["position"])
  if position < 0:
    raise ValueError(f"bad train iterator position {position}")
  return position


def rgb_clip_shape(config) -> tuple[int, int, int, int]:
  """(T, H, W, 3) of one RGB clip as the dataset config describes it."""
  return (int(config.num_frames), int(config.crop_size), int(config.crop_size), 3)


DATASETS: Registry[DatasetBuilder] = Registry("dataset", "dataset.name",
                                              PackageModules("vst.data"))


def register(name: str, builder: DatasetBuilder) -> None:
  DATASETS.register(name, builder)


def list_datasets() -> list[str]:
  return DATASETS.names()


def get_dataset(name: str) -> DatasetBuilder:
  return DATASETS.get(name)


def pad_batch(examples: list[Batch], batch_size: int) -> Batch:
  """Stacks `examples` and pads to `batch_size` rows, with "mask" marking real rows."""
  n = len(examples)
  batch = {}
  for key in examples[0]:
    stacked = np.stack([e[key] for e in examples])
    if n < batch_size:
      pad = np.zeros((batch_size - n,) + stacked.shape[1:], stacked.dtype)
      stacked = np.concatenate([stacked, pad])
    batch[key] = stacked
  batch["mask"] = (np.arange(batch_size) < n).astype(np.float32)
  return batch
