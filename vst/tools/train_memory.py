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
"""

import dataclasses
import functools

import jax
import jax.numpy as jnp

from vst import bench
from vst import train as train_lib


@dataclasses.dataclass(frozen=True)
class TrainMemory:
  fixed_bytes: float      # parameters, gradients, optimizer state, workspace
  per_clip_bytes: float   # activations kept for the backward pass, per clip
  batch_size: int         # the batch `total_bytes` is for
  measured_batches: tuple[int, int]
  backend: str

  @property
  def total_bytes(self) -> float:
    return self.fixed_bytes + self.batch_size * self.per_clip_bytes


def step_bytes(config, input_shape: tuple[int, ...], batch_size: int,
               model=None) -> int:
  """Peak bytes of the compiled train step on one device.

  Args:
    config: gives the optimizer (train.*) and num_classes (dataset.*).
    input_shape: one example's input, (T, H, W, C).
    batch_size: clips in the step.
    model: the Module (default: built from config.model).
  """
  built, tx, schedule = train_lib.build(config)
  model = model or built
  inputs = jax.ShapeDtypeStruct((batch_size,) + tuple(input_shape),
                                jnp.float32)
  init = functools.partial(
      train_lib.init_state, model, tx,
      jnp.zeros((1,) + tuple(input_shape), jnp.float32))
  state = jax.eval_shape(init, jax.random.key(0))
  batch = {"inputs": inputs,
           "label": jax.ShapeDtypeStruct((batch_size,), jnp.int32)}
  step = train_lib.make_train_step(model, tx, schedule, config)
  compiled = jax.jit(step, donate_argnums=(0,)).lower(
      state, batch, jax.random.key(0)).compile()
  return bench.peak_bytes(compiled)


def train_memory(config, input_shape: tuple[int, ...], batch_size: int,
                 model=None, probe_batch: int = 2) -> TrainMemory:
  """Memory of `config`'s train step at `batch_size`, extrapolated from
  compiles at probe_batch and twice it.

  Gradient accumulation is switched off for the probes: the figure is the
  memory of the whole batch in one step, what a user without accumulation
  needs.
  """
  config = config.copy_and_resolve_references()
  config.train.grad_accum_steps = 1
  small, large = probe_batch, 2 * probe_batch
  m_small = step_bytes(config, input_shape, small, model)
  m_large = step_bytes(config, input_shape, large, model)
  per_clip = (m_large - m_small) / (large - small)
  return TrainMemory(fixed_bytes=m_small - small * per_clip,
                     per_clip_bytes=per_clip, batch_size=int(batch_size),
                     measured_batches=(small, large),
                     backend=jax.devices()[0].platform)
