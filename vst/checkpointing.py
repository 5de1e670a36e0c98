"""Orbax checkpoints of the train state, the data position and the config.

A checkpoint directory holds one item per part, so the data position and the
config can be read without restoring the (possibly large, sharded) state.

Only finite states are written (`check_finite` before `save`), and restoring
takes the newest checkpoint that restores: a damaged one (a file deleted or
truncated, a save cut short) is named in a warning, moved aside to
`checkpoints_damaged/` (never deleted) and the one before it is used. A
checkpoint whose tree really differs from the config's model and optimizer
is a `ConfigError` naming the keys that differ, not damage.
"""

import os
import shutil
import time
from typing import Any, Callable, Optional

import jax
import jax.numpy as jnp
import orbax.checkpoint as ocp

from vst.errors import ConfigError

DAMAGED_DIR = "checkpoints_damaged"


def folder(workdir: str) -> str:
  return os.path.abspath(os.path.join(workdir, "checkpoints"))


def manager(workdir: str, every_steps: int, keep: int) -> ocp.CheckpointManager:
  options = ocp.CheckpointManagerOptions(
      max_to_keep=keep, save_interval_steps=max(int(every_steps), 1), create=True)
  # Handlers named up front, so a checkpoint's tree metadata can be read
  # (to tell a changed model from a damaged file) before anything is restored.
  handlers = {"state": ocp.StandardCheckpointHandler(),
              "data": ocp.JsonCheckpointHandler(),
              "config": ocp.JsonCheckpointHandler()}
  return ocp.CheckpointManager(folder(workdir), options=options,
                               item_handlers=handlers)


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


# ============================================================================
# Finite states only.
# ============================================================================

@jax.jit
def _all_finite(tree) -> jax.Array:
  leaves = [jnp.all(jnp.isfinite(x)) for x in jax.tree_util.tree_leaves(tree)
            if jnp.issubdtype(x.dtype, jnp.inexact)]
  return jnp.all(jnp.stack(leaves)) if leaves else jnp.array(True)


def non_finite_parts(state: Any) -> list[str]:
  """The top-level fields of `state` (params, opt_state, ...) holding a NaN
  or inf; empty when every floating-point value is finite."""
  parts = {"params": state.params, "batch_stats": state.batch_stats,
           "opt_state": state.opt_state}
  return [name for name, tree in parts.items()
          if jax.tree_util.tree_leaves(tree) and not bool(_all_finite(tree))]


# ============================================================================
# Restore the newest good checkpoint.
# ============================================================================

class CheckpointMismatchError(ConfigError):
  """The checkpoint's tree is not the config's model and optimizer."""


class NonFiniteCheckpointError(ConfigError):
  """The checkpoint holds NaN or inf values."""


def _flat_keys(tree: Any) -> set[str]:
  return {"/".join(map(str, key)) for key in ocp.tree.to_flat_dict(tree)}


def tree_difference(saved: Any, expected: Any, limit: int = 4) -> str:
  """A short description of the keys only one of two trees has."""
  saved_keys, expected_keys = _flat_keys(saved), _flat_keys(expected)
  parts = []
  for label, keys in (("only in the checkpoint", saved_keys - expected_keys),
                      ("only in this config", expected_keys - saved_keys)):
    if keys:
      shown = sorted(keys)[:limit]
      more = f" (+{len(keys) - limit} more)" if len(keys) > limit else ""
      parts.append(f"{label}: {', '.join(shown)}{more}")
  return "; ".join(parts)


def _saved_tree(mgr: ocp.CheckpointManager, step: int) -> Optional[Any]:
  """The state's tree metadata at `step`, or None if it cannot be read."""
  try:
    metadata = mgr.item_metadata(step)["state"]
  except Exception:  # pylint: disable=broad-except
    return None
  return getattr(metadata, "tree", metadata)


def move_aside(workdir: str, step: int) -> str:
  """Moves checkpoint `step` to WORKDIR/checkpoints_damaged/; returns where."""
  target_root = os.path.join(os.path.abspath(workdir), DAMAGED_DIR)
  os.makedirs(target_root, exist_ok=True)
  target = os.path.join(target_root, f"{step}-{int(time.time())}")
  shutil.move(os.path.join(folder(workdir), str(step)), target)
  return target


def restore_newest(mgr: ocp.CheckpointManager, workdir: str,
                   abstract_state: Any, warn: Callable[[str], None],
                   move_damaged: bool = True):
  """(step, state, data_state) of the newest checkpoint that restores, or
  None when there is none.

  Raises:
    CheckpointMismatchError: the newest readable checkpoint's tree differs
      from `abstract_state`'s (another model or optimizer).
    NonFiniteCheckpointError: it holds NaN/inf (a run of older vst wrote it).
  """
  for step in sorted(mgr.all_steps(), reverse=True):
    saved = _saved_tree(mgr, step)
    if saved is not None:
      difference = tree_difference(saved, abstract_state)
      if difference:
        raise CheckpointMismatchError(
            f"the checkpoint at step {step} in {folder(workdir)} was written "
            f"by a different model or optimizer: {difference}")
    try:
      if saved is None:
        raise ValueError("its tree metadata cannot be read")
      state, data_state = restore(mgr, step, abstract_state)
    except Exception as e:  # pylint: disable=broad-except
      reason = str(e).strip().splitlines()[0][:200] if str(e).strip() else (
          type(e).__name__)
      if not move_damaged:
        warn(f"checkpoint at step {step} in {folder(workdir)} is damaged "
             f"({reason}); trying the one before it")
        continue
      target = move_aside(workdir, step)
      warn(f"checkpoint at step {step} is damaged ({reason}); moved it to "
           f"{target} and trying the one before it")
      mgr.reload()
      continue
    bad = non_finite_parts(state)
    if bad:
      raise NonFiniteCheckpointError(
          f"the checkpoint at step {step} in {folder(workdir)} holds NaN or "
          f"inf values (in {', '.join(bad)}); it cannot be evaluated or "
          f"resumed: delete or move that step folder to use the one before")
    return step, state, data_state
  return None
