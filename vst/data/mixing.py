"""Mixup and CutMix of whole training batches (host-side, numpy).

Row i is mixed with row B-1-i (timm's pairing, so no second batch is read).
Mixup blends whole clips with weight λ ~ Beta(α, α); CutMix pastes a box
from the partner into every frame (a spatial "cube" through time, as in
VideoMix), with λ the kept area. Every modality of a multi-modal input is
mixed with the same λ and box, so RGB and flow stay aligned.

The labels stay int32: the batch gets
  "label"       int32 [B]    the clip's own class,
  "mix_label"   int32 [B]    the partner's class,
  "mix_weight"  float32 [B]  λ, the weight of "label",
and the loss a trainer must use is λ·CE(label) + (1-λ)·CE(mix_label), which
equals cross-entropy against the mixed one-hot target.
"""

import dataclasses

import numpy as np

from vst.errors import ConfigError


@dataclasses.dataclass(frozen=True)
class Mixing:
  mixup_alpha: float = 0.0
  cutmix_alpha: float = 0.0
  switch_prob: float = 0.5  # with both on: chance of CutMix over mixup
  prob: float = 1.0         # chance that a batch is mixed at all

  @property
  def enabled(self) -> bool:
    return self.mixup_alpha > 0 or self.cutmix_alpha > 0


def make_mixing(config):
  """`Mixing` from dataset.mixup_alpha / cutmix_alpha (0: off), or None."""
  values = {}
  for field in ("mixup_alpha", "cutmix_alpha"):
    value = config.get(field) or 0.0
    if not isinstance(value, (int, float)) or value < 0:
      raise ConfigError(f"dataset.{field}={value!r} is not valid; allowed: "
                        "a Beta concentration >= 0 (0: off)")
    values[field] = float(value)
  mixing = Mixing(**values)
  return mixing if mixing.enabled else None


def _cut_box(rng, height, width, lam):
  ratio = np.sqrt(1.0 - lam)
  h, w = int(height * ratio), int(width * ratio)
  cy, cx = rng.integers(height), rng.integers(width)
  y0, y1 = np.clip([cy - h // 2, cy + h - h // 2], 0, height)
  x0, x1 = np.clip([cx - w // 2, cx + w - w // 2], 0, width)
  return int(y0), int(y1), int(x0), int(x1)


def mix_batch(batch: dict, rng: np.random.Generator, mixing: Mixing) -> dict:
  """`batch` with mixed "inputs" and the mix labels added (see module doc)."""
  labels = batch["label"]
  partner = labels[::-1].copy()
  size = len(labels)
  out = dict(batch)
  out["mix_label"] = partner
  if rng.random() >= mixing.prob:
    out["mix_weight"] = np.ones(size, np.float32)
    return out
  use_cutmix = mixing.cutmix_alpha > 0 and (
      mixing.mixup_alpha <= 0 or rng.random() < mixing.switch_prob)
  alpha = mixing.cutmix_alpha if use_cutmix else mixing.mixup_alpha
  lam = float(rng.beta(alpha, alpha))
  inputs = batch["inputs"]
  modalities = inputs if isinstance(inputs, dict) else {"": inputs}
  first = next(iter(modalities.values()))
  if use_cutmix:
    height, width = first.shape[2:4]
    y0, y1, x0, x1 = _cut_box(rng, height, width, lam)
    lam = 1.0 - (y1 - y0) * (x1 - x0) / (height * width)
  mixed = {}
  for key, x in modalities.items():
    if use_cutmix:
      x = x.copy()
      x[:, :, y0:y1, x0:x1] = x[::-1, :, y0:y1, x0:x1]
    else:
      x = lam * x + (1.0 - lam) * x[::-1]
    mixed[key] = x.astype(np.float32, copy=False)
  out["inputs"] = mixed if isinstance(inputs, dict) else mixed[""]
  out["mix_weight"] = np.full(size, lam, np.float32)
  return out


def soft_targets(batch: dict, num_classes: int) -> np.ndarray:
  """float32 [B, K] mixed one-hot targets of a mixed batch."""
  eye = np.eye(num_classes, dtype=np.float32)
  w = batch["mix_weight"][:, None]
  return w * eye[batch["label"]] + (1 - w) * eye[batch["mix_label"]]
