"""A few training steps of a model's tiny config through the real trainer."""

import json

from tests.conftest import tiny_config
from vst import main as main_lib


def short_training_losses(model: str, workdir, steps: int = 20,
                          **model_fields) -> list:
  """Train losses of `steps` steps on `synthetic_motion_appearance`.

  Its appearance half of the label is visible in one frame, so any model
  that trains lowers the loss within a few dozen steps (tests/test_train.py).
  `model_fields` override the tiny variant's `config.model` fields.
  """
  config = tiny_config(model, **model_fields)
  config.dataset.name = "synthetic_motion_appearance"
  config.train.num_steps = steps
  config.train.learning_rate = 3e-3
  config.train.log_every_steps = 5
  config.checkpoint.every_steps = steps
  main_lib.run(config, str(workdir))
  with open(workdir / "metrics.jsonl") as f:
    metrics = [json.loads(line) for line in f]
  return [m["train/loss"] for m in metrics if "train/loss" in m]
