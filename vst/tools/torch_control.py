r"""Train a config's PyTorch reference on the same data with the same recipe.

  python -m vst.tools.torch_control --config=configs/mvit_synthetic.py \
      [--config.train.num_steps=600] [--workdir=DIR]

A control experiment for "our model does not learn": the independent
implementation that our converter maps to (torchvision, HF transformers;
the `vst.models.convert.references` registry) is built at the config's sizes
and trained on the config's dataset (the same batches, in the same order, as
`vst.main`), with the config's AdamW recipe: linear warm-up to
`train.learning_rate`, cosine decay (`vst.optim`'s schedule itself),
`train.weight_decay` and `train.grad_clip_norm`. With
`train.weight_decay_mask="no_bias_norm"` decay skips parameters under two
dimensions and names containing "pos": `vst.optim.weight_decay_mask`'s rule
written for PyTorch names (`spatial_pos`, `position_embeddings`), which
differ from ours; a class token stored 3-D there (torchvision's
`class_token`) is decayed, where ours (1-D) is not. Prints the loss as it trains and the test top-1 at
the end; with --workdir, also writes torch_control.json there. Parameters
start from the reference's own initialisation, so a difference from our run
can also come from there.
"""

import json
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


def train_and_evaluate(config, log=print) -> dict:
  """Trains the reference; {"steps", "final_loss", "test_top1", ...}.

  Raises ConfigError when the config's model has no PyTorch reference or the
  recipe is not AdamW with a cosine schedule.
  """
  import numpy as np  # pylint: disable=g-import-not-at-top
  import torch  # pylint: disable=g-import-not-at-top
  from vst import bench_references  # pylint: disable=g-import-not-at-top
  from vst import evaluate  # pylint: disable=g-import-not-at-top
  from vst import optim  # pylint: disable=g-import-not-at-top
  from vst.data import registry  # pylint: disable=g-import-not-at-top
  from vst.errors import ConfigError  # pylint: disable=g-import-not-at-top
  train = config.train
  if train.optimizer != "adamw" or train.schedule != "cosine":
    raise ConfigError(
        f"train.optimizer={train.optimizer!r}, train.schedule="
        f"{train.schedule!r}: the control implements adamw with cosine only")
  # The trainer's own schedule, so its checks (warm-up within the run) apply.
  schedule = optim.learning_rate_schedule(train)
  reference = bench_references.build_reference(config)
  if reference is None:
    raise ConfigError(f"model.name={config.model.name!r} has no PyTorch "
                      "reference here at these model settings (see "
                      "vst.models.convert.references), or torch is not "
                      "installed")
  module, layout = reference
  torch.manual_seed(int(train.seed))
  dataset = registry.get_dataset(config.dataset.name)
  batches = dataset.train(config.dataset, int(train.batch_size),
                          int(train.seed))
  total = int(train.num_steps)
  opt = torch.optim.AdamW(_param_groups(module, train),
                          lr=float(train.learning_rate),
                          betas=(float(train.b1), float(train.b2)))

  def inputs(batch):
    clips = torch.from_numpy(np.asarray(batch["inputs"], np.float32))
    return bench_references.channels_first(clips, layout)

  module.train()
  start, loss = time.perf_counter(), float("nan")
  for step in range(total):
    batch = next(batches)
    rate = float(schedule(step))
    for group in opt.param_groups:
      group["lr"] = rate
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
      log(f"step {step + 1}/{total} loss={loss:.3f} lr={rate:.6g}")
  seconds = time.perf_counter() - start
  module.eval()
  logits, labels = [], []
  with torch.no_grad():
    for batch in dataset.eval(config.dataset, "test",
                              int(config.eval.batch_size)):
      out = bench_references.logits_of(module(inputs(batch))).numpy()
      keep = np.asarray(batch.get("mask", np.ones(len(out))), bool)
      logits.append(out[keep])
      labels.append(np.asarray(batch["label"])[keep])
  logits, labels = np.concatenate(logits), np.concatenate(labels)
  return {"reference": f"{type(module).__module__}.{type(module).__name__}",
          "steps": total, "final_loss": loss,
          "train_clips_per_s": total * int(train.batch_size) / seconds,
          "test_top1": evaluate.hit_at_k(logits, labels, 1),
          "test_clips": len(labels)}


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
  print(cli.summary_line(result))
  if fv.workdir:
    os.makedirs(fv.workdir, exist_ok=True)
    with open(os.path.join(fv.workdir, "torch_control.json"), "w") as f:
      json.dump(result, f, indent=1)
  return 0


if __name__ == "__main__":
  sys.exit(main(sys.argv))
