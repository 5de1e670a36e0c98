r"""Where every parameter of a config's model lives on a mesh, without devices.

  python -m vst.tools.sharding --config=configs/vivit_k400.py \
      [--mesh=data:4,model:2] [--config.mesh.param_sharding=fsdp+tp] \
      [--json PATH]

Prints each parameter's path, shape, logical axes (the first matching rule of
`mesh.sharding_rules` + `vst.sharding.DEFAULT_RULES`), partition spec under
`mesh.param_sharding`, and the bytes one device holds; then totals per device
for the parameters, their gradients and the optimizer state (which follows
its parameter's sharding). The model is traced with `jax.eval_shape` on an
`AbstractMesh`, so it runs with no data and no devices. --json writes the
parameter rows (`path`, `shape`, `logical`, `spec`, `bytes_per_device`).

Without --mesh the config's mesh.data/mesh.model are used on --devices
devices (default: this machine's).
"""

import json
import sys
from typing import Sequence

from absl import app
from absl import flags
from ml_collections import config_flags

_FLAGS = {}


def define_flags(registry: dict, devices_help: str, json_help: str) -> None:
  """--config, --mesh, --devices and --json, shared with train_memory."""
  registry["config"] = config_flags.DEFINE_config_file(
      "config", None, "configs/*.py file.", lock_config=True)
  registry["mesh"] = flags.DEFINE_string(
      "mesh", None, "Mesh axis sizes, e.g. data:4,model:2 (default: the "
      "config's mesh.data and mesh.model).")
  registry["devices"] = flags.DEFINE_integer(
      "devices", None, "Devices in the mesh (default: the product of --mesh, "
      "else this machine's device count)." + devices_help)
  registry["json"] = flags.DEFINE_string("json", None, json_help)


def sized_mesh(config, mesh_flag: str | None, devices: int | None):
  """(config with the mesh set, {'data': d, 'model': m}) for the flags.

  --mesh sets mesh.data and mesh.model; --devices (else the mesh's product,
  else the local device count) is the number they must multiply to.
  """
  import jax  # pylint: disable=g-import-not-at-top
  from vst import sharding as sharding_lib  # pylint: disable=g-import-not-at-top
  from vst.errors import ConfigError  # pylint: disable=g-import-not-at-top
  config = config.copy_and_resolve_references()
  if mesh_flag:
    sizes = sharding_lib.parse_mesh_flag(mesh_flag)
    product = sizes["data"] * sizes["model"]
    if devices is not None and devices != product:
      raise ConfigError(
          f"--mesh={mesh_flag} is {product} devices but --devices={devices}; "
          f"allowed: axis sizes whose product is {devices}")
    config.mesh.data, config.mesh.model = sizes["data"], sizes["model"]
    config.mesh.num_devices = 0
    devices = product
  if devices is None:
    devices = jax.device_count()
  if devices < 1:
    raise ConfigError(f"--devices={devices} must be >= 1")
  return config, sharding_lib.mesh_shape(config.mesh, devices)


def rows(config, shape: dict[str, int]) -> tuple[list[dict], dict]:
  """(one row per parameter, per-device byte totals) for the config's model."""
  import jax  # pylint: disable=g-import-not-at-top
  from jax.sharding import PartitionSpec as P  # pylint: disable=g-import-not-at-top
  from vst import sharding as sharding_lib  # pylint: disable=g-import-not-at-top
  from vst import train as train_lib  # pylint: disable=g-import-not-at-top
  model, tx, _ = train_lib.build(config)
  state = train_lib.abstract_state(config, model, tx)
  mesh = sharding_lib.abstract_mesh(shape)
  rules = config.mesh.get("sharding_rules", ())
  mode = config.mesh.param_sharding
  specs = sharding_lib.param_specs(state, mesh, mode, rules)
  compiled = sharding_lib.compile_rules(rules)

  def per_device(tree, spec_tree):
    leaves = jax.tree_util.tree_leaves(tree)
    spec_leaves = jax.tree_util.tree_leaves(
        spec_tree, is_leaf=lambda x: isinstance(x, P))
    return sum(sharding_lib.bytes_per_device(x.shape, x.dtype, s, shape)
               for x, s in zip(leaves, spec_leaves)
               if hasattr(x, "shape") and jax.numpy.issubdtype(
                   x.dtype, jax.numpy.number))

  out = []
  for (path, leaf), spec in zip(
      jax.tree_util.tree_flatten_with_path(state.params)[0],
      jax.tree_util.tree_leaves(specs.params,
                                is_leaf=lambda x: isinstance(x, P))):
    name = sharding_lib.path_str(path)
    out.append({
        "path": name, "shape": list(leaf.shape),
        "logical": list(sharding_lib.logical_axes(name, leaf.ndim, compiled)),
        "spec": [axis for axis in spec] + [None] * (leaf.ndim - len(spec)),
        "bytes_per_device": sharding_lib.bytes_per_device(
            leaf.shape, leaf.dtype, spec, shape)})
  params = sum(r["bytes_per_device"] for r in out)
  totals = {"params": params, "grads": params,
            "opt_state": per_device(state.opt_state, specs.opt_state),
            "batch_stats": per_device(state.batch_stats, specs.batch_stats)}
  totals["total"] = sum(totals.values())
  return out, totals


def _mib(n: int) -> str:
  return f"{n / 2**20:10.2f} MiB"


def format_table(config, shape: dict[str, int], table: Sequence[dict],
                 totals: dict) -> str:
  mode = config.mesh.param_sharding
  lines = [f"{config.model.name}/{config.model.variant}: "
           f"mesh data={shape['data']} model={shape['model']}, "
           f"mesh.param_sharding={mode}"]
  width = max(len(r["path"]) for r in table)
  lines.append(f"{'parameter':<{width}}  {'shape':<20} {'logical':<34} "
               f"{'spec':<24} {'per device':>14}")
  for r in table:
    logical = ",".join(str(a) for a in r["logical"])
    spec = ",".join(str(a) for a in r["spec"])
    lines.append(f"{r['path']:<{width}}  {str(tuple(r['shape'])):<20} "
                 f"{logical:<34} {spec:<24} {_mib(r['bytes_per_device'])}")
  whole = sum(1 for r in table if all(a is None for a in r["spec"]))
  lines.append(f"{len(table)} parameters, {whole} held whole by every device")
  for key in ("params", "grads", "opt_state", "batch_stats", "total"):
    lines.append(f"{key + ' per device':>24}: {_mib(totals[key])}")
  if shape["model"] > 1 and mode in ("replicate", "fsdp"):
    lines.append(f"note: mesh.param_sharding={mode} does not use the model axis "
                 f"({shape['model']} devices hold copies); tp or fsdp+tp split "
                 "over it")
  if shape["model"] == 1 and mode == "tp":
    lines.append("note: mesh.model=1: tp has no model axis to split over "
                 "(e.g. --mesh=data:4,model:2)")
  return "\n".join(lines)


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
  from vst import bench  # pylint: disable=g-import-not-at-top
  from vst.errors import ConfigError  # pylint: disable=g-import-not-at-top
  if _FLAGS["config"].value is None:
    print("error: --config=configs/<name>.py is required", file=sys.stderr)
    return 2
  try:
    config, shape = sized_mesh(_FLAGS["config"].value, _FLAGS["mesh"].value,
                               _FLAGS["devices"].value)
    # Checked on one device: the mesh itself was checked above, for its size.
    one_device = config.copy_and_resolve_references()
    one_device.mesh.data, one_device.mesh.model = -1, 1
    one_device.mesh.num_devices, one_device.mesh.dcn_data = 1, 1
    one_device.train.batch_size = one_device.train.grad_accum_steps = 1
    bench.check_config_for_sizing(one_device)
    table, totals = rows(config, shape)
  except ConfigError as e:
    print(f"error: {e}", file=sys.stderr)
    return 2
  print(format_table(config, shape, table, totals))
  if _FLAGS["json"].value:
    with open(_FLAGS["json"].value, "w") as f:
      json.dump(table, f, indent=1)
  return 0


if __name__ == "__main__":
  define_flags(_FLAGS, "", "Also write the rows here.")
  app.run(main)
