"""Each 3D-CNN family trains through the foundation's loop: the loss falls.

On `synthetic_motion_appearance` the hue half of the label is learnable from
one frame within a few dozen steps, so a short run shows learning for any
model that trains (tests/test_train.py's check, for the 3D CNNs).
"""

import json
import os

import pytest

from tests.conftest import tiny_config
from vst import main as main_lib


# One representative: the families share SpaceTimeConv and the trainer, and
# each compile costs tens of seconds of the suite's 15-minute budget.
@pytest.mark.parametrize("model", ["r2plus1d"])
def test_loss_falls(tmp_path, model):
  config = tiny_config(model)
  config.dataset.name = "synthetic_motion_appearance"
  config.dataset.num_frames = 8
  config.dataset.crop_size = 32
  config.train.num_steps = 30
  config.train.learning_rate = 3e-3
  config.train.log_every_steps = 5
  config.checkpoint.every_steps = 30
  main_lib.run(config, str(tmp_path))
  with open(os.path.join(tmp_path, "metrics.jsonl")) as f:
    losses = [m["train/loss"] for m in map(json.loads, f) if "train/loss" in m]
  assert losses[-1] < losses[0] - 0.05, losses
