"""The initialisers of the PyTorch reference implementations.

Video Swin, MViT and UniFormer (official code and torchvision) initialise
every nn.Linear kernel truncated normal with σ 0.02 and zero bias, and leave
convolutions at PyTorch's default. flax's defaults (LeCun normal, or Xavier
uniform in the ViT blocks) are about 9× larger at width 32, and from scratch
that is not a detail: the tiny synthetic Video Swin stayed at chance with
them (`configs/swin3d_synthetic.py`). Models that follow those papers pass
these to their Dense, attention, MLP and Conv3D layers. `TABLE`
initialises the learned position tables and class tokens of the models
built on timm's ViT or the official PyTorch code (TimeSformer, X-ViT,
Motionformer, MViT, Video Swin's relative position bias).
"""

import flax.linen as nn

# nn.init.trunc_normal_(std=0.02); flax truncates at ±2σ, which leaves σ ≈ 0.0176.
DENSE = nn.initializers.truncated_normal(0.02)

# nn.Conv3d's default kaiming_uniform_(a=√5): U(±1/√fan_in), variance
# 1/(3·fan_in); flax's fan_in counts in_channels / groups, as torch does.
CONV = nn.initializers.variance_scaling(1 / 3, "fan_in", "uniform")

# Learned position tables and class tokens: trunc_normal_(std=0.02) in timm's
# ViT and in every official video-transformer code base built on it.
TABLE = nn.initializers.truncated_normal(0.02)
