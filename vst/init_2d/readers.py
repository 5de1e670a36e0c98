"""Reading a 2D image checkpoint file into a flat dict of float32 numpy arrays.

Three containers, one reader each, and `read` dispatching on
`init_from.format`:

  big_vision_npz    `np.savez` of a flattened JAX params tree, keys joined by
                    "/" (big_vision, Scenic and vit_jax write this).
  timm_safetensors  a `.safetensors` state dict (timm, HF hub); read with the
                    `safetensors` package, a core dependency, so no torch.
  torchvision       a `.pth` torchvision state dict (needs torch, which vst
                    does not depend on: it is imported only here, lazily), or
                    the same state dict saved as `.npz` (keys joined by ".").

"auto" picks the reader from the file extension, and for `.npz` whether the
keys look like a JAX tree ("/") or a PyTorch state dict (".").
"""

import os
from typing import Callable

import numpy as np

from vst.errors import ConfigError, check_choice

FORMATS = ("auto", "big_vision_npz", "timm_safetensors", "torchvision")


def _float32(key: str, value) -> np.ndarray:
  array = np.asarray(value)
  if not (np.issubdtype(array.dtype, np.floating)
          or np.issubdtype(array.dtype, np.integer)):
    raise ConfigError(f"checkpoint key {key!r} has dtype {array.dtype}; "
                      "allowed: numeric arrays")
  return array.astype(np.float32)


def read_npz(path: str) -> dict[str, np.ndarray]:
  """Every array of an `.npz`, by its key."""
  with np.load(path, allow_pickle=False) as data:
    return {key: _float32(key, data[key]) for key in data.files}


def read_safetensors(path: str) -> dict[str, np.ndarray]:
  """Every tensor of a `.safetensors` file, as float32 numpy (bf16 included)."""
  from safetensors import safe_open  # pylint: disable=g-import-not-at-top
  out = {}
  try:
    handle = safe_open(path, framework="numpy")
  except Exception as e:  # safetensors raises its own SafetensorError.
    raise ConfigError(f"init_from.path={path!r} is not a readable "
                      f"safetensors file: {e}") from e
  with handle as f:
    for key in f.keys():
      out[key] = _float32(key, f.get_tensor(key))
  return out


def read_torch(path: str) -> dict[str, np.ndarray]:
  """A `.pth` state dict (or a dict holding one under "state_dict"/"model")."""
  try:
    import torch  # pylint: disable=g-import-not-at-top
  except ImportError as e:
    raise ConfigError(
        f"init_from.path={path!r}: reading a .pth checkpoint needs torch, "
        "which vst does not install; pip install torch, or save the state "
        "dict as .npz ({k: v.numpy() for k, v in sd.items()}) and load that"
    ) from e
  state = torch.load(path, map_location="cpu", weights_only=True)
  for wrapper in ("state_dict", "model"):
    if isinstance(state, dict) and isinstance(state.get(wrapper), dict):
      state = state[wrapper]
  if not isinstance(state, dict):
    raise ConfigError(f"init_from.path={path!r} holds a {type(state).__name__},"
                      " not a state dict")
  return {key: _float32(key, value.detach().cpu().float().numpy())
          for key, value in state.items() if hasattr(value, "detach")}


def _npz_layout(keys) -> str:
  """"big_vision_npz" when the keys are a "/"-joined tree, else torchvision."""
  slashed = sum("/" in k for k in keys)
  return "big_vision_npz" if slashed * 2 >= len(keys) else "torchvision"


def resolve_format(path: str, fmt: str) -> str:
  """`fmt`, or for "auto" the format the file's extension implies."""
  check_choice("init_from.format", fmt, FORMATS)
  if fmt != "auto":
    return fmt
  ext = os.path.splitext(path)[1].lower()
  if ext == ".safetensors":
    return "timm_safetensors"
  if ext in (".pth", ".pt", ".bin"):
    return "torchvision"
  if ext == ".npz":
    with np.load(path, allow_pickle=False) as data:
      return _npz_layout(data.files)
  raise ConfigError(
      f"init_from.path={path!r}: cannot tell the format from the extension "
      f"{ext!r}; allowed extensions with init_from.format='auto': .npz, "
      ".safetensors, .pth/.pt/.bin; or set init_from.format to one of "
      f"{', '.join(FORMATS[1:])}")


_READERS: dict[str, Callable[[str], dict[str, np.ndarray]]] = {
    ".npz": read_npz,
    ".safetensors": read_safetensors,
}


def read(path: str, fmt: str = "auto") -> tuple[str, dict[str, np.ndarray]]:
  """(resolved format, {key: float32 array}) of a checkpoint file.

  Raises:
    ConfigError: if the file is missing, unreadable, or its container does
      not fit the format.
  """
  if not path or not os.path.isfile(path):
    raise ConfigError(f"init_from.path={path!r} is not a file")
  fmt = resolve_format(path, fmt)
  ext = os.path.splitext(path)[1].lower()
  if ext in _READERS:
    arrays = _READERS[ext](path)
  elif fmt == "torchvision":
    arrays = read_torch(path)
  else:
    raise ConfigError(
        f"init_from.path={path!r}: a {fmt} checkpoint is read from "
        f"{'.npz' if fmt == 'big_vision_npz' else '.safetensors'}, not {ext!r}")
  if not arrays:
    raise ConfigError(f"init_from.path={path!r} holds no arrays")
  return fmt, arrays
