"""MViT-B 16×4 on Kinetics-400 from scratch: SlowFast's MVIT_B_16x4_CONV.yaml.

16 frames at stride 4, 224² crops (train: scale jitter 256–320), cube
3×7×7/2×4×4; AdamW at 1e-4 for batch 16 per 8-GPU machine (the yaml scales
it by the number of machines), weight decay 0.05 on ≥2-D weights only, 30
epochs of warmup then cosine decay over 200 epochs, gradient clipping at 1,
stochastic depth 0.2, dropout 0.5 before the head, label smoothing 0.1; test
on 5 clips × 1 crop (the paper's 1×5 views are 5 temporal clips). The yaml's
mixup, cutmix, RandAugment and random erasing are not in vst's input
pipeline. For 32×3 set --config.model.variant=B-32x3
--config.dataset.num_frames=32 --config.dataset.frame_stride=3.

  python -m vst.main --config=configs/mvit_k400.py --workdir=DIR \
      --config.dataset.data_dir=/path/to/kinetics400
"""

from vst.config_recipes import kinetics_config
from vst.models.registry import model_config


def get_config():
  return kinetics_config(
      model_config("mvit", "B-16x4", drop_path_rate=0.2,
                   head_dropout_rate=0.5),
      num_frames=16, frame_stride=4, crop_size=224, batch_size=16,
      epochs=200, optimizer="adamw", learning_rate=1e-4, warmup_epochs=30,
      weight_decay=0.05, grad_clip_norm=1.0, label_smoothing=0.1,
      num_clips=5, num_crops=1, eval_every_epochs=10)
