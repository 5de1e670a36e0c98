"""UniFormer-S 16×4 on Kinetics-400: the official exp/uniformer_s16x4_k400.

16 frames at stride 4, 224² crops (train: scale jitter 256–320); AdamW at
1e-4 (batch 8 on 8 GPUs), weight decay 0.05 on ≥2-D weights only, 30 epochs
of warmup then cosine decay over 200 epochs, stochastic depth 0.1, label
smoothing 0.1; test on 4 clips × 1 crop. The official run starts from
ImageNet-1K UniFormer-S weights inflated to 3D and adds mixup, cutmix and
RandAugment, which vst's pipeline lacks. For B set
--config.model.variant=B --config.model.drop_path_rate=0.3.

  python -m vst.main --config=configs/uniformer_k400.py --workdir=DIR \
      --config.dataset.data_dir=/path/to/kinetics400
"""

from vst.config_recipes import kinetics_config
from vst.models.registry import model_config


def get_config():
  return kinetics_config(
      model_config("uniformer", "S", drop_path_rate=0.1),
      num_frames=16, frame_stride=4, crop_size=224, batch_size=8, epochs=200,
      optimizer="adamw", learning_rate=1e-4, warmup_epochs=30,
      weight_decay=0.05, label_smoothing=0.1, num_clips=4, num_crops=1,
      eval_every_epochs=10)
