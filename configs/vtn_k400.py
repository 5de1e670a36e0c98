"""ViT-B-VTN on Kinetics-400: bomri/SlowFast configs/Kinetics/VIT_B_VTN.yaml.

Training: 16 frames at sampling rate 8 (25 fps), 224² crops (scale jitter
256–320), an ImageNet ViT-B/16 backbone, a 3-layer Longformer (window 18,
288 positions); SGD momentum 0.9 at 1e-3 for a batch of 16 clips, ×0.1 at
epochs 13 and 24 of 25, head dropout 0.5. Testing: the whole video (up to
250 frames) as one view (TRAIN.EVAL_FULL_VIDEO with EVAL_NUM_FRAMES 250);
run that evaluation with --config.dataset.num_frames=250
--config.model.frames_per_chunk=16 so the backbone holds 16 frames at a time.

  python -m vst.main --config=configs/vtn_k400.py --workdir=DIR \
      --config.dataset.data_dir=/path/to/kinetics400
"""

from vst.config_recipes import kinetics_config
from vst.models.registry import model_config


def get_config():
  return kinetics_config(
      model_config("vtn", "B/16", head_init="zeros"),
      num_frames=16, frame_stride=8, crop_size=224, batch_size=16, epochs=25,
      optimizer="sgd", learning_rate=1e-3, step_epochs=(13, 24),
      weight_decay=0.0, num_clips=1, num_crops=1, eval_batch_size=16,
      eval_every_epochs=1)
