"""Shared fixtures: tiny configs that train in seconds on 2 CPU cores."""

import pytest

from vst.config_base import synthetic_config


def tiny_config(model: str = "vivit", variant: str = "tiny", **model_fields):
  """A synthetic_motion config small enough for a unit test."""
  c = synthetic_config(model, variant)
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
