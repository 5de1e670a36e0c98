"""ir-CSN-152 on Kinetics-400 from scratch: Tran et al. 2019 via VMZ.

32-frame clips, 224² crops of 256-short-side frames (the VMZ zoo's GFLOPs are
counted at 256², REFERENCE.md N3); VMZ's PyTorch training defaults (pt/vmz/
func/opts.py, R): SGD momentum 0.9, learning rate 0.01 with 10 warm-up epochs,
divided by 10 at epochs 20, 30, 40 of 45, weight decay 1e-4; batch 24 clips
per GPU (here 8 GPUs' worth). Test on 10 clips × 3 crops (paper).
`--config.model.variant=ip_152` for ip-CSN-152.

  python -m vst.main --config=configs/csn_k400.py --workdir=DIR \
      --config.dataset.data_dir=/path/to/kinetics400
"""

from vst.config_recipes import kinetics_sgd_config
from vst.models.registry import model_config


def get_config():
  return kinetics_sgd_config(
      model_config("csn", "ir_152"), num_frames=32, frame_stride=2,
      min_resize=256, crop_size=224, batch_size=8 * 24, epochs=45,
      step_epochs=(20, 30, 40), warmup_epochs=10, learning_rate=0.01,
      weight_decay=1e-4, num_clips=10, num_crops=3)
