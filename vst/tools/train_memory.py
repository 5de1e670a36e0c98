"""The memory one train step needs, from XLA's memory analysis, without
allocating anything.

The train step of a config (forward, backward, optimizer update; the
trainer's own `make_train_step`) is lowered on abstract inputs and compiled
for the local backend; `bench.peak_bytes` reads arguments + outputs +
temporaries − donated aliases from the compiled executable. Activation
memory grows linearly in the batch and parameters, gradients and optimizer
moments do not, so two compiles (batches b and 2b) give both parts and the
memory at the paper's batch follows without compiling a step that no single
device could hold (ViViT-B at batch 64 needs ~240 GiB):

  M(B) = fixed + B · per_clip.

XLA's buffer assignment differs between backends (fusion, rematerialisation,
layouts), so the numbers describe the backend they were measured on, which
is recorded with them.

  python -m vst.tools.train_memory --config=configs/vivit_k400.py \
      [--mesh=data:4,model:2] [--devices=8] [--json PATH]

compiles the sharded train step for the mesh (on that many simulated CPU
devices where this machine has fewer; nothing is allocated and no data is
read) and prints the per-device fixed bytes, bytes per clip and the total at
the config's global batch. JSON keys include `fixed_bytes`, `per_clip_bytes`
and `total_bytes`.
"""

import dataclasses
import functools
import json
import os
import subprocess
import sys

import jax
import jax.numpy as jnp

from vst import bench
from vst import sharding as sharding_lib
from vst import train as train_lib

# Set in the child that measures on simulated CPU devices (see `main`).
_SIMULATED = "VST_TRAIN_MEMORY_SIMULATED"


@dataclasses.dataclass(frozen=True)
class TrainMemory:
  fixed_bytes: float      # parameters, gradients, optimizer state, workspace
  per_clip_bytes: float   # activations kept for the backward pass, per clip
  batch_size: int         # the batch `total_bytes` is for
  measured_batches: tuple[int, int]
  backend: str
  mesh_shape: dict | None = None  # None: one device, no mesh

  @property
  def total_bytes(self) -> float:
    return self.fixed_bytes + self.batch_size * self.per_clip_bytes


def step_bytes(config, input_shape: tuple[int, ...] | None, batch_size: int,
               model=None, mesh=None) -> int:
  """Peak bytes of the compiled train step on one device.

  Args:
    config: gives the optimizer (train.*), num_classes (dataset.*) and, with
      `mesh`, the parameter sharding (mesh.param_sharding, sharding_rules).
    input_shape: one example's input, (T, H, W, C); None: the config's own
      input spec (a dict of modalities for multi-stream models).
    batch_size: clips in the step (the global batch, with `mesh`).
    model: the Module (default: built from config.model).
    mesh: a Mesh to compile the sharded step for; the bytes are then one
      device's share.
  """
  built, tx, schedule = train_lib.build(config)
  model = model or built
  if input_shape is None:
    inputs = train_lib.input_spec(config, batch_size)
    state = train_lib.abstract_state(config, model, tx)
  else:
    inputs = jax.ShapeDtypeStruct((batch_size,) + tuple(input_shape),
                                  jnp.float32)
    init = functools.partial(
        train_lib.init_state, model, tx,
        jnp.zeros((1,) + tuple(input_shape), jnp.float32))
    state = jax.eval_shape(init, jax.random.key(0))
  batch = {"inputs": inputs,
           "label": jax.ShapeDtypeStruct((batch_size,), jnp.int32)}
  step = train_lib.make_train_step(model, tx, schedule, config)
  rng = jax.eval_shape(lambda: jax.random.key(0))
  if mesh is None:
    jitted = jax.jit(step, donate_argnums=(0,))
  else:
    shardings = sharding_lib.param_shardings(
        state, mesh, config.mesh.param_sharding,
        config.mesh.get("sharding_rules", ()))
    replicated = sharding_lib.replicated(mesh)
    jitted = jax.jit(step, donate_argnums=(0,),
                     in_shardings=(shardings, sharding_lib.batch_sharding(mesh),
                                   replicated),
                     out_shardings=(shardings, replicated))
  compiled = jitted.lower(state, batch, rng).compile()
  return bench.peak_bytes(compiled)


def train_memory(config, input_shape: tuple[int, ...] | None, batch_size: int,
                 model=None, probe_batch: int = 2, mesh=None) -> TrainMemory:
  """Memory of `config`'s train step at `batch_size`, extrapolated from
  compiles at probe_batch and twice it (global batches, with `mesh`: one
  device's bytes, M(B) = fixed + B · per_clip).

  Gradient accumulation is switched off for the probes: the figure is the
  memory of the whole batch in one step, what a user without accumulation
  needs.
  """
  config = config.copy_and_resolve_references()
  config.train.grad_accum_steps = 1
  small, large = probe_batch, 2 * probe_batch
  m_small = step_bytes(config, input_shape, small, model, mesh)
  m_large = step_bytes(config, input_shape, large, model, mesh)
  per_clip = (m_large - m_small) / (large - small)
  return TrainMemory(fixed_bytes=m_small - small * per_clip,
                     per_clip_bytes=per_clip, batch_size=int(batch_size),
                     measured_batches=(small, large),
                     backend=jax.devices()[0].platform,
                     mesh_shape=None if mesh is None else dict(mesh.shape))


# ----------------------------------------------------------------------------
# Command line.
# ----------------------------------------------------------------------------

def measure(config, mesh_flag: str | None, devices: int | None) -> dict:
  """The per-device memory of the config's train step at its global batch on
  the mesh the flags describe (run where that many devices exist)."""
  from vst.tools import sharding as sharding_tool  # pylint: disable=g-import-not-at-top
  config, shape = sharding_tool.sized_mesh(config, mesh_flag, devices)
  bench.check_config_for_sizing(config)
  mesh = sharding_lib.make_mesh(config.mesh)
  batch = int(config.train.batch_size)
  # One clip per data shard, then two: the smallest batches the mesh takes.
  m = train_memory(config, None, batch, probe_batch=shape["data"], mesh=mesh)
  _, state = sharding_tool.rows(config, shape)
  return {"model": f"{config.model.name}/{config.model.variant}",
          "mesh": shape, "param_sharding": config.mesh.param_sharding,
          "batch_size": batch,
          "fixed_bytes": m.fixed_bytes, "per_clip_bytes": m.per_clip_bytes,
          "total_bytes": m.total_bytes, "state_bytes": state["total"],
          "measured_batches": list(m.measured_batches),
          "backend": m.backend, "device": jax.devices()[0].device_kind,
          "method": "XLA memory analysis of the compiled, sharded train step "
                    "at two batches; M(B) = fixed + B * per_clip"}


def _size(n: float) -> str:
  return f"{n / 2**30:.2f} GiB" if n >= 2**30 else f"{n / 2**20:.1f} MiB"


def format_result(r: dict) -> str:
  mesh = r["mesh"]
  return "\n".join([
      f"{r['model']} on mesh data={mesh['data']} model={mesh['model']} "
      f"({r['param_sharding']}), global batch {r['batch_size']}, "
      f"{r['backend']} ({r['device']}):",
      f"  fixed per device:     {_size(r['fixed_bytes'])} (XLA; params + "
      f"grads + optimizer state as sharded, by arithmetic: "
      f"{_size(r['state_bytes'])})",
      f"  per clip per device:  {_size(r['per_clip_bytes'])} (of the global "
      "batch)",
      f"  total per device:     {_size(r['total_bytes'])} at batch "
      f"{r['batch_size']} in one step (no gradient accumulation)",
      f"  method: {r['method']}, measured at global batches "
      f"{r['measured_batches'][0]} and {r['measured_batches'][1]}"])


_FLAGS = {}


def _wanted_devices() -> int | None:
  if _FLAGS["devices"].value is not None:
    return _FLAGS["devices"].value
  if _FLAGS["mesh"].value:
    sizes = sharding_lib.parse_mesh_flag(_FLAGS["mesh"].value)
    return sizes["data"] * sizes["model"]
  return None


def _rerun_on_simulated_devices(count: int) -> int:
  """Runs this command again in a process with `count` CPU devices (XLA
  reads the device count once, when the backend starts)."""
  env = dict(os.environ, JAX_PLATFORMS="cpu", **{_SIMULATED: "1"})
  env["XLA_FLAGS"] = (env.get("XLA_FLAGS", "") +
                      f" --xla_force_host_platform_device_count={count}").strip()
  return subprocess.run([sys.executable, "-m", "vst.tools.train_memory",
                         *sys.argv[1:]], env=env, check=False).returncode


def main(argv):
  from absl import app  # pylint: disable=g-import-not-at-top
  from vst.errors import ConfigError  # pylint: disable=g-import-not-at-top
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
  if _FLAGS["config"].value is None:
    print("error: --config=configs/<name>.py is required", file=sys.stderr)
    return 2
  try:
    wanted = _wanted_devices()
    if wanted and wanted > jax.device_count():
      if os.environ.get(_SIMULATED):
        raise ConfigError(f"--devices={wanted}: only {jax.device_count()} "
                          "simulated devices could be made")
      return _rerun_on_simulated_devices(wanted)
    result = measure(_FLAGS["config"].value, _FLAGS["mesh"].value, wanted)
  except ConfigError as e:
    print(f"error: {e}", file=sys.stderr)
    return 2
  print(format_result(result))
  if _FLAGS["json"].value:
    with open(_FLAGS["json"].value, "w") as f:
      json.dump(result, f, indent=1)
  return 0


if __name__ == "__main__":
  from absl import app as _app  # pylint: disable=g-import-not-at-top
  from vst.tools import sharding as _sharding_tool  # pylint: disable=g-import-not-at-top
  _sharding_tool.define_flags(
      _FLAGS, " Where this machine has fewer, the step is compiled for that "
      "many simulated CPU devices.", "Also write the result here.")
  _app.run(main)
