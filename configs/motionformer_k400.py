"""Mformer (ViT-B/16, trajectory attention) on Kinetics-400: the paper's recipe.

facebookresearch/Motionformer configs/K400/motionformer_224_16x4.yaml: 16
frames at stride 4, 224² crops (train: scale jitter 256–320), tubelet
2×16×16 from an ImageNet ViT-B; AdamW at 1e-4 for a batch of 32 clips, weight
decay 0.05, no warmup, the rate ×0.1 at epochs 20 and 30 of 35, label
smoothing 0.2, stochastic depth 0.2, mixed precision; test on 10 clips × 3
crops. Mformer-L: --config.dataset.num_frames=32 --config.dataset.frame_stride=3;
Mformer-HR: --config.dataset.crop_size=336 --config.dataset.min_resize=336
--config.dataset.frame_stride=8. Orthoformer: --config.model.attention=orthoformer.

  python -m vst.main --config=configs/motionformer_k400.py --workdir=DIR \
      --config.dataset.data_dir=/path/to/kinetics400
"""

from vst.config_recipes import kinetics_config
from vst.models.registry import model_config


def get_config():
  return kinetics_config(
      model_config("motionformer", "B/16x2", attention="trajectory",
                   dtype="bfloat16"),
      num_frames=16, frame_stride=4, crop_size=224, batch_size=32, epochs=35,
      optimizer="adamw", learning_rate=1e-4, step_epochs=(20, 30),
      weight_decay=0.05, label_smoothing=0.2, num_clips=10, num_crops=3)
