"""PyTorch reference implementations, registered by name beside the converters.

A reference is registered per model name as a function
`(config, model_kwargs) -> torch.nn.Module | None` taking channels-first clips
[B, T, C, H, W] or [B, C, T, H, W] (said by `layout`). None means the config
has no counterpart there (e.g. a ViViT model HF does not implement).

References live next to the weight converter of the same implementation
(`vst/models/convert/*.py`, decorated with `@references.register`), which
already knows how its config maps to ours, and import torch lazily. The
registry lives here, below the bench that times them (`vst.bench_references`)
and the tools that train them (`vst.tools.torch_control`), so a converter
imports nothing above the models.
"""

from typing import Callable, NamedTuple

from vst.registry import PackageModules, Registry

LAYOUTS = ("BTCHW", "BCTHW")


class Reference(NamedTuple):
  build: Callable  # (config, model_kwargs) -> torch.nn.Module | None
  layout: str      # one of LAYOUTS


REFERENCES: Registry[Reference] = Registry(
    "PyTorch reference", "model.name", PackageModules("vst.models.convert"))


def register(name: str, layout: str):
  """Decorator: registers the reference builder of model `name`."""
  if layout not in LAYOUTS:
    raise ValueError(f"reference layout {layout!r} for {name!r} is not one "
                     f"of {', '.join(LAYOUTS)}")

  def wrap(build):
    REFERENCES.register(name, Reference(build, layout))
    return build
  return wrap
