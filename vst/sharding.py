"""Device mesh and the shardings of parameters and batches.

The mesh has axes ('data', 'model'), laid out on the interconnect by
`jax.make_mesh`. Batches are split over 'data'. Parameters are placed in two
steps that a user can print (`python -m vst.tools.sharding`) and override:

1. Ordered rules on parameter paths give each dimension a *logical* axis name.
   The first rule whose regular expression matches the path (searched, as in
   big_vision's `infer_sharding`) and whose length equals the array's rank
   wins; a rule `()` replicates whatever the rank. `mesh.sharding_rules`
   (pairs of (regex, logical names)) are tried before DEFAULT_RULES.
2. A table per `mesh.param_sharding` mode maps logical axes to mesh axes
   (MODE_TABLES), in the manner of MaxText's logical axis rules:

   replicate: every parameter on every device (plain data parallelism).
   fsdp:      one dimension of each parameter split over 'data' (ZeRO-3 style);
              XLA all-gathers it where it is used.
   tp:        Megatron-style tensor parallelism over 'model': MLP hidden units,
              attention heads, conv output channels and classes are split.
   fsdp+tp:   both.

A dimension is split only when the mesh axis divides it, and each mesh axis
splits at most one dimension of a parameter (the table's order of preference
says which). A mesh axis that a mode does not use (mesh.model > 1 under
replicate or fsdp) holds copies: its devices compute the same thing.

Optimizer state and gradients follow their parameter: a leaf of the train
state whose path ends in a parameter's path and has its shape gets that
parameter's spec; everything else (step counters, BatchNorm statistics,
which no rule names) is replicated.
"""

import math
import re
from typing import Any, Sequence

import jax
import numpy as np
from jax.experimental import mesh_utils
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

from vst.errors import ConfigError, check_choice

MESH_AXES = ("data", "model")

# Logical axes a rule may name (None: never split).
#   embed     the model width (token channels, a Dense input)
#   mlp       MLP hidden units, or the output of any other Dense layer
#   heads     attention heads;  kv: the per-head channels
#   conv_in   input channels of a convolution;  conv_out: its output channels
#   classes   the classifier's outputs
#   pos       a position axis of a position embedding
LOGICAL_AXES = ("embed", "mlp", "heads", "kv", "conv_in", "conv_out",
                "classes", "pos")

# Ordered: the first that matches the path and has the parameter's rank wins.
# Paths are '/'-joined flax names, e.g. 'transformer/encoderblock_3/mlp/fc1/kernel'.
DEFAULT_RULES: tuple[tuple[str, tuple], ...] = (
    # Attention projections (flax DenseGeneral): q/k/v [D, heads, head_dim],
    # out [heads, head_dim, D]; TimeSformer's temporal fc maps heads to heads.
    (r"(^|/)(query|key|value)/kernel$", ("embed", "heads", "kv")),
    (r"(^|/)(query|key|value)/bias$", ("heads", "kv")),
    (r"(^|/)out/kernel$", ("heads", "kv", "embed")),
    (r"(^|/)fc/kernel$", ("heads", "kv", None, None)),
    (r"(^|/)fc/bias$", ("heads", "kv")),
    # MLP: fc1 widens, fc2 narrows.
    (r"(^|/)fc1/kernel$", ("embed", "mlp")),
    (r"(^|/)fc1/bias$", ("mlp",)),
    (r"(^|/)fc2/kernel$", ("mlp", "embed")),
    (r"(^|/)head/kernel$", ("embed", "classes")),
    (r"(^|/)head/bias$", ("classes",)),
    # Swin's relative position bias table [positions, heads].
    (r"relative_pos_embedding$", (None, "heads")),
    # Position embeddings [*positions, D] and class tokens [D].
    (r"(posembed|pos_embed|embedding$)", ("embed",)),
    (r"(posembed|pos_embed|embedding$)", ("pos", "embed")),
    (r"(posembed|pos_embed|embedding$)", ("pos", "pos", "embed")),
    (r"(posembed|pos_embed|embedding$)", ("pos", "pos", "pos", "embed")),
    (r"cls$", ("embed",)),
    # Convolutions [*window, in, out] (3D and 2D); patch and tubelet
    # embeddings, stems and pooling convs included.
    (r"kernel$", (None, None, None, "conv_in", "conv_out")),
    (r"kernel$", (None, None, "conv_in", "conv_out")),
    # Any other Dense layer: a column split, as fc1.
    (r"kernel$", ("embed", "mlp")),
    (r"kernel$", ("embed", "heads", "kv")),
    # Norm scales, biases, relative position biases: small, replicated.
    (r".*", ()),
)

# Per mode, (logical axis, mesh axis) pairs in order of preference: each pair
# splits the first dimension of that name which the mesh axis divides, unless
# the parameter already uses the mesh axis. So under `tp` a conv splits its
# output channels, or its input channels where the output's do not divide
# (R(2+1)D's 921-wide middle), never both.
_FSDP = tuple((name, "data") for name in (
    "embed", "mlp", "heads", "kv", "conv_in", "conv_out", "classes"))
_TP = tuple((name, "model") for name in (
    "mlp", "heads", "classes", "conv_out", "pos", "conv_in"))
MODE_TABLES: dict[str, tuple[tuple[str, str], ...]] = {
    "replicate": (),
    "fsdp": _FSDP,
    "tp": _TP,
    "fsdp+tp": _TP + _FSDP,
}
MODES = tuple(MODE_TABLES)


# ----------------------------------------------------------------------------
# The mesh.
# ----------------------------------------------------------------------------

def mesh_shape(mesh_config, num_devices: int) -> dict[str, int]:
  """{'data': d, 'model': m} for `num_devices` devices, checked against the
  config's mesh.num_devices, mesh.data, mesh.model and mesh.dcn_data."""
  wanted = int(mesh_config.get("num_devices", 0))
  if wanted < 0 or wanted > num_devices:
    raise ConfigError(
        f"mesh.num_devices={wanted} is not valid; allowed: 0 (all) to "
        f"{num_devices}")
  n = wanted or num_devices
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
  dcn = int(mesh_config.get("dcn_data", 1))
  if dcn < 1 or data % dcn:
    raise ConfigError(
        f"mesh.dcn_data={dcn} does not divide the data axis ({data} devices); "
        f"allowed: a divisor of {data}")
  check_choice("mesh.param_sharding", mesh_config.param_sharding, MODES)
  compile_rules(mesh_config.get("sharding_rules", ()))
  return {"data": data, "model": model}


def make_mesh(mesh_config, devices=None) -> Mesh:
  """A ('data', 'model') mesh placed on the devices' interconnect.

  Within a slice (ICI) `jax.make_mesh` puts 'model', the axis that talks the
  most, on the closest devices. With mesh.dcn_data = S > 1 the data axis
  spans S slices (or, without slices, S process groups) connected by the
  data-centre network (DCN), where only gradient reductions cross.
  """
  devices = list(jax.devices() if devices is None else devices)
  shape = mesh_shape(mesh_config, len(devices))
  devices = devices[:shape["data"] * shape["model"]]
  axis_types = (jax.sharding.AxisType.Auto,) * 2
  dcn = int(mesh_config.get("dcn_data", 1))
  if dcn > 1:
    grid = _hybrid_grid(shape, dcn, devices)
    # Auto axes: GSPMD propagates shardings through the model (Explicit axes,
    # jax.make_mesh's default, would need every op annotated).
    return Mesh(grid, MESH_AXES, axis_types=axis_types)
  return jax.make_mesh((shape["data"], shape["model"]), MESH_AXES,
                       axis_types=axis_types, devices=devices)


def _hybrid_grid(shape: dict[str, int], dcn: int, devices) -> np.ndarray:
  granules = ({d.slice_index for d in devices} if
              hasattr(devices[0], "slice_index") else
              {d.process_index for d in devices})
  if len(granules) != dcn:
    raise ConfigError(
        f"mesh.dcn_data={dcn} must equal the number of slices (or processes, "
        f"without slices) the devices span: {len(granules)}")
  return mesh_utils.create_hybrid_device_mesh(
      (shape["data"] // dcn, shape["model"]), (dcn, 1), devices,
      process_is_granule=not hasattr(devices[0], "slice_index"))


def abstract_mesh(shape: dict[str, int]) -> jax.sharding.AbstractMesh:
  """A device-free mesh of `mesh_shape`'s sizes, for sizing without devices."""
  return jax.sharding.AbstractMesh(
      (shape["data"], shape["model"]), MESH_AXES,
      axis_types=(jax.sharding.AxisType.Auto,) * 2)


def parse_mesh_flag(text: str) -> dict[str, int]:
  """'data:4,model:2' -> {'data': 4, 'model': 2} (an axis left out is 1)."""
  sizes = {"data": 1, "model": 1}
  for part in filter(None, text.split(",")):
    name, _, size = part.partition(":")
    if name not in sizes or not size.isdigit() or int(size) < 1:
      raise ConfigError(
          f"--mesh={text!r}: {part!r} is not AXIS:SIZE; allowed axes: "
          f"{', '.join(MESH_AXES)}, sizes >= 1 (e.g. --mesh=data:4,model:2)")
    sizes[name] = int(size)
  return sizes


def batch_sharding(mesh: Mesh) -> NamedSharding:
  """Leading (batch) axis split over 'data', everything else replicated."""
  return NamedSharding(mesh, P("data"))


def replicated(mesh: Mesh) -> NamedSharding:
  return NamedSharding(mesh, P())


def put_batch(batch: dict, mesh: Mesh) -> dict:
  """This host's numpy batch → global jax.Arrays split over 'data'.

  Each host passes only its rows; with one process this is a device_put.
  """
  sharding = batch_sharding(mesh)
  return jax.tree_util.tree_map(
      lambda x: jax.make_array_from_process_local_data(sharding, np.asarray(x)),
      batch)


# ----------------------------------------------------------------------------
# Rules -> specs.
# ----------------------------------------------------------------------------

def compile_rules(rules: Sequence) -> list[tuple[re.Pattern, tuple]]:
  """`mesh.sharding_rules` + DEFAULT_RULES as (compiled regex, names) pairs,
  each checked."""
  compiled = []
  for rule in tuple(rules) + DEFAULT_RULES:
    try:
      pattern, names = rule
      regex = re.compile(pattern)
    except (TypeError, ValueError, re.error) as e:
      raise ConfigError(
          f"mesh.sharding_rules: {rule!r} is not a (regex, logical axes) "
          f"pair: {e}") from e
    names = tuple(names)
    for name in names:
      if name is not None and name not in LOGICAL_AXES:
        raise ConfigError(
            f"mesh.sharding_rules: {name!r} in {rule!r} is not a logical "
            f"axis; allowed: {', '.join(LOGICAL_AXES)} or None")
    compiled.append((regex, names))
  return compiled


def logical_axes(path: str, ndim: int, rules) -> tuple:
  """The logical name of each dimension of the parameter at `path`."""
  for regex, names in rules:
    if regex.search(path) and (not names or len(names) == ndim):
      return names or (None,) * ndim
  return (None,) * ndim


def spec_of(shape: Sequence[int], names: Sequence, mesh_sizes: dict[str, int],
            mode: str) -> P:
  """The PartitionSpec of an array whose dimensions have logical `names`."""
  spec = [None] * len(shape)
  for logical, axis in MODE_TABLES[mode]:
    if axis in spec or mesh_sizes[axis] == 1:
      continue
    for i, (size, name) in enumerate(zip(shape, names)):
      if name == logical and spec[i] is None and size % mesh_sizes[axis] == 0:
        spec[i] = axis
        break
  return P(*spec)


def path_str(key_path) -> str:
  return jax.tree_util.keystr(key_path, simple=True, separator="/")


def param_specs(abstract_tree: Any, mesh, mode: str,
                rules: Sequence = ()) -> Any:
  """PartitionSpecs for a train state (or any tree) of arrays/ShapeDtypeStructs.

  `mesh`: a Mesh or AbstractMesh (only its axis sizes are read). A tree with
  a `params` attribute (the TrainState) gets rule-based specs for its
  parameters, and the same specs for the optimizer-state leaves that mirror
  them; other trees are matched by the rules directly.
  """
  check_choice("mesh.param_sharding", mode, MODES)
  compiled = compile_rules(rules)
  sizes = dict(mesh.shape)
  params = getattr(abstract_tree, "params", abstract_tree)
  by_path = {}
  for key_path, leaf in jax.tree_util.tree_flatten_with_path(params)[0]:
    shape = tuple(getattr(leaf, "shape", ()))
    names = logical_axes(path_str(key_path), len(shape), compiled)
    by_path[tuple(key_path)] = (shape, spec_of(shape, names, sizes, mode))

  def follow(key_path, leaf):
    shape = tuple(getattr(leaf, "shape", ()))
    key_path = tuple(key_path)
    # The longest suffix of the leaf's path that is a parameter's path: for
    # params that is the whole path, for opt_state '0/mu/<param path>'.
    for start in range(len(key_path)):
      found = by_path.get(key_path[start:])
      if found and found[0] == shape:
        return found[1]
    return P()
  return jax.tree_util.tree_map_with_path(follow, abstract_tree)


def param_shardings(abstract_tree: Any, mesh: Mesh, mode: str,
                    rules: Sequence = ()) -> Any:
  """NamedShardings for a tree of arrays or ShapeDtypeStructs (param_specs)."""
  specs = param_specs(abstract_tree, mesh, mode, rules)
  return jax.tree_util.tree_map(lambda spec: NamedSharding(mesh, spec), specs,
                                is_leaf=lambda x: isinstance(x, P))


def bytes_per_device(shape: Sequence[int], dtype, spec: P,
                     mesh_sizes: dict[str, int]) -> int:
  split = math.prod(mesh_sizes[a] for a in spec if a is not None)
  return math.prod(shape) * np.dtype(dtype).itemsize // split
