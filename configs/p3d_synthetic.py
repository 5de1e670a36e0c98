"""p3d (variant "tiny": P3D-A → B → C blocks) on `synthetic_motion`.

  python -m vst.main --config=configs/p3d_synthetic.py --workdir=workdirs/p3d

Measured on 2 CPU cores (2026-11-30, one job on the machine): 85.0% / 86.1% /
94.3% / 97.7% test top-1 at steps 3000 / 6000 / 9000 / 12000, 8 min 14 s wall,
811 train clips/s. The narrow tiny P3D (96k parameters) learns slowly per step
but runs 3-4× as many clips per second as the other tiny 3D CNNs; in 2400
steps it stopped at 63.5%, in 6000 at 87.7%.
"""

from vst.config_base import synthetic_config


def get_config():
  return synthetic_config("p3d", "tiny", num_steps=12000, evaluations=4)
