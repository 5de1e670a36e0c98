r"""Train or evaluate any vst model from a config file.

  python -m vst.main --config=configs/vivit_synthetic.py --workdir=/tmp/vivit
  python -m vst.main --config=configs/vivit_synthetic.py --workdir=/tmp/vivit \
      --config.train.num_steps=500 --config.model.vivit_model=factorised_encoder
  python -m vst.main --config=... --workdir=... --mode=eval

A run holds its workdir (WORKDIR/vst.lock): a second run on it stops at once.
SIGTERM or Ctrl-C saves a checkpoint at the current step and exits with
128 + the signal number; the same command resumes. Library logging (Orbax,
absl, TensorStore) and the traceback of any failure go to WORKDIR/vst.log;
stderr gets progress and, on failure, one `error:` line.

Multi-host (TPU pods, GPU clusters): run the same command on every host with
--multihost; `jax.distributed.initialize()` finds the coordinator from the
cluster's environment (TPU metadata, SLURM, Open MPI, Kubernetes), or from
--coordinator_address=HOST:PORT --num_processes=N --process_id=I on any
other cluster. Each host reads its own shard of the data.

Exit status: 0 done, 1 a failure (disk, data), 2 bad input, 3 the run
diverged, 128 + N stopped by signal N (checkpoint saved).
"""

import contextlib
import errno
import logging
import os
import sys
import threading
import traceback

from absl import app
from absl import flags
from ml_collections import config_flags

from vst import cli
from vst import run_config
from vst.cli import parse_flags, summary_line

def _with_run_config(argv):
  """`--workdir` alone finds the run's saved config; `--mode=eval` uses the
  saved config as the base of any `--config.*` overrides."""
  return run_config.with_run_config(argv, prefer_saved="--mode=eval" in argv)


# The overrides (--config.a.b=v) are defined from the config that argv names,
# so the saved config must be in the argv seen here as well as when parsing.
_CONFIG = config_flags.DEFINE_config_file(
    "config", None, "Path to a configs/*.py file.", lock_config=True,
    sys_argv=_with_run_config(sys.argv))
_WORKDIR = flags.DEFINE_string("workdir", None, "Directory for this run.")
_MODE = flags.DEFINE_enum("mode", "train", ["train", "eval"],
                          "train (evaluates at the end) or eval (latest checkpoint).")
cli.define_distributed_flags()
_VERBOSE = flags.DEFINE_bool(
    "verbose", False, "Also show library logging (Orbax, absl, TensorStore) "
    "on stderr; it always goes to WORKDIR/vst.log.")

LOG_NAME = "vst.log"
# Errors of the filesystem that end a run, whatever library met them.
_FILESYSTEM_ERRORS = {errno.ENOSPC: "no space left on device",
                      errno.EACCES: "permission denied",
                      errno.EROFS: "read-only file system",
                      errno.EDQUOT: "disk quota exceeded"}


def run(config, workdir: str, mode: str = "train", stop=None) -> dict:
  """The whole job; raises ConfigError on bad input.

  `stop`: a `vst.preemption.StopRequests` (the command line passes one
  holding SIGTERM/SIGINT); the run holds `workdir` while it runs.
  """
  from vst import train as train_lib  # pylint: disable=g-import-not-at-top
  from vst import validate  # pylint: disable=g-import-not-at-top
  from vst import workdir_lock  # pylint: disable=g-import-not-at-top
  from vst import observe  # pylint: disable=g-import-not-at-top
  import jax  # pylint: disable=g-import-not-at-top
  validate.check_workdir(workdir)
  # One lock per run, held by its first process: the others share its workdir.
  lock = (workdir_lock.WorkdirLock(workdir, warn=observe.log)
          if jax.process_index() == 0 else contextlib.nullcontext())
  with lock:
    validate.check_config(config)
    trainer = train_lib.Trainer(config, workdir)
    if mode == "train":
      return trainer.train(stop)
    return trainer.evaluate_latest()


def filesystem_error(error: BaseException) -> str | None:
  """'what: path' when `error` or one of its causes is a filesystem error
  (Orbax and TensorStore wrap them, sometimes only as text)."""
  seen = set()
  while error is not None and id(error) not in seen:
    seen.add(id(error))
    if isinstance(error, OSError) and error.errno in _FILESYSTEM_ERRORS:
      where = error.filename or ""
      return f"{_FILESYSTEM_ERRORS[error.errno]}: {where}".rstrip(": ")
    text = str(error)
    for code, what in _FILESYSTEM_ERRORS.items():
      if os.strerror(code).lower() in text.lower():
        return what
    error = error.__cause__ or error.__context__
  return None


def _log_to_workdir(workdir: str | None, verbose: bool) -> str | None:
  """Sends Python/absl logging to WORKDIR/vst.log (and, if `verbose`, still
  to stderr): Orbax alone logs ~100 INFO lines in a short run."""
  if not workdir:
    return None
  try:
    os.makedirs(workdir, exist_ok=True)
    path = os.path.join(workdir, LOG_NAME)
    handler = logging.FileHandler(path)
  except OSError:
    return None
  from absl import logging as absl_logging  # pylint: disable=g-import-not-at-top
  absl_handler = absl_logging.get_absl_handler()
  root = logging.getLogger()
  if not verbose:
    root.removeHandler(absl_handler)
  handler.setFormatter(logging.Formatter(
      "%(asctime)s %(levelname)s %(name)s: %(message)s"))
  root.addHandler(handler)
  root.setLevel(logging.INFO)
  # On a full or read-only disk the log cannot be written either; logging's
  # default would print "--- Logging error ---" and a traceback per record.
  logging.raiseExceptions = False
  return path


def _route_closed_loop_errors(log_path: str | None) -> None:
  """After a failed async save, TensorStore's callbacks may still fire into
  Orbax's closed event loop; Python prints each as a traceback on stderr
  (through sys.excepthook, sys.unraisablehook or threading.excepthook).
  Those go to the log."""
  if not log_path:
    return

  def is_closed_loop(exc) -> bool:
    return isinstance(exc, RuntimeError) and "Event loop is closed" in str(exc)

  def to_log(exc_type, exc, tb) -> None:
    try:
      with open(log_path, "a") as f:
        f.write("".join(traceback.format_exception(exc_type, exc, tb)))
    except OSError:
      pass

  previous_except, previous_unraisable = sys.excepthook, sys.unraisablehook

  def excepthook(exc_type, exc, tb):
    if is_closed_loop(exc):
      return to_log(exc_type, exc, tb)
    return previous_except(exc_type, exc, tb)

  def unraisablehook(unraisable):
    if is_closed_loop(unraisable.exc_value):
      return to_log(unraisable.exc_type, unraisable.exc_value,
                    unraisable.exc_traceback)
    return previous_unraisable(unraisable)

  previous_thread = threading.excepthook

  def thread_excepthook(args):
    if is_closed_loop(args.exc_value):
      return to_log(args.exc_type, args.exc_value, args.exc_traceback)
    return previous_thread(args)

  sys.excepthook, sys.unraisablehook = excepthook, unraisablehook
  threading.excepthook = thread_excepthook


def _fail(message: str, code: int, log_path: str | None, trace: bool) -> int:
  if trace and log_path:
    try:
      with open(log_path, "a") as f:
        f.write("".join(traceback.format_exc()))
      message += f" (details in {log_path})"
    except OSError:
      pass
  print(f"error: {message}", file=sys.stderr, flush=True)
  return code


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
  from vst import preemption  # pylint: disable=g-import-not-at-top
  from vst.data.workers import DataUnusableError  # pylint: disable=g-import-not-at-top
  from vst.errors import ConfigError  # pylint: disable=g-import-not-at-top
  from vst.train import NonFiniteLossError  # pylint: disable=g-import-not-at-top
  cli.initialize_distributed_or_exit()
  if _CONFIG.value is None:
    print("error: --config=configs/<name>.py is required", file=sys.stderr)
    return 2
  log_path = _log_to_workdir(_WORKDIR.value, _VERBOSE.value)
  _route_closed_loop_errors(log_path)
  try:
    with preemption.StopRequests() as stop:
      summary = run(_CONFIG.value, _WORKDIR.value, _MODE.value, stop)
  except ConfigError as e:
    return _fail(str(e), 2, log_path, trace=False)
  except NonFiniteLossError as e:
    return _fail(str(e), 3, log_path, trace=False)
  except preemption.Preempted as e:
    print(str(e), file=sys.stderr, flush=True)
    return e.exit_code
  except DataUnusableError as e:
    return _fail(str(e), 1, log_path, trace=True)
  except Exception as e:  # pylint: disable=broad-except
    what = filesystem_error(e)
    if what is None:
      raise
    return _fail(f"{what} (workdir {_WORKDIR.value})", 1, log_path, trace=True)
  print(summary_line(summary))
  return 0


def _exit_now(code: int) -> None:
  """Ends the process without interpreter teardown on a failure: Orbax's and
  TensorStore's background threads otherwise print asyncio tracebacks about
  a closed event loop after the one error line."""
  sys.stdout.flush()
  sys.stderr.flush()
  logging.shutdown()
  os._exit(code)  # pylint: disable=protected-access


def entry_point(argv):
  code = main(argv)
  if code:
    _exit_now(code)
  return code


if __name__ == "__main__":
  app.run(entry_point, flags_parser=lambda argv: parse_flags(
      _with_run_config(argv)))
