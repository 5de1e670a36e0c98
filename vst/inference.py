"""A trained model outside the training loop: what predict, feature extraction
and attention maps share.

`load` restores the latest checkpoint of a workdir (the same state the
trainer saved, placed with the trainer's shardings) and names the classes;
`video_views` turns any video file or frame folder into the config's test
views, exactly as evaluation samples them (`ClipMaker.test_views`), so a
prediction on a file equals what `--mode=eval` scores for it; `make_apply`
jits the forward pass and can return named intermediates ("pre_logits",
attention maps) next to the logits.
"""

import dataclasses
import hashlib
import os
from typing import Any, Callable, NamedTuple, Optional, Sequence

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from vst import checkpointing
from vst import observe
from vst import run_config
from vst import sharding as sharding_lib
from vst import train as train_lib
from vst.data import clips as clips_lib
from vst.data import decode
from vst.data import flow_precompute
from vst.data import flow_store
from vst.data import optical_flow
from vst.data import registry as data_registry
from vst.data import video_spec as spec_lib
from vst.errors import ConfigError


class Loaded(NamedTuple):
  """A model ready to apply.

  Attributes:
    model: the flax Module the config describes.
    variables: {"params", ["batch_stats"]} of the restored (or initialised)
      state.
    step: the checkpoint's step; None when initialised (allow_init).
    class_names: label of each class index.
    mesh: the mesh the variables are placed on; apply under `jax.set_mesh`.
  """
  model: Any
  variables: dict
  step: Optional[int]
  class_names: list[str]
  mesh: Any


def class_names(config, workdir: Optional[str] = None) -> list[str]:
  """The class names the run in `workdir` saved, else the dataset's, else
  "class_<k>" (e.g. a real dataset whose annotations are not on this
  machine)."""
  saved = run_config.class_names(workdir)
  if saved is not None and len(saved) == config.dataset.num_classes:
    return saved
  builder = data_registry.get_dataset(config.dataset.name)
  try:
    names = list(builder.class_names(config.dataset))
  except (ConfigError, OSError) as e:
    observe.log(f"class names of {config.dataset.name} unavailable ({e}); "
                "using class_<k>")
    names = data_registry.numbered_classes(config.dataset.num_classes)
  if len(names) != config.dataset.num_classes:
    return data_registry.numbered_classes(config.dataset.num_classes)
  return names


def load(config, workdir: Optional[str], allow_init: bool = False) -> Loaded:
  """The latest checkpoint of `workdir` for the model of `config`.

  Args:
    config: the config the run was trained with.
    workdir: the run's directory (holding checkpoints/), or None.
    allow_init: without a checkpoint, initialise from config.train.seed
      instead of failing (for attention maps of an untrained model, tests).

  Raises:
    ConfigError: no checkpoint (and not allow_init), or a checkpoint written
      by a different model.
  """
  model, tx, _ = train_lib.build(config)
  mesh = sharding_lib.make_mesh(config.mesh)
  abstract = train_lib.abstract_state(config, model, tx)
  shardings = sharding_lib.param_shardings(
      abstract, mesh, config.mesh.param_sharding,
      config.mesh.get("sharding_rules", ()))
  folder = os.path.join(workdir, "checkpoints") if workdir else None
  restored = None
  if folder and os.path.isdir(folder):
    mgr = checkpointing.manager(workdir, config.checkpoint.every_steps,
                                config.checkpoint.keep)
    # Read-only use: a damaged checkpoint is skipped, not moved.
    restored = train_lib.restore_newest(mgr, workdir, config, abstract,
                                        shardings, move_damaged=False)
  if restored is None:
    if not allow_init:
      raise ConfigError(
          f"no checkpoint in {folder or '(no --workdir given)'}: train first "
          f"(python -m vst.main --config=... --workdir=...) or pass the run's "
          f"--workdir")
    step = None
    with jax.set_mesh(mesh):
      state = train_lib.create_state(config, model, tx, shardings)
  else:
    step, state, _ = restored
  return Loaded(model, train_lib.variables_of(state), step,
                class_names(config, workdir), mesh)


def make_apply(model, collections: Sequence[str] = ()) -> Callable:
  """jit(variables, inputs) -> logits, or (logits, {collection: tree}).

  Sown values in `collections` (e.g. "intermediates" for "pre_logits") are
  returned; collections not asked for cost nothing, XLA drops them.
  """
  collections = tuple(collections)

  def apply(variables, inputs):
    if not collections:
      return model.apply(variables, inputs, train=False).astype(jnp.float32)
    logits, state = model.apply(variables, inputs, train=False,
                                mutable=list(collections))
    return logits.astype(jnp.float32), dict(state)
  return jax.jit(apply)


def apply_in_batches(apply: Callable, variables, inputs, batch_size: int):
  """`apply` over the first axis of `inputs` in chunks of `batch_size`; the
  last chunk is padded so every call has one shape (one compile)."""
  first = jax.tree.leaves(inputs)[0]
  total = first.shape[0]
  outputs = []
  for start in range(0, total, batch_size):
    chunk = jax.tree.map(lambda x: x[start:start + batch_size], inputs)
    n = jax.tree.leaves(chunk)[0].shape[0]
    if n < batch_size:
      chunk = jax.tree.map(
          lambda x: np.concatenate(
              [x, np.zeros((batch_size - n,) + x.shape[1:], x.dtype)]), chunk)
    out = jax.device_get(apply(variables, chunk))
    outputs.append(jax.tree.map(lambda x: np.asarray(x)[:n], out))
  return jax.tree.map(lambda *xs: np.concatenate(xs), *outputs)


# ============================================================================
# Videos.
# ============================================================================

# Datasets that make their clips in memory; their models read RGB clips
# sampled from a file the same way (synthetic_motion is rendered in [-1, 1],
# the "minus_one_to_one" normalisation of decoded frames).
_RGB_CLIP_DATASETS = ("synthetic_motion", "synthetic_motion_appearance")


def file_spec(config) -> spec_lib.VideoSpec:
  """How files are read for `config`'s model: its dataset's `VideoSpec`.

  Raises ConfigError for datasets whose inputs are not clips of a video
  (the synthetic TSN streams build snippet modalities in memory).
  """
  dataset = config.dataset
  data_registry.get_dataset(dataset.name)  # names the allowed datasets
  if dataset.name.startswith("synthetic") and (
      dataset.name not in _RGB_CLIP_DATASETS):
    raise ConfigError(
        f"dataset.name={dataset.name!r} builds TSN snippet modalities in "
        "memory, not clips of a file; to run a multi-stream model on video "
        "files use a real-video config (e.g. configs/tsn_ucf101.py, "
        f"configs/two_stream_ucf101.py); files are read for "
        f"{', '.join(_RGB_CLIP_DATASETS)} and the real-video datasets")
  spec_config = ml_collections.ConfigDict(dataset.to_dict())
  if dataset.name in _RGB_CLIP_DATASETS and not spec_config.get("min_resize"):
    # The model saw whole crop_size frames: resize the short side to exactly
    # that (no margin for a crop) so a file looks like what it trained on.
    spec_config.min_resize = dataset.crop_size
  if "flow" in tuple(spec_config.get("modalities") or ("rgb",)) and not (
      spec_config.get("flow_dir")):
    spec_config.flow_dir = "(computed per video)"
  return spec_lib.make_video_spec(spec_config)


def _flow_folder(spec: spec_lib.VideoSpec, path: str, cache_dir: str) -> str:
  """Flow of `path` computed once into `cache_dir` (reused when complete)."""
  key = hashlib.sha1(os.path.abspath(path).encode()).hexdigest()[:12]
  folder = os.path.join(cache_dir, f"{os.path.basename(path)}-{key}")
  if not flow_store.is_complete(folder):
    job = flow_precompute.FlowJob(
        path, folder, optical_flow.resolve_method("auto"), warp=False,
        bound=flow_store.DEFAULT_BOUND, min_resize=spec.min_resize, ext=".jpg")
    status, _ = flow_precompute.compute_one(job)
    if status != "ok":
      raise decode.DecodeError(f"optical flow of {path}: {status}")
  return folder


def clip_maker(config, path: str, cache_dir: Optional[str] = None
               ) -> tuple[spec_lib.VideoSpec, clips_lib.ClipMaker]:
  """(spec, a ClipMaker whose sample 0 is the video at `path`).

  Args:
    config: the model's config.
    path: a video file (mp4, avi, webm, mkv, ...) or a folder of frames.
    cache_dir: where optical flow is computed for flow models (default: a
      `vst_flow` folder in the system temp directory).

  Raises:
    decode.DecodeError (or MissingVideoError): the video cannot be read.
  """
  spec = file_spec(config)
  if not (os.path.isfile(path) or (os.path.isdir(path) and
                                   _holds_frames(path))):
    raise decode.MissingVideoError(
        f"{path}: not a video file or a folder of frames")
  flow_folders = ()
  if "flow" in spec.modalities:
    cache_dir = cache_dir or os.path.join(
        os.environ.get("TMPDIR", "/tmp"), "vst_flow")
    flow_folders = (_flow_folder(spec, path, cache_dir),)
  return spec, clips_lib.ClipMaker(spec, [path], np.zeros(1, np.int32),
                                   flow_folders)


def stack_views(views: list[dict], spec: spec_lib.VideoSpec):
  """Model inputs [V, ...] (a dict of them for RGB + flow) of clip views."""
  inputs = [clips_lib.to_inputs(v["inputs"], spec) for v in views]
  if isinstance(inputs[0], dict):
    return {k: np.stack([x[k] for x in inputs]) for k in inputs[0]}
  return np.stack(inputs)


def video_views(config, path: str, cache_dir: Optional[str] = None,
                num_clips: Optional[int] = None,
                num_crops: Optional[int] = None) -> tuple[Any, list[dict]]:
  """The config's test views of one video file or frame folder.

  Args:
    config: the model's config; eval.num_clips × eval.num_crops views unless
      `num_clips` / `num_crops` say otherwise.
    path, cache_dir: see `clip_maker`.

  Returns:
    (inputs, layouts): inputs float32 [V, T, S, S, C] (a dict of them for
    RGB + flow) and per view {"frames", "box", "flip", "fps"}.
  """
  spec, maker = clip_maker(config, path, cache_dir)
  views = maker.test_views(
      0, num_clips or int(config.eval.num_clips),
      num_crops or int(config.eval.num_crops), with_layout=True)
  return stack_views(views, spec), [v["layout"] for v in views]


def _holds_frames(folder: str) -> bool:
  return any(n.lower().endswith(decode.IMAGE_EXTENSIONS)
             for n in os.listdir(folder))


def list_videos(paths: Sequence[str]) -> list[str]:
  """Video files and frame folders named by `paths`: a folder holding images
  is one video (its frames); any other folder stands for every video under
  it, sorted."""
  from vst.data.sources import index as index_lib  # pylint: disable=g-import-not-at-top
  found = []
  for path in paths:
    if os.path.isdir(path) and not _holds_frames(path):
      videos = index_lib.list_videos(os.path.abspath(path))
      if not videos:
        raise decode.MissingVideoError(
            f"{path}: a folder without videos ({', '.join(sorted(set(decode.VIDEO_EXTENSIONS)))}) or frame folders")
      found.extend(videos)
    elif os.path.exists(path):
      found.append(path)
    else:
      raise decode.MissingVideoError(f"{path}: no such file or folder")
  return found


def describe(spec: spec_lib.VideoSpec) -> dict:
  """The sampling settings a prediction or feature file was made with."""
  return {"num_frames": spec.num_frames, "crop_size": spec.crop_size,
          "min_resize": spec.min_resize,
          "clip": dataclasses.asdict(spec.clip),
          "modalities": list(spec.modalities)}
