"""Orbax checkpoints of the train state, the data position and the config.

A checkpoint directory holds one item per part, so the data position and the
config can be read without restoring the (possibly large, sharded) state.
"""

import os
from typing import Any

import jax
import orbax.checkpoint as ocp


def manager(workdir: str, every_steps: int, keep: int) -> ocp.CheckpointManager:
  options = ocp.CheckpointManagerOptions(
      max_to_keep=keep, save_interval_steps=max(int(every_steps), 1), create=True)
  return ocp.CheckpointManager(
      os.path.abspath(os.path.join(workdir, "checkpoints")), options=options,
      item_names=("state", "data", "config"))


def save(mgr: ocp.CheckpointManager, step: int, state: Any, data_state: dict,
         config: dict, force: bool = False) -> bool:
  return mgr.save(step, args=ocp.args.Composite(
      state=ocp.args.StandardSave(state),
      data=ocp.args.JsonSave(data_state),
      config=ocp.args.JsonSave(config)), force=force)


def restore(mgr: ocp.CheckpointManager, step: int, abstract_state: Any):
  """(state, data_state) at `step`, placed with `abstract_state`'s shardings."""
  restored = mgr.restore(step, args=ocp.args.Composite(
      state=ocp.args.StandardRestore(abstract_state),
      data=ocp.args.JsonRestore()))
  return restored["state"], restored["data"]


def abstract_like(tree: Any, shardings: Any) -> Any:
  """ShapeDtypeStructs carrying the target shardings, for restore."""
  return jax.tree_util.tree_map(
      lambda x, s: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=s),
      tree, shardings)
