"""Shared fixtures: tiny configs that train in seconds on 2 CPU cores."""

import importlib.util
import pathlib

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
