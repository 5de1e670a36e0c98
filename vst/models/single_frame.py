"""DeepVideo's single-frame baseline (Karpathy et al. 2014).

A 2D AlexNet-like tower sees each frame on its own and the clip's logits are
the average of the frame logits, so the model is blind to frame order and to
motion: on `synthetic_motion`, whose classes differ only in motion, it should
stay at chance.
"""

import flax.linen as nn
import jax
import jax.numpy as jnp

from vst.errors import ConfigError
from vst.layers import alexnet_tower
from vst.models.registry import register

VARIANTS = {
    # The Sports-1M network: 170×170 frames, ≈60.3M parameters at 487 classes.
    "paper": dict(tower="deepvideo", dropout_rate=0.5),
    "tiny": dict(tower="tiny", dropout_rate=0.0),
}


class SingleFrame(nn.Module):
  """Frame tower on every frame, frame logits averaged over time.

  Attributes:
    num_classes: size of the classifier.
    tower: a name in `alexnet_tower.TOWER_SPECS`.
    dropout_rate: dropout after each FC layer of the tower.
    dtype: compute dtype ("bfloat16" for mixed precision); params stay float32.
    remat: rematerialise the conv trunk in the backward pass.
  """
  num_classes: int
  tower: str = "tiny"
  dropout_rate: float = 0.0
  dtype: str = "float32"
  remat: bool = False

  def validate_input(self, shape) -> None:
    """Raises ConfigError unless (T, H, W, C) frames survive the trunk."""
    spec = alexnet_tower.get_tower_spec(self.tower)
    _, height, width, _ = shape
    smallest = spec.min_input_size()
    if min(height, width) < smallest:
      raise ConfigError(
          f"dataset.crop_size: {height}×{width} frames are too small for the "
          f"{self.tower!r} tower of single_frame, which needs at least "
          f"{smallest}×{smallest}")

  @nn.compact
  def __call__(self, inputs: jax.Array, *, train: bool) -> jax.Array:
    """Logits of a batch of clips.

    Args:
      inputs: [B, T, H, W, C] clips.
      train: enables dropout.

    Returns:
      [B, num_classes] float32 logits.
    """
    batch, time = inputs.shape[:2]
    frames = inputs.reshape((batch * time,) + inputs.shape[2:])
    features = alexnet_tower.AlexNetTower(
        alexnet_tower.get_tower_spec(self.tower), self.dropout_rate,
        dtype=self.dtype, remat=self.remat, name="tower")(
            frames.astype(jnp.dtype(self.dtype)), train=train)
    # The classifier is linear, so classifying the mean frame feature gives
    # exactly the mean of the frame logits, for one classifier pass per clip.
    features = features.reshape((batch, time, -1)).mean(axis=1)
    self.sow("intermediates", "pre_logits", features)
    logits = nn.Dense(self.num_classes, dtype=jnp.dtype(self.dtype),
                      name="head")(features)
    return logits.astype(jnp.float32)


register("single_frame", SingleFrame, VARIANTS)
