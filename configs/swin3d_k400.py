"""Video Swin-T on Kinetics-400: the paper's recipe (Liu et al. 2022, Sec. 4.1).

32 frames at stride 2, 224² crops of 256-short-side videos, patch 2×4×4,
window 8×7×7; AdamW with weight decay 0.02 (Swin-T; 0.05 for B), 2.5 epochs
of linear warmup then cosine decay over 30 epochs at batch 64, stochastic
depth 0.1 (T; 0.2 S, 0.3 B), dropout 0.5 before the head (the official
I3DHead); test on 4 clips × 3 crops. The official config trains the
ImageNet-initialised backbone at 0.1× the head's learning rate (1e-3); vst's
optimizer has one rate, so this uses 1e-3 for all and starts from scratch
unless a converted checkpoint is loaded (vst.models.convert.swin3d_torchvision).

  python -m vst.main --config=configs/swin3d_k400.py --workdir=DIR \
      --config.dataset.data_dir=/path/to/kinetics400
"""

from vst.config_recipes import kinetics_config
from vst.models.registry import model_config


def get_config():
  return kinetics_config(
      model_config("swin3d", "T", drop_path_rate=0.1, head_dropout_rate=0.5),
      num_frames=32, frame_stride=2, crop_size=224, batch_size=64, epochs=30,
      optimizer="adamw", learning_rate=1e-3, warmup_epochs=2.5,
      weight_decay=0.02, num_clips=4, num_crops=3)
