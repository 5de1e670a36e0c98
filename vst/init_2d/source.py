"""A 2D checkpoint in canonical form: what every source reader produces.

Readers (`vit_sources`, `cnn_sources`) rename and re-lay the file's arrays
into one canonical tree per source family, so that target mappings
(`vit_targets`, `cnn_targets`) are written once per family, not once per
(file format × model) pair. Each canonical array remembers the file key(s)
it came from, so the report can name them, and the reader records the file
keys it deliberately left out (buffers, auxiliary heads) as unused.
"""

import dataclasses
from typing import Any

import numpy as np

from vst.errors import ConfigError

# Canonical families: which target mappings a source can feed.
FAMILIES = ("vit", "resnet", "googlenet")


@dataclasses.dataclass
class Source:
  """Canonical arrays of one 2D checkpoint.

  Attributes:
    family: a name in FAMILIES.
    arrays: {"params/<path>" or "batch_stats/<path>": float32 array}, with
      paths in the canonical layout of the family (see the readers).
    origin: the same keys -> the file key(s) the array was made from, with
      the layout change applied (e.g. "blocks.0.attn.qkv.weight[0:64]ᵀ").
    unused: file keys the reader did not convert (kept for the report).
    meta: facts the weights alone do not give (num_heads of a JAX ViT,
      GELU flavour), used for checks and report notes.
  """
  family: str
  arrays: dict[str, np.ndarray] = dataclasses.field(default_factory=dict)
  origin: dict[str, str] = dataclasses.field(default_factory=dict)
  unused: list[str] = dataclasses.field(default_factory=list)
  meta: dict[str, Any] = dataclasses.field(default_factory=dict)
  notes: list[str] = dataclasses.field(default_factory=list)

  def put(self, key: str, array, origin: str) -> None:
    self.arrays[key] = np.asarray(array, np.float32)
    self.origin[key] = origin


class KeyTaker:
  """The file's arrays, consumed key by key (the converters' discipline:
  whatever is not taken is reported as unused, never silently dropped)."""

  def __init__(self, arrays: dict[str, np.ndarray], what: str):
    self.arrays = dict(arrays)
    self.what = what

  def has(self, key: str) -> bool:
    return key in self.arrays

  def take(self, key: str) -> np.ndarray:
    if key not in self.arrays:
      raise ConfigError(f"init_from: the {self.what} checkpoint has no "
                        f"{key!r}, which its layout needs")
    return self.arrays.pop(key)

  def left(self) -> list[str]:
    return sorted(self.arrays)
