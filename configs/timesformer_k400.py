"""TimeSformer on Kinetics-400: the official recipe (Bertasius et al. 2021).

From facebookresearch/TimeSformer configs/Kinetics/TimeSformer_divST_*.yaml:
divided space-time attention on ViT-B/16, drop path 0.1, no dropout; SGD with
momentum 0.9 at 0.005, weight decay 1e-4, 15 epochs with the rate divided by
10 at epochs 11 and 14, total batch 8; test on 1 clip × 3 crops. The three
published models differ only in their clips, picked by the config argument:

  base  TimeSformer     8 frames at stride 32, 224² (default)
  HR    TimeSformer-HR  16 frames at stride 16, 448²
  L     TimeSformer-L   96 frames at stride 4, 224²

  python -m vst.main --config=configs/timesformer_k400.py:HR --workdir=DIR \
      --config.dataset.data_dir=/path/to/kinetics400

The paper fine-tunes from ImageNet-21K ViT-B; from scratch this recipe will not
reach the published accuracy.
"""

from vst.config_recipes import kinetics_config
from vst.errors import ConfigError
from vst.models.registry import model_config

# name -> (num_frames, frame_stride, min_resize, crop_size).
CLIPS = {
    "base": (8, 32, 256, 224),
    "HR": (16, 16, 448, 448),
    "L": (96, 4, 256, 224),
}


def get_config(clips: str = "base"):
  if clips not in CLIPS:
    raise ConfigError(f"configs/timesformer_k400.py:{clips}: allowed "
                      f"arguments are {', '.join(CLIPS)}")
  num_frames, stride, min_resize, crop = CLIPS[clips]
  return kinetics_config(
      model_config("timesformer", "B/16", attention="divided",
                   drop_path_rate=0.1),
      num_frames=num_frames, frame_stride=stride, min_resize=min_resize,
      crop_size=crop, batch_size=8, epochs=15, optimizer="sgd",
      learning_rate=0.005, step_epochs=(11, 14), weight_decay=1e-4,
      num_clips=1, num_crops=3, eval_batch_size=8)
