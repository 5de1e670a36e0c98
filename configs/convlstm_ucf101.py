"""The ConvLSTM classifier on UCF101 (split 1).

Shi et al. 2015 is a forecasting paper; this applies its Moving-MNIST
encoder stack (4×4 patches, 128-64-64, 5×5, peepholes) to action clips of
16 frames at 112×112. Nothing here is a published recipe.

  python -m vst.main --config=configs/convlstm_ucf101.py --workdir=DIR \
      --config.dataset.data_dir=/path/to/ucf101
"""

from vst import config_recipes as recipes


def get_config():
  c = recipes.ucf101_config("convlstm", "moving_mnist", num_frames=16,
                            frame_stride=2, crop_size=112, min_resize=128)
  c.train.batch_size = 32
  c.train.num_steps = recipes.ucf101_steps(50, 32)
  c.train.optimizer = "adamw"
  c.train.learning_rate = 1e-3
  c.train.warmup_steps = 500
  c.train.weight_decay = 0.05
  return c
