"""Device mesh and the shardings of parameters and batches.

The mesh has axes ('data', 'model'). Batches are split over 'data'. Parameters
are placed by a rule chosen in the config rather than by per-module annotations,
so that replication, FSDP and tensor parallelism are a config change for every
model in the registry:

  replicate: every parameter on every device (plain data parallelism).
  fsdp:      the largest dimension divisible by the 'data' size is split over
             'data' (ZeRO-3 style); XLA all-gathers it where it is used.

Independently, when mesh.model > 1, the last dimension of each matrix that it
divides is split over 'model' (Megatron-style column split of Dense kernels).
"""

from typing import Any

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

from vst.errors import ConfigError, check_choice


def make_mesh(mesh_config, devices=None) -> Mesh:
  """A ('data', 'model') mesh over all devices, checked against the config."""
  devices = list(jax.devices() if devices is None else devices)
  wanted = int(mesh_config.get("num_devices", 0))
  if wanted < 0 or wanted > len(devices):
    raise ConfigError(
        f"mesh.num_devices={wanted} is not valid; allowed: 0 (all) to "
        f"{len(devices)}")
  devices = devices[:wanted] if wanted else devices
  n = len(devices)
  model = int(mesh_config.model)
  data = int(mesh_config.data)
  if model < 1 or n % model:
    raise ConfigError(
        f"mesh.model={model} does not divide the {n} available devices; "
        f"allowed: a divisor of {n}")
  if data == -1:
    data = n // model
  if data < 1 or data * model != n:
    raise ConfigError(
        f"mesh.data={mesh_config.data} × mesh.model={model} must equal the "
        f"{n} available devices; allowed: mesh.data=-1 or {n // model}")
  check_choice("mesh.param_sharding", mesh_config.param_sharding,
               ("replicate", "fsdp"))
  # Auto axes: GSPMD propagates shardings through the model; jax.make_mesh
  # would create Explicit axes, which every op would then have to annotate.
  grid = np.asarray(devices).reshape(data, model)
  return Mesh(grid, ("data", "model"),
              axis_types=(jax.sharding.AxisType.Auto,) * 2)


def batch_sharding(mesh: Mesh) -> NamedSharding:
  """Leading (batch) axis split over 'data', everything else replicated."""
  return NamedSharding(mesh, P("data"))


def replicated(mesh: Mesh) -> NamedSharding:
  return NamedSharding(mesh, P())


def _param_spec(shape, mesh: Mesh, mode: str) -> P:
  spec = [None] * len(shape)
  model_size = mesh.shape["model"]
  data_size = mesh.shape["data"]
  if model_size > 1 and len(shape) >= 2 and shape[-1] % model_size == 0:
    spec[-1] = "model"
  if mode == "fsdp" and data_size > 1:
    free = [i for i in range(len(shape)) if spec[i] is None and
            shape[i] % data_size == 0]
    if free:
      spec[max(free, key=lambda i: shape[i])] = "data"
  return P(*spec)


def param_shardings(abstract_tree: Any, mesh: Mesh, mode: str) -> Any:
  """NamedShardings for a tree of arrays or ShapeDtypeStructs."""
  def one(x):
    shape = getattr(x, "shape", ())
    return NamedSharding(mesh, _param_spec(shape, mesh, mode))
  return jax.tree_util.tree_map(one, abstract_tree)


def put_batch(batch: dict, mesh: Mesh) -> dict:
  """This host's numpy batch → global jax.Arrays split over 'data'.

  Each host passes only its rows; with one process this is a device_put.
  """
  sharding = batch_sharding(mesh)
  return jax.tree_util.tree_map(
      lambda x: jax.make_array_from_process_local_data(sharding, np.asarray(x)),
      batch)
