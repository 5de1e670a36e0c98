"""The paper-config building blocks set exactly the fields they name."""

import pytest

from vst import config_recipes as recipes
from vst.config_base import base_config, synthetic_config
from vst.errors import ConfigError


def test_ucf101_config_points_at_split1_with_an_empty_data_dir():
  c = recipes.ucf101_config("c3d", "paper", num_frames=16, crop_size=112,
                            min_resize=128)
  assert (c.dataset.name, c.dataset.num_classes) == ("ucf101", 101)
  assert c.dataset.data_dir == ""
  assert (c.dataset.num_frames, c.dataset.crop_size,
          c.dataset.min_resize, c.dataset.frame_stride) == (16, 112, 128, 1)
  assert c.model.name == "c3d" and c.model.variant == "paper"
  segments = recipes.ucf101_config("two_stream", "cnn_m", num_frames=10,
                                   frame_stride=None, crop_size=224,
                                   min_resize=256)
  assert "frame_stride" not in segments.dataset


def test_ucf101_steps_counts_passes_over_the_train_list():
  assert recipes.ucf101_steps(1, 30) == 9537 // 30
  assert recipes.ucf101_steps(30, 16) == 30 * 9537 // 16


def test_sgd_without_boundaries_keeps_the_default_schedule():
  c = base_config()
  default = c.train.schedule
  recipes.sgd(c, learning_rate=0.01, batch_size=8, num_steps=100)
  assert c.train.schedule == default
  assert (c.train.optimizer, c.train.momentum, c.train.weight_decay) == (
      "sgd", 0.9, 5e-4)
  assert c.train.weight_decay_mask == base_config().train.weight_decay_mask


def test_sgd_with_boundaries_steps_and_decay_all():
  c = base_config()
  recipes.sgd(c, learning_rate=0.01, batch_size=8, num_steps=100,
              boundaries=(0.5, 0.8), decay_all=True)
  assert c.train.schedule == "step"
  assert c.train.step_boundaries == (0.5, 0.8)
  assert c.train.step_factor == pytest.approx(0.1)
  assert c.train.weight_decay_mask == "all"


def test_multi_view_test_and_periodic():
  c = base_config()
  recipes.multi_view_test(c, num_clips=25, num_crops=10, batch_size=32)
  recipes.periodic(c, eval_every=2000, checkpoint_every=500)
  assert (c.eval.split, c.eval.num_clips, c.eval.num_crops,
          c.eval.batch_size) == ("test", 25, 10, 32)
  assert (c.train.log_every_steps, c.train.eval_every_steps,
          c.checkpoint.every_steps) == (100, 2000, 500)


def test_kinetics_config_counts_in_epochs_of_the_train_set():
  steps_per_epoch = recipes.KINETICS_400_TRAIN_SIZE // 64
  c = recipes.kinetics_config(
      base_config().model, num_frames=32, frame_stride=2, crop_size=224,
      batch_size=64, epochs=30, optimizer="adamw", learning_rate=1e-3,
      warmup_epochs=2.5, step_epochs=(20, 25), weight_decay=0.05,
      num_clips=4, num_crops=3, eval_every_epochs=10)
  assert (c.dataset.name, c.dataset.num_classes, c.dataset.min_resize) == (
      "kinetics400", 400, 256)
  assert c.train.num_steps == 30 * steps_per_epoch
  assert c.train.warmup_steps == int(2.5 * steps_per_epoch)
  assert (c.train.schedule, c.train.step_boundaries) == ("step",
                                                         (20 / 30, 25 / 30))
  assert c.train.eval_every_steps == 10 * steps_per_epoch
  # The transformer papers do not decay biases and norms.
  assert c.train.weight_decay_mask == "no_bias_norm"
  assert (c.eval.split, c.eval.num_clips, c.eval.num_crops,
          c.eval.batch_size) == ("validation", 4, 3, 64)


def test_kinetics_sgd_config_decays_every_parameter_with_cosine_by_default():
  c = recipes.kinetics_sgd_config(
      base_config().model, num_frames=16, frame_stride=1, min_resize=128,
      crop_size=112, batch_size=128, epochs=2, learning_rate=0.1,
      weight_decay=1e-3)
  assert (c.train.optimizer, c.train.schedule, c.train.weight_decay_mask,
          c.eval.batch_size) == ("sgd", "cosine", "all", 32)


def test_synthetic_config_spaces_a_longer_runs_evaluations_evenly():
  c = synthetic_config("c3d", "tiny", num_steps=12000, evaluations=4)
  assert (c.train.num_steps, c.train.eval_every_steps,
          c.checkpoint.every_steps) == (12000, 3000, 3000)
  with pytest.raises(ConfigError, match="num_steps=1000 is not a multiple "
                     "of evaluations=3"):
    synthetic_config("c3d", "tiny", num_steps=1000)
