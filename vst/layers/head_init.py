"""Named initialisations of a classifier head's kernel (`model.head_init`).

The official codes start their heads small or at zero, which suits
fine-tuning a pretrained backbone: the new head must not disturb it. From
scratch, the tiny ViViT, TimeSformer and X-ViT learned faster with a
random "lecun_normal" head (measured in their synthetic configs, which pick
it, as Motionformer's does). It is not a general cure: the tiny MViT stays at chance with it
(`configs/mvit_synthetic.py`).
"""

import flax.linen as nn

from vst.layers import torch_init

HEAD_INITS = {
    "zeros": nn.initializers.zeros,
    # Every nn.Linear in the timm/PyTorch codes (TimeSformer, MViT).
    "trunc_normal": torch_init.DENSE,
    # X-ViT's official head: normal(0, 0.001) (`_prepare_classifier`).
    "normal": nn.initializers.normal(0.001),
    "lecun_normal": nn.initializers.lecun_normal(),
}
