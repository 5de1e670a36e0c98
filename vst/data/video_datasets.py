"""Real-video datasets by name; `dataset.data_dir` points a config at the data.

  kinetics400/600/700   annotation CSVs            vst.data.sources.kinetics
  ucf101, hmdb51        official splits, 3 folds   vst.data.sources.ucf_hmdb
  ssv2                  labels JSON                vst.data.sources.ssv2
  video_folder          <split>/<class>/<video>    vst.data.sources.folders

With dataset.source=tfds, any of these names reads a prepared TFDS builder
instead (dataset.tfds_name, `vst.data.sources.tfds_source`).

Each reads video files (mp4/avi/webm/mkv) or frame folders; decoding,
sampling, augmentation and batching are shared (`vst.data.video_spec` lists
the config fields). Eval splits yield every view of every video with a
"video_id" for `vst.evaluate` to aggregate, and report how many annotated
videos could be used (the coverage printed beside every accuracy).
"""

import functools
import os
from typing import Iterator, Optional

from vst.data import clips as clips_lib
from vst.data import flow_store
from vst.data import grain_pipeline
from vst.data import registry
from vst.data import spatial
from vst.data import video_pipeline
from vst.data import video_spec as spec_lib
from vst.data.sources import folders
from vst.data.sources import index as index_lib
from vst.data.sources import kinetics
from vst.data.sources import ssv2
from vst.data.sources import tfds_source
from vst.data.sources import ucf_hmdb
from vst.errors import ConfigError

LAYOUTS = {
    **{name: kinetics.layout(name) for name in kinetics.VERSIONS},
    "ucf101": ucf_hmdb.UCF_LAYOUT,
    "hmdb51": ucf_hmdb.HMDB_LAYOUT,
    "ssv2": ssv2.LAYOUT,
    "video_folder": folders.LAYOUT,
}


@functools.lru_cache(maxsize=32)
def _cached_index(name: str, data_dir: str, split: str,
                  fold: int) -> index_lib.VideoIndex:
  if name in kinetics.VERSIONS:
    return kinetics.kinetics_index(data_dir, name, split)
  if name == "ucf101":
    return ucf_hmdb.ucf101_index(data_dir, split, fold)
  if name == "hmdb51":
    return ucf_hmdb.hmdb51_index(data_dir, split, fold)
  if name == "ssv2":
    return ssv2.ssv2_index(data_dir, split)
  return folders.folder_index(data_dir, split)


@functools.lru_cache(maxsize=32)
def _cached_tfds_index(tfds_name: str, data_dir: str,
                       split: str) -> index_lib.VideoIndex:
  return tfds_source.tfds_index(tfds_name, data_dir, split)


def load_index(spec: spec_lib.VideoSpec, split: str) -> index_lib.VideoIndex:
  """The split's `VideoIndex` (cached per process)."""
  if spec.source == "tfds":
    index = _cached_tfds_index(spec.tfds_name, spec.data_dir, split)
  else:
    index = _cached_index(spec.name, spec.data_dir, split, spec.fold)
  if len(index.class_names) != spec.num_classes:
    raise ConfigError(
        f"dataset.num_classes={spec.num_classes} but {spec.name} at "
        f"{spec.data_dir} has {len(index.class_names)} classes; set "
        f"--config.dataset.num_classes={len(index.class_names)}")
  return index


def _flow_folders(spec, index) -> list[Optional[str]]:
  """Each video's flow folder: flow_dir/<path relative to data_dir, without
  extension> (what `vst.tools.flow --src DATA_DIR` writes), else the flow
  folder of the same stem anywhere under flow_dir."""
  if "flow" not in spec.modalities:
    return []
  by_stem = flow_store.find_flow(spec.flow_dir)
  folders = []
  for path in index.paths:
    rel = os.path.splitext(os.path.relpath(path, spec.data_dir))[0]
    folder = os.path.join(spec.flow_dir, rel)
    if not flow_store.is_complete(folder):
      folder = by_stem.get(index_lib.stem(path))
    folders.append(folder)
  return folders


def make_clip_maker(spec, index, split: str) -> clips_lib.ClipMaker:
  frames = None
  if spec.source == "tfds":
    frames = tfds_source.TfdsFrames(spec.tfds_name, spec.data_dir, split)
  return clips_lib.ClipMaker(spec, index.paths, index.labels,
                             _flow_folders(spec, index), frames)


def _spec(config) -> spec_lib.VideoSpec:
  spec = spec_lib.make_video_spec(config)
  if spec.source == "tfds" and "flow" in spec.modalities:
    raise ConfigError(
        f"dataset.modalities={spec.modalities} with dataset.source='tfds': "
        "TFDS records hold RGB frames only; precomputed flow needs "
        "dataset.source='files' (python -m vst.tools.flow)")
  return spec


def _builder(name: str) -> registry.DatasetBuilder:
  def train(config, batch_size: int, seed: int = 0, shard_index: int = 0,
            shard_count: int = 1) -> video_pipeline.VideoTrainIterator:
    spec = _spec(config)
    index = load_index(spec, "train")
    iterator = video_pipeline.VideoTrainIterator
    if spec.loader == "grain":
      iterator = grain_pipeline.GrainTrainIterator
    return iterator(
        spec, make_clip_maker(spec, index, "train"), batch_size, seed,
        shard_index, shard_count)

  def eval_batches(config, split: str, batch_size: int, shard_index: int = 0,
                   shard_count: int = 1,
                   views: tuple[int, int] = (1, 1)) -> Iterator[registry.Batch]:
    spec = _spec(config)
    num_clips, num_crops = views
    if not isinstance(num_clips, int) or num_clips < 1:
      raise ConfigError(f"eval.num_clips={num_clips!r} is not valid; allowed: "
                        "integers >= 1")
    spatial.check_num_crops(num_crops)
    index = load_index(spec, split)
    return video_pipeline.EvalStream(
        spec, make_clip_maker(spec, index, split), index, batch_size, num_clips,
        num_crops, shard_index, shard_count)

  def num_examples(config, split: str) -> int:
    return len(load_index(_spec(config), split))

  def validate(config) -> None:
    spec = _spec(config)
    if spec.source != "tfds":
      index_lib.check_data_dir(spec.data_dir, name, LAYOUTS[name])
    index = load_index(spec, "train")
    if not len(index):
      raise ConfigError(f"dataset.data_dir={spec.data_dir!r}: no usable train "
                        f"videos for {name} ({index.summary()}); it needs "
                        f"{LAYOUTS[name]}")

  def input_spec(config):
    return spec_lib.input_spec(spec_lib.make_video_spec(config))

  def class_names(config) -> list[str]:
    return list(load_index(_spec(config), "train").class_names)

  def describe(config, split: str) -> dict:
    return load_index(_spec(config), split).describe()

  return registry.DatasetBuilder(train=train, eval=eval_batches,
                                 num_examples=num_examples, validate=validate,
                                 input_spec=input_spec, class_names=class_names,
                                 describe=describe)


for _name in LAYOUTS:
  registry.register(_name, _builder(_name))
