"""ViViT-B/16x2 factorised encoder on Kinetics-400: the paper's recipe.

Arnab et al. 2021 as released in Scenic's vivit_base_factorised_encoder config:
32 frames at stride 2, 224² crops of 256-short-side videos, tubelet 2×16×16,
temporal encoder of 4 layers, SGD momentum 0.9 at 0.05 with 2.5 epochs of linear
warmup then cosine decay over 30 epochs at batch 64, gradient clipping at 1, no
weight decay; test on 4 clips × 3 crops.

  python -m vst.main --config=configs/vivit_k400.py --workdir=DIR \
      --config.dataset.data_dir=/path/to/kinetics400
"""

from vst.config_recipes import kinetics_config
from vst.models.registry import model_config


def get_config():
  return kinetics_config(
      model_config("vivit", "B/16x2", vivit_model="factorised_encoder"),
      num_frames=32, frame_stride=2, crop_size=224, batch_size=64, epochs=30,
      optimizer="sgd", learning_rate=0.05, warmup_epochs=2.5,
      weight_decay=0.0, grad_clip_norm=1.0, num_clips=4, num_crops=3)
