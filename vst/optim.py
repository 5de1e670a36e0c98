"""Optimizer and learning-rate schedule from `config.train`."""

import jax
import jax.numpy as jnp
import optax
from flax import traverse_util

from vst.errors import ConfigError, check_choice


def learning_rate_schedule(train) -> optax.Schedule:
  """Linear warmup to `learning_rate`, then cosine / step decay / constant."""
  check_choice("train.schedule", train.schedule, ("cosine", "step", "constant"))
  peak = float(train.learning_rate)
  warmup = int(train.warmup_steps)
  total = int(train.num_steps)
  if warmup < 0 or warmup > total:
    raise ConfigError(
        f"train.warmup_steps={warmup} must be in [0, train.num_steps={total}]")
  decay_steps = max(total - warmup, 1)
  if train.schedule == "cosine":
    after = optax.cosine_decay_schedule(peak, decay_steps)
  elif train.schedule == "step":
    bounds = tuple(train.step_boundaries)
    if any(not 0 < b < 1 for b in bounds):
      raise ConfigError(
          f"train.step_boundaries={bounds} must be fractions of num_steps in (0, 1)")
    after = optax.piecewise_constant_schedule(
        peak, {int(b * total) - warmup: float(train.step_factor) for b in bounds})
  else:
    after = optax.constant_schedule(peak)
  if warmup == 0:
    return after
  return optax.join_schedules(
      [optax.linear_schedule(0.0, peak, warmup), after], [warmup])


def weight_decay_mask(params, mode: str):
  """True where weight decay applies.

  `no_bias_norm` skips every parameter with fewer than two dimensions (biases,
  norm scales) and position embeddings, as ViT and ResNet recipes do.
  """
  check_choice("train.weight_decay_mask", mode, ("all", "no_bias_norm"))
  flat = traverse_util.flatten_dict(params)
  def decays(path, x):
    if mode == "all":
      return True
    name = "/".join(str(p) for p in path).lower()
    return x.ndim >= 2 and "pos_emb" not in name and "posemb" not in name
  return traverse_util.unflatten_dict({k: decays(k, v) for k, v in flat.items()})


def make_optimizer(train) -> tuple[optax.GradientTransformation, optax.Schedule]:
  check_choice("train.optimizer", train.optimizer, ("adamw", "sgd"))
  schedule = learning_rate_schedule(train)
  parts = []
  if train.grad_clip_norm:
    if train.grad_clip_norm < 0:
      raise ConfigError(f"train.grad_clip_norm={train.grad_clip_norm} must be >= 0")
    parts.append(optax.clip_by_global_norm(float(train.grad_clip_norm)))
  mask = lambda p: weight_decay_mask(p, train.weight_decay_mask)
  if train.optimizer == "adamw":
    parts.append(optax.adamw(schedule, b1=train.b1, b2=train.b2,
                             weight_decay=float(train.weight_decay), mask=mask))
  else:
    # L2 added to the gradient before momentum, as in PyTorch's SGD, which is
    # what the CNN recipes we reproduce were tuned with.
    if train.weight_decay:
      parts.append(optax.add_decayed_weights(float(train.weight_decay), mask=mask))
    parts.append(optax.sgd(schedule, momentum=train.momentum or None,
                           nesterov=bool(train.nesterov)))
  return optax.chain(*parts), schedule


def cross_entropy(logits, labels, num_classes: int, label_smoothing: float = 0.0):
  """Per-example softmax cross-entropy with optional label smoothing: [B]."""
  onehot = jax.nn.one_hot(labels, num_classes, dtype=jnp.float32)
  if label_smoothing:
    onehot = optax.smooth_labels(onehot, label_smoothing)
  return optax.softmax_cross_entropy(logits.astype(jnp.float32), onehot)
