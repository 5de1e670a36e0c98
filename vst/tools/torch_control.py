r"""Train a config's PyTorch reference on the same data with the same recipe.

  python -m vst.tools.torch_control --config=configs/mvit_synthetic.py \
      [--config.train.num_steps=600] [--workdir=DIR]

A control experiment for "our model does not learn": the independent
implementation that our converter maps to (torchvision, HF transformers; the
`vst.bench_references` registry) is built at the config's sizes and trained
on the config's dataset (the same batches, in the same order, as
`vst.main`), with the config's AdamW recipe: linear warm-up to
`train.learning_rate`, cosine decay, `train.weight_decay` (on every weight
matrix and kernel only when `train.weight_decay_mask="no_bias_norm"`), and
`train.grad_clip_norm`. Prints the loss as it trains and the test top-1 at
the end; with --workdir, also writes torch_control.json there. Parameters
start from the reference's own initialisation, so a difference from our run
can also come from there.
"""

import json
import math
import os
import sys
import time
from typing import Sequence

from vst import cli


def _param_groups(module, train):
  decay = float(train.weight_decay)
  if train.weight_decay_mask == "all":
    return [{"params": list(module.parameters()), "weight_decay": decay}]
  matrices, others = [], []
  for name, p in module.named_parameters():
    skip = p.ndim < 2 or "pos" in name.lower()
    (others if skip else matrices).append(p)
  return [{"params": matrices, "weight_decay": decay},
          {"params": others, "weight_decay": 0.0}]


def lr_factor(step: int, warmup: int, total: int) -> float:
  """The multiplier of the peak rate at `step`, as `vst.optim`'s cosine."""
  if step < warmup:
    return step / warmup
  return 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(total - warmup, 1)))


def train_and_evaluate(config, log=print) -> dict:
  """Trains the reference; {"steps", "final_loss", "test_top1", ...}.

  Raises ConfigError when the config's model has no PyTorch reference or the
  recipe is not AdamW with a cosine schedule.
  """
  import numpy as np  # pylint: disable=g-import-not-at-top
  import torch  # pylint: disable=g-import-not-at-top
  from vst import bench_references  # pylint: disable=g-import-not-at-top
  from vst.data import registry  # pylint: disable=g-import-not-at-top
  from vst.errors import ConfigError  # pylint: disable=g-import-not-at-top
  train = config.train
  if train.optimizer != "adamw" or train.schedule != "cosine":
    raise ConfigError(
        f"train.optimizer={train.optimizer!r}, train.schedule="
        f"{train.schedule!r}: the control implements adamw with cosine only")
  reference = bench_references.build_reference(config)
  if reference is None:
    raise ConfigError(f"model.name={config.model.name!r} has no PyTorch "
                      "reference here (or torch is not installed)")
  module, layout = reference
  torch.manual_seed(int(train.seed))
  dataset = registry.get_dataset(config.dataset.name)
  batches = dataset.train(config.dataset, int(train.batch_size),
                          int(train.seed))
  peak, warmup, total = (float(train.learning_rate), int(train.warmup_steps),
                         int(train.num_steps))
  opt = torch.optim.AdamW(_param_groups(module, train), lr=peak,
                          betas=(float(train.b1), float(train.b2)))

  def inputs(batch):
    clips = torch.from_numpy(np.asarray(batch["inputs"], np.float32))
    return bench_references.channels_first(clips, layout)

  module.train()
  start, loss = time.perf_counter(), float("nan")
  for step in range(total):
    batch = next(batches)
    for group in opt.param_groups:
      group["lr"] = peak * lr_factor(step, warmup, total)
    labels = torch.from_numpy(np.asarray(batch["label"])).long()
    out = bench_references.logits_of(module(inputs(batch)))
    loss_t = torch.nn.functional.cross_entropy(out, labels)
    opt.zero_grad(set_to_none=True)
    loss_t.backward()
    if train.grad_clip_norm:
      torch.nn.utils.clip_grad_norm_(module.parameters(),
                                     float(train.grad_clip_norm))
    opt.step()
    loss = loss_t.item()
    if (step + 1) % int(train.log_every_steps) == 0 or step + 1 == total:
      log(f"step {step + 1}/{total} loss={loss:.3f}")
  seconds = time.perf_counter() - start
  module.eval()
  correct = count = 0
  with torch.no_grad():
    for batch in dataset.eval(config.dataset, "test",
                              int(config.eval.batch_size)):
      predicted = bench_references.logits_of(
          module(inputs(batch))).argmax(-1).numpy()
      mask = np.asarray(batch.get("mask", np.ones(len(predicted))), bool)
      correct += int(((predicted == np.asarray(batch["label"])) & mask).sum())
      count += int(mask.sum())
  return {"reference": f"{type(module).__module__}.{type(module).__name__}",
          "steps": total, "final_loss": loss,
          "train_clips_per_s": total * int(train.batch_size) / seconds,
          "test_top1": correct / max(count, 1), "test_clips": count}


def main(argv: Sequence[str]) -> int:
  """The command line: `argv` as sys.argv; returns the exit status."""
  from vst.errors import ConfigError  # pylint: disable=g-import-not-at-top
  fv = cli.new_flag_values(
      argv, config_help="Path to a configs/*.py file.",
      workdir_help="Optional: where to write torch_control.json.")
  if len(cli.parse_flags(list(argv), fv)) > 1:
    print("error: unexpected positional arguments", file=sys.stderr)
    return 2
  if fv.config is None:
    print("error: --config=configs/<name>.py is required", file=sys.stderr)
    return 2
  try:
    result = train_and_evaluate(fv.config)
  except ConfigError as e:
    print(f"error: {e}", file=sys.stderr)
    return 2
  print(" ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                 for k, v in result.items()))
  if fv.workdir:
    os.makedirs(fv.workdir, exist_ok=True)
    with open(os.path.join(fv.workdir, "torch_control.json"), "w") as f:
      json.dump(result, f, indent=1)
  return 0


if __name__ == "__main__":
  sys.exit(main(sys.argv))
