"""A ConvLSTM video classifier (after Shi et al. 2015).

Shi et al. turn each 64×64 frame into a 16×16×16 tensor of 4×4 patches and
run a stack of ConvLSTM layers (hidden 128-64-64, 5×5 kernels, peepholes) over
the frames; their model forecasts frames. Here the same encoder stack is read
out as a classifier: every frame is cut into p×p patches (space-to-depth),
the stacked `ConvLSTMCell`s advance one step per frame, and the top hidden
state is average-pooled over space and classified. `readout` picks the
prediction: "last" classifies the hidden state after the clip's last valid
frame (a sequence summary, as the forecaster's copied states are), "mean"
averages the per-step class probabilities.

Patching, the cells and the classifier form one scanned step, so the network
compiles once for any T and inference memory is flat in T. Inputs may be a
dict {"rgb": [B, T, H, W, C], "lengths": int[B]} for padded clips.
"""

import flax.linen as nn
import jax
import jax.numpy as jnp

from vst.errors import ConfigError, check_choice
from vst.layers import conv_recurrent
from vst.layers import recurrent
from vst.models.registry import register

READOUTS = ("last", "mean")

VARIANTS = {
    # Shi et al.'s Moving-MNIST encoder: 4×4 patches, 128-64-64, 5×5, peepholes.
    "moving_mnist": dict(patch_size=4, features=(128, 64, 64),
                         kernel_size=(5, 5), peephole=True),
    # For 16×16 to 32×32 frames on a CPU.
    "tiny": dict(patch_size=4, features=(32, 32), kernel_size=(3, 3),
                 peephole=True),
}


def space_to_depth(x: jax.Array, patch: int) -> jax.Array:
  """[B, H, W, C] -> [B, H/p, W/p, p·p·C], Shi et al.'s patch tensor."""
  b, h, w, c = x.shape
  x = x.reshape(b, h // patch, patch, w // patch, patch, c)
  return x.transpose(0, 1, 3, 2, 4, 5).reshape(
      b, h // patch, w // patch, patch * patch * c)


class _PatchedStack(nn.Module):
  """Patchify a frame, then the stacked cells: [B, H, W, C] -> top hidden."""
  cells: nn.Module
  patch_size: int

  def __call__(self, carry, frame):
    return self.cells(carry, space_to_depth(frame, self.patch_size))


class _ClassifyStep(nn.Module):
  """A step whose output is the class probabilities of the pooled hidden."""
  stack: nn.Module
  num_classes: int
  dtype: str = "float32"

  def setup(self):
    self.head = nn.Dense(self.num_classes, dtype=jnp.dtype(self.dtype))

  def __call__(self, carry, frame):
    carry, h = self.stack(carry, frame)
    return carry, jax.nn.softmax(self.classify(h), axis=-1)

  def classify(self, h):
    """Logits [B, K] of a hidden map [B, h, w, C], pooled over space."""
    return self.head(h.mean(axis=(1, 2))).astype(jnp.float32)


class ConvLSTMClassifier(nn.Module):
  """Stacked ConvLSTM over frames [B, T, H, W, C] → logits [B, K].

  Attributes:
    num_classes: size of the classifier.
    patch_size: p of the p×p space-to-depth patches fed to the first layer.
    features: channels of each ConvLSTM layer, bottom first.
    kernel_size: (k_h, k_w) of every input and recurrent convolution.
    peephole: Hadamard peepholes in every cell.
    readout: "last" or "mean" (see the module docstring).
    dtype: compute dtype; params stay float32.
  """
  num_classes: int
  patch_size: int = 4
  features: tuple[int, ...] = (64,)
  kernel_size: tuple[int, int] = (3, 3)
  peephole: bool = False
  readout: str = "last"
  dtype: str = "float32"

  def validate_input(self, shape) -> None:
    self._check()
    _, height, width, _ = recurrent.stream_shapes(shape, ("rgb",))["rgb"]
    if height % self.patch_size or width % self.patch_size:
      raise ConfigError(
          f"dataset.crop_size: {height}×{width} frames do not split into "
          f"model.patch_size={self.patch_size} patches")

  def _check(self):
    check_choice("model.readout", self.readout, READOUTS)
    recurrent.check_positive("model.features", self.features)
    recurrent.check_positive("model.patch_size", self.patch_size)

  @nn.compact
  def __call__(self, inputs, *, train: bool) -> jax.Array:
    """Logits [B, num_classes] of RGB clips (or a dict with "lengths")."""
    del train  # No dropout or batch statistics.
    self._check()
    clips, lengths = recurrent.split_inputs(inputs, ("rgb",))
    clips = clips["rgb"].astype(jnp.dtype(self.dtype))
    batch, time, height, width, _ = clips.shape
    mask = recurrent.lengths_to_mask(lengths, batch, time)
    cells = recurrent.StackedCells(
        [conv_recurrent.ConvLSTMCell(n, tuple(self.kernel_size), self.peephole,
                                     dtype=self.dtype, name=f"convlstm{k}")
         for k, n in enumerate(self.features)], name="stack")
    step = _ClassifyStep(_PatchedStack(cells, self.patch_size),
                         self.num_classes, self.dtype, name="step")
    p = self.patch_size
    carry = cells.initial_carry(
        jnp.zeros((batch, height // p, width // p, 1), clips.dtype))
    carry, probs, _ = recurrent.TimeScan(step, name="time")(
        carry, clips, mask, (self.num_classes,))
    _, top_hidden = carry[-1]
    # The top layer's last hidden state, pooled over space as `classify` does.
    self.sow("intermediates", "pre_logits", top_hidden.mean(axis=(1, 2)))
    if self.readout == "mean":
      return jnp.log(jnp.maximum(probs, 1e-30))
    return step.classify(top_hidden)


register("convlstm", ConvLSTMClassifier, VARIANTS)
