"""Shared fixtures: tiny configs that train in seconds on 2 CPU cores."""

import importlib.util
import os
import pathlib

# Tests are compile-bound (tiny shapes, a new program in nearly every test).
# LLVM optimisation level 1 instead of 2 nearly halves the compile time of
# the heavier models (i3d's boring-video test 44 s -> 25 s) and keeps the
# generated code fast enough for the few run-bound tests (level 0 makes the
# ConvLSTM's scanned convolutions 7x slower). Results are unchanged. Set
# before anything initialises the XLA backend; child processes inherit it;
# an explicit level in XLA_FLAGS wins.
_FAST_COMPILE = "--xla_backend_optimization_level=1"
if "xla_backend_optimization_level" not in os.environ.get("XLA_FLAGS", ""):
  os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " " +
                             _FAST_COMPILE).strip()

import pytest

from vst.config_base import synthetic_config

CONFIGS = pathlib.Path(__file__).parent.parent / "configs"


def synthetic_config_of(model: str, variant: str = "tiny"):
  """`configs/<model>_synthetic.py`'s config (else the shared recipe)."""
  path = CONFIGS / f"{model}_synthetic.py"
  if not path.exists():
    return synthetic_config(model, variant)
  spec = importlib.util.spec_from_file_location(f"{model}_synthetic", path)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  c = module.get_config()
  c.model.variant = variant
  return c


def tiny_config(model: str = "vivit", variant: str = "tiny", **model_fields):
  """`model`'s synthetic config, shrunk to run in seconds in a unit test."""
  c = synthetic_config_of(model, variant)
  for key, value in model_fields.items():
    c.model[key] = value
  c.dataset.num_frames = 4
  c.dataset.crop_size = 16
  c.dataset.num_classes = 4
  c.dataset.test_size = 32
  c.train.num_steps = 6
  c.train.batch_size = 8
  c.train.warmup_steps = 0
  c.train.log_every_steps = 1
  c.eval.batch_size = 16
  c.checkpoint.every_steps = 2
  return c


@pytest.fixture
def make_config():
  return tiny_config
