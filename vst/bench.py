r"""Speed and memory of a config's model, against the machine and a reference.

  python -m vst.bench --config=configs/vivit_synthetic.py [--json PATH]
      [--config.train.batch_size=8] [--runs 5] [--noreference] [--data]

Prints parameters, GMACs per clip, compile time, forward and train-step clips/s
(median of several runs after warm-up), peak memory of the train step (XLA's
memory analysis; the allocator's peak where the backend reports one), and the
fraction of the machine's measured float32 matmul throughput that the train
step reaches, counting only its matmul and convolution FLOPs. With torch
installed and a PyTorch reference registered for the model
(vst.models.convert.references), it times the reference at the same shape
and prints our/their speed ratio.

The model runs on random inputs of the config's shapes, so a config can be
sized before its data exists (`num_classes` comes from the config); only
--data reads the dataset.

With --data it also times the config's own training input pipeline
(`config.dataset`: decode, sample, augment, batch; point a real dataset at its
files with --config.dataset.data_dir) and says which of the two, input or
train step, bounds training throughput on this machine.
"""

import json
import sys
import time

from absl import app
from absl import flags
from ml_collections import config_flags

from vst import timing

# Flags are defined only when run as a program, so that importing `bench`
# beside `vst.main` (tests, notebooks) does not define --config twice.
_FLAGS = {}


def _define_flags() -> None:
  _FLAGS["config"] = config_flags.DEFINE_config_file(
      "config", None, "configs/*.py file.", lock_config=True)
  _FLAGS["json"] = flags.DEFINE_string("json", None,
                                       "Also write the results here.")
  _FLAGS["runs"] = flags.DEFINE_integer(
      "runs", 5, "Timed runs; the median is reported.")
  _FLAGS["reference"] = flags.DEFINE_bool(
      "reference", True, "Time the PyTorch reference when there is one.")
  _FLAGS["data"] = flags.DEFINE_bool(
      "data", False, "Also time the config's training input pipeline.")
  _FLAGS["data_batches"] = flags.DEFINE_integer(
      "data_batches", 4, "Input batches timed by --data, after one warm-up.")


def matmul_peak_flops(runs: int = 5, n: int = 2048) -> float:
  """Measured float32 FLOP/s of one large square matmul on the default device."""
  import jax  # pylint: disable=g-import-not-at-top
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top
  a = jax.random.normal(jax.random.key(0), (n, n), jnp.float32)
  f = jax.jit(lambda x: x @ x)
  seconds = timing.median_seconds(lambda: f(a).block_until_ready(), runs)
  return 2 * n**3 / seconds


def peak_bytes(compiled) -> int:
  """Peak device memory of a compiled step, from XLA's memory analysis."""
  stats = compiled.memory_analysis()
  if stats is None:
    return -1
  return int(stats.argument_size_in_bytes + stats.output_size_in_bytes +
             stats.temp_size_in_bytes - stats.alias_size_in_bytes)


def check_config_for_sizing(config) -> None:
  """The start-up checks that matter for a model's size and speed, without
  needing data: the whole `validate.check_config` where the dataset is there
  (or needs no files); where dataset.data_dir is empty or holds no data, all
  but the checks that read the files."""
  from vst import validate  # pylint: disable=g-import-not-at-top
  from vst.data import registry as data_registry  # pylint: disable=g-import-not-at-top
  from vst.errors import ConfigError  # pylint: disable=g-import-not-at-top

  builder = data_registry.get_dataset(config.dataset.name)
  try:
    builder.validate(config.dataset)
  except ConfigError as e:
    # Every "the files are not there" error of a dataset names data_dir;
    # any other dataset error is a bad field whatever the data.
    if not str(e).startswith("dataset.data_dir"):
      raise
    validate.check_config(config, data=False)
  else:
    validate.check_config(config)


def bench(config, runs: int = 5, reference: bool = True) -> dict:
  import jax  # pylint: disable=g-import-not-at-top
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top
  from vst import flops as flops_lib  # pylint: disable=g-import-not-at-top
  from vst import sharding as sharding_lib  # pylint: disable=g-import-not-at-top
  from vst import train as train_lib  # pylint: disable=g-import-not-at-top

  check_config_for_sizing(config)
  batch_size = int(config.train.batch_size)
  mesh = sharding_lib.make_mesh(config.mesh)
  model, tx, schedule = train_lib.build(config)
  params, gmacs = train_lib.model_cost(config, model)
  abstract = train_lib.abstract_state(config, model, tx)
  shardings = sharding_lib.param_shardings(abstract, mesh,
                                           config.mesh.param_sharding,
                                           config.mesh.get("sharding_rules", ()))
  replicated = sharding_lib.replicated(mesh)
  batch_sharding = sharding_lib.batch_sharding(mesh)

  spec = train_lib.input_spec(config, batch_size)
  rng = jax.random.key(0)
  inputs = jax.tree_util.tree_map(
      lambda s: jax.random.normal(rng, s.shape, s.dtype), spec)
  labels = jnp.zeros((batch_size,), jnp.int32)
  batch = jax.device_put({"inputs": inputs, "label": labels}, batch_sharding)

  with jax.set_mesh(mesh):
    state = train_lib.create_state(config, model, tx, shardings)
    train_step = train_lib.make_train_step(model, tx, schedule, config)
    step_jit = jax.jit(train_step,
                       in_shardings=(shardings, batch_sharding, replicated),
                       out_shardings=(shardings, replicated))
    t0 = time.perf_counter()
    compiled_train = step_jit.lower(state, batch, rng).compile()
    compile_s = time.perf_counter() - t0
    fwd = jax.jit(train_lib.make_eval_step(model),
                  in_shardings=(shardings, batch_sharding))
    compiled_fwd = fwd.lower(state, batch).compile()

    train_s = timing.median_seconds(
        lambda: jax.block_until_ready(compiled_train(state, batch, rng)), runs)
    fwd_s = timing.median_seconds(
        lambda: jax.block_until_ready(compiled_fwd(state, batch)), runs)

  step_macs = flops_lib.count_macs(train_step, state, batch, rng)
  peak = matmul_peak_flops()
  result = {
      "model": f"{config.model.name}/{config.model.variant}",
      "input": list(jax.tree_util.tree_leaves(
          train_lib.input_spec(config, 1))[0].shape[1:]),
      "batch_size": batch_size,
      "device": jax.devices()[0].device_kind,
      "num_devices": jax.device_count(),
      "params": int(params),
      "gflops_per_clip": float(gmacs),
      "compile_s": compile_s,
      "fwd_clips_per_s": batch_size / fwd_s,
      "train_clips_per_s": batch_size / train_s,
      "peak_bytes": peak_bytes(compiled_train),
      "matmul_peak_tflops": peak / 1e12,
      "matmul_fraction": 2 * step_macs / train_s / peak,
  }
  stats = jax.devices()[0].memory_stats() or {}
  if "peak_bytes_in_use" in stats:
    result["allocator_peak_bytes"] = int(stats["peak_bytes_in_use"])
  if reference:
    from vst import bench_references  # pylint: disable=g-import-not-at-top
    ref = bench_references.run(config, batch_size, runs)
    if ref:
      result.update(ref)
      result["fwd_speed_ratio"] = result["fwd_clips_per_s"] / ref["ref_fwd_clips_per_s"]
      result["train_speed_ratio"] = (result["train_clips_per_s"] /
                                     ref["ref_train_clips_per_s"])
  return result


def data_throughput(config, train_clips_per_s: float, batches: int = 4) -> dict:
  """The config's input pipeline clips/s next to the train step's.

  The host reads its share of the global batch, so the comparison is per host:
  the train step consumes `train_clips_per_s / process_count` clips per host.
  """
  import jax  # pylint: disable=g-import-not-at-top
  from vst.data import bench_input  # pylint: disable=g-import-not-at-top
  host_batch = int(config.train.batch_size) // jax.process_count()
  measured = bench_input.measure(config.dataset, host_batch, batches)
  consumed = train_clips_per_s / jax.process_count()
  return {
      "data_clips_per_s": measured["clips_per_s"],
      "data_over_train": measured["clips_per_s"] / consumed,
      "bottleneck": "input" if measured["clips_per_s"] < consumed else "model",
  }


def format_result(result: dict) -> str:
  lines = []
  for key, value in result.items():
    if key == "peak_bytes" or key.endswith("_bytes"):
      value = f"{value / 2**20:.1f} MiB" if value >= 0 else "n/a"
    elif isinstance(value, float):
      value = f"{value:.4g}"
    lines.append(f"{key:>24}: {value}")
  return "\n".join(lines)


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
  from vst.errors import ConfigError  # pylint: disable=g-import-not-at-top
  if _FLAGS["config"].value is None:
    print("error: --config=configs/<name>.py is required", file=sys.stderr)
    return 2
  try:
    config = _FLAGS["config"].value
    result = bench(config, _FLAGS["runs"].value, _FLAGS["reference"].value)
    if _FLAGS["data"].value:
      result.update(data_throughput(config, result["train_clips_per_s"],
                                    _FLAGS["data_batches"].value))
  except ConfigError as e:
    print(f"error: {e}", file=sys.stderr)
    return 2
  print(format_result(result))
  if _FLAGS["json"].value:
    with open(_FLAGS["json"].value, "w") as f:
      json.dump(result, f, indent=2)
  return 0


if __name__ == "__main__":
  _define_flags()
  app.run(main)
