"""torchvision's video architectures at one common small shape, for vst.bench.

  python -m vst.bench --config=configs/bench_torchvision_video.py:r2plus1d_18

Each argument is a torchvision builder whose architecture vst implements with
the same parameters; `vst.bench` times ours and torchvision's (random init,
the same AdamW step) back to back in one process at 8×64×64 clips, batch 8, 8
classes (the synthetic benchmark's). The small shape keeps a CPU run to a
minute or two while every stage still has more than one position (MViT's three
Q-poolings end at 2×2, Swin's windows are clipped to the grid from the third
stage on).
"""

from vst.config_base import synthetic_config
from vst.errors import ConfigError
from vst.models.convert.swin3d_torchvision import TORCHVISION_VARIANTS
from vst.models.convert.torchvision_video import TORCHVISION_MODELS

# torchvision builder -> (our model name, variant), from the converters'
# tables; mvit_v1_b is the one torchvision MViT.
ARCHITECTURES = {
    **TORCHVISION_MODELS,
    "swin3d_t": ("swin3d", TORCHVISION_VARIANTS["swin3d_t"]),
    "mvit_v1_b": ("mvit", "B-16x4"),
}


def get_config(arch: str = "r2plus1d_18"):
  if arch not in ARCHITECTURES:
    raise ConfigError(f"configs/bench_torchvision_video.py:{arch}: allowed "
                      f"arguments are {', '.join(ARCHITECTURES)}")
  c = synthetic_config(*ARCHITECTURES[arch])
  c.dataset.num_frames = 8
  c.dataset.crop_size = 64
  c.train.batch_size = 8
  return c
