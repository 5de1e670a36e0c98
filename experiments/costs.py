"""What an arm costs, measured by the library: params and GMACs per clip
(`vst.train.model_cost`, jaxpr tracing) and train-step memory
(`vst.tools.train_memory`, XLA's memory analysis of the compiled step).
Both trace or compile; nothing runs and nothing is allocated."""

import dataclasses
import json

GIB = 1024 ** 3
MIB = 1024 ** 2


def model_cost(config) -> tuple[int, float]:
  """(params, GMACs per clip) through `vst.train.model_cost`: tracing only."""
  from vst import train as train_lib  # pylint: disable=g-import-not-at-top
  model, _, _ = train_lib.build(config)
  return train_lib.model_cost(config, model)


def memory_at_batch(config, batch_size: int) -> dict:
  """Train-step memory at `batch_size` from compiles at batches 1 and 2.

  `vst.tools.train_memory` fits M(B) = fixed + B·per_clip to the two
  compiles (activations grow linearly in the batch, parameters and
  optimizer state do not), so a batch that would fit nowhere is still
  sized. The fit is cached by the config's shapes (the seed aside, which
  changes no shape), so a study's table and its cost curve share the
  compiles of the point they have in common.
  """
  key = _shape_key(config)
  if key not in _MEMORY_CACHE:
    from vst.tools import train_memory  # pylint: disable=g-import-not-at-top
    _MEMORY_CACHE[key] = train_memory.train_memory(config, None, 1,
                                                   probe_batch=1)
  memory = dataclasses.replace(_MEMORY_CACHE[key], batch_size=int(batch_size))
  return dict(batch1_bytes=memory.fixed_bytes + memory.per_clip_bytes,
              per_clip_bytes=memory.per_clip_bytes,
              fixed_bytes=memory.fixed_bytes,
              batch_bytes=memory.total_bytes)


_MEMORY_CACHE: dict = {}


def _shape_key(config) -> str:
  """What the train step's program depends on: the model, the input, the
  optimizer (not the seed, the step count or the schedule's length)."""
  c = config.copy_and_resolve_references()
  return json.dumps([c.model.to_dict(), c.dataset.to_dict(),
                     c.train.optimizer, c.model.get("dtype", "")],
                    sort_keys=True, default=str)


def env_note() -> str:
  """The backend the costs were measured on (memory is backend-specific)."""
  import jax  # pylint: disable=g-import-not-at-top
  d = jax.devices()[0]
  return (f"measured on {d.platform} ({d.device_kind}), jax {jax.__version__}; "
          f"peak memory is XLA's memory analysis of the compiled train step "
          "(arguments + outputs + temporaries − donated aliases) on that "
          "backend")
