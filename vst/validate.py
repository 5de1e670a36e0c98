"""Start-up checks: every bad value stops the run with one line naming the field.

These run before anything is compiled or read, so a typo costs seconds, not a
queued job on a pod.
"""

import math
import os
import tempfile

import jax

from vst import evaluate as evaluate_lib
from vst import init_2d
from vst import optim
from vst import sharding as sharding_lib
from vst.data import registry as data_registry
from vst.errors import ConfigError, check_choice
from vst.models import registry as model_registry

REQUIRED_SECTIONS = ("model", "dataset", "train", "eval", "mesh", "checkpoint")


def _positive(field: str, value, allow_zero: bool = False) -> None:
  ok = isinstance(value, int) and (value >= 0 if allow_zero else value > 0)
  if not ok:
    bound = ">= 0" if allow_zero else ">= 1"
    raise ConfigError(f"{field}={value!r} must be an integer {bound}")


def check_config(config, *, data: bool = True) -> None:
  """Every start-up check; `data=False` skips those that read the dataset's
  files (sizing a model on random inputs needs none)."""
  for section in REQUIRED_SECTIONS:
    if section not in config:
      raise ConfigError(f"config has no '{section}' section; a config needs "
                        f"{', '.join(REQUIRED_SECTIONS)} (start from "
                        f"vst.config_base.base_config())")
  train, dataset = config.train, config.dataset
  for field in ("num_frames", "crop_size", "num_classes"):
    _positive(f"dataset.{field}", dataset[field])
  for field in ("num_steps", "batch_size", "grad_accum_steps", "log_every_steps"):
    _positive(f"train.{field}", train[field])
  _positive("train.eval_every_steps", train.eval_every_steps, allow_zero=True)
  _positive("checkpoint.every_steps", config.checkpoint.every_steps)
  _positive("checkpoint.keep", config.checkpoint.keep)
  if not 0.0 <= train.label_smoothing < 1.0:
    raise ConfigError(
        f"train.label_smoothing={train.label_smoothing} must be in [0, 1)")
  _check_optimizer_numbers(train)
  _check_eval_fields(config.eval)

  builder = data_registry.get_dataset(dataset.name)
  if data:
    builder.validate(dataset)
    # The eval split is read only at the first evaluation, hours in: look it
    # up now (a bad name, a missing annotation file) so a typo costs seconds.
    builder.num_examples(dataset, config.eval.split)
  model = model_registry.build_model(config.model, dataset.num_classes)
  model_registry.check_input_shape(model, builder.input_spec(dataset))
  optim.make_optimizer(train)

  _check_init_from(config)

  mesh = sharding_lib.make_mesh(config.mesh)
  check_mesh_spans_processes(mesh, config.mesh)
  _check_model_axis_is_used(config.mesh)
  data_size = mesh.shape["data"]
  per_step = train.batch_size // train.grad_accum_steps
  if train.batch_size % train.grad_accum_steps:
    raise ConfigError(
        f"train.batch_size={train.batch_size} is not divisible by "
        f"train.grad_accum_steps={train.grad_accum_steps}")
  if per_step % data_size or train.batch_size % jax.process_count():
    raise ConfigError(
        f"train.batch_size={train.batch_size} (÷ grad_accum_steps="
        f"{train.grad_accum_steps}) must be divisible by the mesh's data axis "
        f"({data_size} devices) and the {jax.process_count()} processes")
  if config.eval.batch_size % data_size:
    raise ConfigError(
        f"eval.batch_size={config.eval.batch_size} must be divisible by the "
        f"mesh's data axis ({data_size} devices)")


def _non_negative(field: str, value) -> None:
  if (isinstance(value, bool) or not isinstance(value, (int, float))
      or not math.isfinite(value) or value < 0):
    raise ConfigError(f"{field}={value!r} must be a finite number >= 0")


def _check_optimizer_numbers(train) -> None:
  """Values that train without an error but not as intended: a negative
  learning rate ascends the loss, a negative weight decay grows weights."""
  _non_negative("train.learning_rate", train.learning_rate)
  _non_negative("train.weight_decay", train.weight_decay)
  _non_negative("train.grad_clip_norm", train.grad_clip_norm)
  _non_negative("train.momentum", train.momentum)
  for field in ("b1", "b2"):
    value = train[field]
    if not isinstance(value, (int, float)) or not 0.0 <= value < 1.0:
      raise ConfigError(f"train.{field}={value!r} must be in [0, 1)")


def _check_eval_fields(eval_config) -> None:
  _positive("eval.batch_size", eval_config.batch_size)
  _positive("eval.num_clips", eval_config.num_clips)
  _positive("eval.num_crops", eval_config.num_crops)
  _positive("eval.max_examples", eval_config.max_examples, allow_zero=True)
  check_choice("eval.aggregation", eval_config.aggregation,
               evaluate_lib.AGGREGATIONS)


def _check_model_axis_is_used(mesh_config) -> None:
  """A model axis only tensor-parallel modes split over; under the others
  it would hold copies of everything, a silent waste of its devices."""
  mode = mesh_config.param_sharding
  if int(mesh_config.model) > 1 and "tp" not in mode.split("+"):
    raise ConfigError(
        f"mesh.model={mesh_config.model} with mesh.param_sharding={mode!r} "
        "would only copy the model on that axis; allowed: "
        "mesh.param_sharding='tp' or 'fsdp+tp' (tensor parallelism), or "
        "mesh.model=1")


def check_mesh_spans_processes(mesh, mesh_config) -> None:
  """On several processes, every process's devices are in the mesh and form
  whole rows of its data axis.

  Each process feeds its own rows of the batch; a row of the 'model' axis
  that spans two processes would need both to load the same clips, and a
  process left out of the mesh would hang the others at the first save.
  """
  processes = jax.process_count()
  if processes == 1:
    return
  if mesh.devices.size != jax.device_count():
    raise ConfigError(
        f"mesh.num_devices={mesh_config.num_devices} leaves "
        f"{jax.device_count() - mesh.devices.size} of the "
        f"{jax.device_count()} devices of the {processes} processes out of "
        "the mesh; allowed with several processes: 0 (every device)")
  for row in mesh.devices:
    owners = {d.process_index for d in row}
    if len(owners) > 1:
      raise ConfigError(
          f"mesh.model={mesh.shape['model']} spans processes "
          f"{sorted(owners)}: with {processes} processes of "
          f"{jax.local_device_count()} devices, mesh.model must divide "
          f"{jax.local_device_count()} so that each process holds whole "
          "rows of the batch")


def _check_init_from(config) -> None:
  """`init_from`: known choices and, when a path is set, a file to read.

  Whether the file's layout fits the model is only known once it is read;
  the trainer raises that ConfigError before the first step.
  """
  init_from = config.get("init_from")
  if init_from is None:
    return
  init_2d.check_options(init_from)
  if init_from.path and not os.path.isfile(init_from.path):
    raise ConfigError(
        f"init_from.path={init_from.path!r} is not a file; allowed: an image "
        "checkpoint (.npz, .safetensors, .pth) or \"\" for no initialisation")


def check_workdir(workdir: str) -> None:
  if not workdir:
    raise ConfigError("--workdir is required: the directory for checkpoints, "
                      "TensorBoard events and summary.json")
  try:
    os.makedirs(workdir, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=workdir):
      pass
  except OSError as e:
    raise ConfigError(f"--workdir={workdir} is not writable: {e.strerror}") from e
