"""Multiply-accumulates and parameter counts, the way the papers count them.

Published GFLOPs are multiply-accumulates of convolutions, linear layers and
matmuls; norms, softmax and activations are left out (REFERENCE.md N1). So
`count_macs` walks the jaxpr of a function and counts exactly those two
primitives, `dot_general` and `conv_general_dilated`, through every nested
jaxpr. That needs only tracing, no compile and no memory, so full-size models
at paper resolution are counted in seconds on a laptop. `xla_flops` is XLA's
own count of the same function, for cross-checking; it counts 2 FLOPs per MAC
plus elementwise ops.

It needs nothing of vst, so it sits below the trainer: `vst.train`,
`vst.bench`, the tools and the experiments all count with this one module.
"""

import functools
import math
import warnings
from typing import Any, Callable

import jax
from jax.extend import core as jax_core
import jax.numpy as jnp


def count_macs(fn: Callable[..., Any], *args, **kwargs) -> int:
  """Multiply-accumulates of `fn(*args, **kwargs)`.

  Args:
    fn: a JAX-traceable function.
    *args: arrays or `jax.ShapeDtypeStruct`s (pytrees of them too); traced.
    **kwargs: passed as they are (static), e.g. `train=False`.

  Returns:
    Conv, linear and matmul MACs. Scans count `length` times, conds their most
    expensive branch, while loops one iteration (with a warning, as the trip
    count is unknown when tracing).
  """
  closed = jax.make_jaxpr(functools.partial(fn, **kwargs))(*args)
  return jaxpr_macs(closed.jaxpr)


def jaxpr_macs(jaxpr: jax_core.Jaxpr) -> int:
  """MACs of the equations of `jaxpr` and of the jaxprs nested in them."""
  return sum(_equation_macs(eqn) for eqn in jaxpr.eqns)


def _equation_macs(eqn) -> int:
  name = eqn.primitive.name
  if name == "dot_general":
    return _dot_general_macs(eqn)
  if name == "conv_general_dilated":
    return _conv_macs(eqn)
  if name == "scan":
    return eqn.params["length"] * _macs(eqn.params["jaxpr"])
  if name == "cond":
    return max(_macs(branch) for branch in eqn.params["branches"])
  if name == "while":
    warnings.warn("count_macs: a while loop's body is counted once; its trip "
                  "count is not known when tracing")
  # jit, remat, custom_jvp/vjp, while, shard_map, ...: each nested jaxpr once.
  return sum(_macs(sub) for sub in _nested_jaxprs(eqn.params))


def _macs(jaxpr) -> int:
  if isinstance(jaxpr, jax_core.ClosedJaxpr):
    jaxpr = jaxpr.jaxpr
  return jaxpr_macs(jaxpr)


def _nested_jaxprs(params: dict):
  for value in params.values():
    values = value if isinstance(value, (tuple, list)) else (value,)
    for v in values:
      if isinstance(v, (jax_core.Jaxpr, jax_core.ClosedJaxpr)):
        yield v


def _dot_general_macs(eqn) -> int:
  """Batch × contracted × free dimensions of both operands."""
  (_, rhs_contract), (_, rhs_batch) = eqn.params["dimension_numbers"]
  lhs, rhs = (v.aval.shape for v in eqn.invars)
  rhs_free = [d for i, d in enumerate(rhs)
              if i not in rhs_contract and i not in rhs_batch]
  # lhs holds the batch, contracted and lhs-free dimensions exactly once.
  return math.prod(lhs) * math.prod(rhs_free)


def _conv_macs(eqn) -> int:
  """Output elements × kernel window × input features per group."""
  rhs_spec = eqn.params["dimension_numbers"].rhs_spec  # (O, I, spatial...)
  kernel = eqn.invars[1].aval.shape
  out = eqn.outvars[0].aval.shape
  # The kernel's I dimension already is in-features / feature_group_count.
  window = math.prod(kernel[d] for d in rhs_spec[2:])
  return math.prod(out) * window * kernel[rhs_spec[1]]


def xla_flops(fn: Callable[..., Any], *args) -> float:
  """XLA's cost-analysis 'flops' of `jax.jit(fn)` at `args` (≈ 2 × MACs)."""
  lowered = jax.jit(fn).lower(*args)
  cost = lowered.cost_analysis()
  if not cost:
    cost = lowered.compile().cost_analysis()
  if isinstance(cost, (list, tuple)):  # One dict per program in older jax.
    cost = cost[0]
  return float(cost["flops"])


def count_params(tree) -> int:
  """Number of scalars in a pytree of arrays or `jax.ShapeDtypeStruct`s."""
  return sum(math.prod(leaf.shape) for leaf in jax.tree_util.tree_leaves(tree))


def _as_spec(inputs):
  if isinstance(inputs, (tuple, list)) and all(
      isinstance(d, int) for d in inputs):
    return jax.ShapeDtypeStruct(tuple(inputs), jnp.float32)
  return inputs


def abstract_variables(model, inputs) -> dict:
  """Shapes of `model.init(..., inputs, train=False)`, allocating nothing."""
  rng = jax.random.key(0)
  return jax.eval_shape(
      lambda x: model.init({"params": rng, "dropout": rng}, x, train=False),
      _as_spec(inputs))


def model_cost(model, inputs) -> tuple[int, float]:
  """(parameters, GMACs per clip) of a vst model's inference forward pass.

  Args:
    model: a Module with `__call__(inputs, *, train)`.
    inputs: the input as a shape such as `(1, T, H, W, C)` (float32), or a
      pytree of `jax.ShapeDtypeStruct`s / arrays (a dict for multi-stream
      models); the leading dimension is the batch.

  Returns:
    The size of the "params" collection, and conv/linear/matmul GMACs of
    `model.apply(..., train=False)` divided by the batch size.
  """
  inputs = _as_spec(inputs)
  variables = abstract_variables(model, inputs)
  macs = count_macs(lambda v, x: model.apply(v, x, train=False),
                    variables, inputs)
  batch = jax.tree_util.tree_leaves(inputs)[0].shape[0]
  return count_params(variables["params"]), macs / batch / 1e9
