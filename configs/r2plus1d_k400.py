"""R(2+1)D-34 on Kinetics-400 from scratch: Tran et al. 2018's recipe.

32-frame clips (stride 2) of frames resized to 128×171, random 112² crops;
VMZ's training script (c2/scripts/train_r2plus1d_kinetics.sh, R): SGD, batch
32, base learning rate 0.01 divided by 10 every 10 epochs of 1M clips, 35
epochs, weight decay 1e-4; test on 10 clips (centre crop). The paper's 72.0%
(R(2+1)D-34, 32 frames) uses this model; `--config.model.variant=18
--config.dataset.num_frames=8` gives the 8-frame R(2+1)D-18 (65.3%).

  python -m vst.main --config=configs/r2plus1d_k400.py --workdir=DIR \
      --config.dataset.data_dir=/path/to/kinetics400
"""

from vst.config_recipes import kinetics_sgd_config
from vst.models.registry import model_config


def get_config():
  return kinetics_sgd_config(
      model_config("r2plus1d", "34"), num_frames=32, frame_stride=2,
      min_resize=128, crop_size=112, batch_size=32, epoch_size=1_000_000,
      epochs=35, step_epochs=(10, 20, 30), learning_rate=0.01,
      weight_decay=1e-4, num_clips=10, num_crops=1)
