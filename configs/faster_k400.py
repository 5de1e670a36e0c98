"""FASTER32 on Kinetics-400, Zhu et al. 2020.

8 clips of 32 frames at 112×112 per video (256 frames), expensive
R(2+1)D-50 and cheap R2D-26 clips alternating, FAST-GRU over the clips. The
paper first trains the clip backbones, then FASTER end to end; this config
is the end-to-end stage with SGD momentum 0.9 (learning rate and schedule
are not taken from the paper).

  python -m vst.main --config=configs/faster_k400.py --workdir=DIR \
      --config.dataset.data_dir=/path/to/kinetics400
"""

from vst.config_recipes import kinetics_sgd_config
from vst.models.registry import model_config


def get_config():
  c = kinetics_sgd_config(
      model_config("faster", "32"), num_frames=256, frame_stride=1,
      min_resize=128, crop_size=112, batch_size=32, epochs=40,
      learning_rate=0.01, weight_decay=1e-4, step_epochs=(20, 35),
      num_clips=1, num_crops=1)
  return c
