"""3D ResNet-34 (Hara et al. 2018) on Kinetics-400 from scratch.

16-frame clips of 112² multi-scale random crops, SGD momentum 0.9, weight
decay 1e-3, batch 128, learning rate 0.1 divided by 10 three times "after the
validation loss saturates" (here at 50/100/150 of 200 epochs; the epochs are
not published) (M: recalled from the paper, not checked against it). Test:
non-overlapping 16-frame clips averaged per video (10 clips here).
Other depths by `--config.model.variant=18|50|101|152|200|resnext101`.

  python -m vst.main --config=configs/resnet3d_k400.py --workdir=DIR \
      --config.dataset.data_dir=/path/to/kinetics400
"""

from vst.config_recipes import kinetics_sgd_config
from vst.models.registry import model_config


def get_config():
  return kinetics_sgd_config(
      model_config("resnet3d", "34"), num_frames=16, frame_stride=1,
      min_resize=128, crop_size=112, batch_size=128, epochs=200,
      step_epochs=(50, 100, 150), learning_rate=0.1, weight_decay=1e-3,
      num_clips=10, num_crops=1)
