r"""Train or evaluate any vst model from a config file.

  python -m vst.main --config=configs/vivit_synthetic.py --workdir=/tmp/vivit
  python -m vst.main --config=configs/vivit_synthetic.py --workdir=/tmp/vivit \
      --config.train.num_steps=500 --config.model.vivit_model=factorised_encoder
  python -m vst.main --config=... --workdir=... --mode=eval

Multi-host (TPU pods, GPU clusters): run the same command on every host with
--multihost; `jax.distributed.initialize()` reads the coordinator from the
environment (TPU metadata, SLURM, or JAX_COORDINATOR_ADDRESS / JAX_NUM_PROCESSES
/ JAX_PROCESS_ID). Each host reads its own shard of the data.
"""

import sys

from absl import app
from absl import flags
from ml_collections import config_flags

from vst.cli import parse_flags, summary_line

_CONFIG = config_flags.DEFINE_config_file(
    "config", None, "Path to a configs/*.py file.", lock_config=True)
_WORKDIR = flags.DEFINE_string("workdir", None, "Directory for this run.")
_MODE = flags.DEFINE_enum("mode", "train", ["train", "eval"],
                          "train (evaluates at the end) or eval (latest checkpoint).")
_MULTIHOST = flags.DEFINE_bool("multihost", False,
                               "Call jax.distributed.initialize() first.")


def run(config, workdir: str, mode: str = "train") -> dict:
  """The whole job; raises ConfigError on bad input."""
  from vst import train as train_lib  # pylint: disable=g-import-not-at-top
  from vst import validate  # pylint: disable=g-import-not-at-top
  validate.check_workdir(workdir)
  validate.check_config(config)
  trainer = train_lib.Trainer(config, workdir)
  return trainer.train() if mode == "train" else trainer.evaluate_latest()


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
  import jax  # pylint: disable=g-import-not-at-top
  from vst.errors import ConfigError  # pylint: disable=g-import-not-at-top
  from vst.train import NonFiniteLossError  # pylint: disable=g-import-not-at-top
  if _MULTIHOST.value:
    jax.distributed.initialize()
  if _CONFIG.value is None:
    print("error: --config=configs/<name>.py is required", file=sys.stderr)
    return 2
  try:
    summary = run(_CONFIG.value, _WORKDIR.value, _MODE.value)
  except ConfigError as e:
    print(f"error: {e}", file=sys.stderr)
    return 2
  except NonFiniteLossError as e:
    print(f"error: {e}", file=sys.stderr)
    return 3
  print(summary_line(summary))
  return 0


if __name__ == "__main__":
  app.run(main, flags_parser=parse_flags)
