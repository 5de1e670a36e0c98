"""torchvision's video architectures at one common small shape, for vst.bench.

  python -m vst.bench --config=configs/bench_torchvision_video.py:r2plus1d_18

Each argument is a torchvision builder whose architecture vst implements with
the same parameters; `vst.bench` times ours and torchvision's (random init,
the same AdamW step) back to back in one process at 8×64×64 clips, batch 8,
8 classes (the synthetic benchmark's). The small shape keeps a CPU run to a minute or two while every
stage still has more than one position (MViT's three Q-poolings end at 2×2,
Swin's windows are clipped to the grid from the third stage on).
"""

from vst.config_base import synthetic_config
from vst.errors import ConfigError

# torchvision builder -> (our model name, variant).
ARCHITECTURES = {
    "r3d_18": ("resnet3d", "r3d_18"),
    "mc3_18": ("resnet3d", "mc3_18"),
    "r2plus1d_18": ("r2plus1d", "18_torchvision"),
    "s3d": ("s3d", "torchvision"),
    "swin3d_t": ("swin3d", "T"),
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
