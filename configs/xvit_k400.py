"""X-ViT-B/16 on Kinetics-400: the released recipe (Bulat et al. 2021).

From 1adrianb/video-transformers configs/Kinetics/xvit_B16_16x16_k400.yaml:
16 frames at stride 16 (the 8-frame model: `:8`), 224² crops of 256–320
short-side videos, space-time mixing with t_w = 1 and SHIFT_DIV 8 in all
blocks, one-layer temporal head, dropout 0.5 in the MLP head; SGD with
momentum 0.9 at 0.03, 5 warmup epochs then cosine decay over 30 epochs at
batch 64, weight decay 1e-5, label smoothing 0.3 (`smooth_cross_entropy`);
test on 1 clip × 3 crops. The released recipe's mixup (0.4) and AutoAugment
are not implemented here, and the paper starts from ImageNet-21K ViT-B.

  python -m vst.main --config=configs/xvit_k400.py --workdir=DIR \
      --config.dataset.data_dir=/path/to/kinetics400
"""

from vst.config_recipes import kinetics_config
from vst.errors import ConfigError
from vst.models.registry import model_config


def get_config(num_frames: str = "16"):
  if num_frames not in ("8", "16"):
    raise ConfigError(f"configs/xvit_k400.py:{num_frames}: the published "
                      "models take 8 or 16 frames")
  return kinetics_config(
      model_config("xvit", "B/16", head_dropout_rate=0.5),
      num_frames=int(num_frames), frame_stride=16, crop_size=224,
      batch_size=64, epochs=30, optimizer="sgd", learning_rate=0.03,
      warmup_epochs=5, weight_decay=1e-5, label_smoothing=0.3, num_clips=1,
      num_crops=3)
