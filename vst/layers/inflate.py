"""2D → 3D kernel inflation of any 2D checkpoint's params tree (I3D).

Carreira & Zisserman 2017 bootstrap a 3D network from a 2D one by inflating
every k×k kernel to t×k×k. How the 2D kernel is spread over time:

  centre  the 2D kernel at the middle temporal index, zeros elsewhere: each
          output frame sees only its own input frame at initialisation.
  mean    the 2D kernel repeated t times and divided by t: on a video of
          identical frames every conv gives the 2D output (the "boring video"
          fixed point), so the inflated network does too.
  repeat  the 2D kernel repeated t times without rescaling (responses grow by
          t per inflated layer; BatchNorm statistics absorb that when
          re-estimated).

`inflate_params` takes the 2D tree and the 3D network's (abstract) tree, e.g.
`flops.abstract_variables(model_3d, shape)["params"]`, and fills the 3D tree:
4D kernels [k_h, k_w, C, D] (or 5D ones with t = 1) are inflated to the 3D
shape, all other leaves (biases, norms, heads) are copied, and any mismatch
names the parameter.
"""

from typing import Any, Callable, Mapping

from flax import traverse_util
import jax
import numpy as np

from vst.errors import check_choice
from vst.layers import embed


def _repeat(kernel_2d: np.ndarray, time: int) -> np.ndarray:
  return np.broadcast_to(kernel_2d, (time,) + kernel_2d.shape)


# The same lifts ViViT's tubelet initialisers use, under I3D's names.
INFLATIONS: dict[str, Callable[[jax.Array, int], jax.Array]] = {
    "centre": embed.central_frame,
    "mean": embed.filter_inflation,
    "repeat": _repeat,
}


def inflate_kernel(kernel_2d: jax.Array, time: int, method: str) -> jax.Array:
  """[k_h, k_w, C, D] (or [1, k_h, k_w, C, D]) -> numpy [t, k_h, k_w, C, D]."""
  check_choice("inflation method", method, INFLATIONS)
  # numpy: a checkpoint is converted on the host, without one XLA compile
  # per kernel shape.
  kernel_2d = np.asarray(kernel_2d)
  if kernel_2d.ndim == 5:
    if kernel_2d.shape[0] != 1:
      raise ValueError(f"a 2D kernel has time extent 1, not {kernel_2d.shape}")
    kernel_2d = kernel_2d[0]
  return INFLATIONS[method](kernel_2d, time)


def inflate_params(params_2d: Mapping[str, Any], params_3d: Mapping[str, Any],
                   method: str = "mean") -> dict[str, Any]:
  """The 3D tree `params_3d` describes, filled from the 2D tree.

  Args:
    params_2d: nested dict of arrays of the 2D network (same module paths as
      the 3D network: the 3D network is the 2D one with its kernels inflated).
    params_3d: nested dict of arrays or `jax.ShapeDtypeStruct`s giving the
      target shapes.
    method: a key of `INFLATIONS`.

  Returns:
    A nested dict with `params_3d`'s structure and shapes.

  Raises:
    ValueError: naming every path missing from either tree, and any leaf
      whose shape neither matches nor inflates.
  """
  check_choice("inflation method", method, INFLATIONS)
  source = traverse_util.flatten_dict(dict(params_2d), sep="/")
  target = traverse_util.flatten_dict(dict(params_3d), sep="/")
  missing = sorted(set(target) - set(source))
  extra = sorted(set(source) - set(target))
  if missing or extra:
    raise ValueError(f"2D and 3D trees differ: missing in 2D {missing}, "
                     f"not in 3D {extra}")
  out = {}
  for path, leaf in target.items():
    value, shape = source[path], tuple(leaf.shape)
    value_shape = tuple(np.shape(value))
    if value_shape == shape:
      out[path] = np.asarray(value)
    elif len(shape) == 5 and value_shape[-4:] == shape[1:] and (
        len(value_shape) == 4 or value_shape[0] == 1):
      out[path] = inflate_kernel(value, shape[0], method)
    else:
      raise ValueError(f"{path}: 2D shape {value_shape} does not inflate to "
                       f"{shape}")
  return traverse_util.unflatten_dict(out, sep="/")
