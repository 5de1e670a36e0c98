"""Stop requests: SIGTERM (every preemptible scheduler's warning) and Ctrl-C.

The first signal only sets a flag; the trainer finishes the step it is in,
saves a checkpoint there and stops, so a rerun of the same command resumes
exactly. A second signal while that happens exits at once: Orbax writes a
checkpoint to a temporary folder and renames it when complete, so the
previous checkpoints stay intact.

On several processes a signal may reach only some of them; `agreed` makes
every process stop at the same step (one tiny all-reduce per step).
"""

import os
import signal
import sys
import threading

import jax
import numpy as np

SIGNALS = (signal.SIGTERM, signal.SIGINT)


class StopRequests:
  """Context manager: while active, SIGTERM/SIGINT ask the run to stop."""

  def __init__(self):
    self.signal_name: str | None = None
    self._previous = {}

  def __enter__(self):
    # Handlers can only be installed from the main thread (a notebook cell or
    # a test may train from another); there signals keep their default.
    if threading.current_thread() is threading.main_thread():
      for sig in SIGNALS:
        self._previous[sig] = signal.signal(sig, self._handle)
    return self

  def __exit__(self, *exc):
    for sig, handler in self._previous.items():
      signal.signal(sig, handler)
    self._previous.clear()
    return False

  def _handle(self, signum, frame):  # pylint: disable=unused-argument
    name = signal.Signals(signum).name
    if self.signal_name is not None:
      print(f"error: second {name} while stopping; exiting now (the "
            "checkpoints already written are intact)", file=sys.stderr,
            flush=True)
      os._exit(128 + signum)  # pylint: disable=protected-access
    self.signal_name = name
    print(f"\n{name} received: finishing this step and saving a checkpoint "
          "(send it again to exit at once)", file=sys.stderr, flush=True)

  @property
  def requested(self) -> bool:
    return self.signal_name is not None

  def agreed(self) -> bool:
    """Whether any process was asked to stop (the same answer on all)."""
    if jax.process_count() == 1:
      return self.requested
    from jax.experimental import multihost_utils  # pylint: disable=g-import-not-at-top
    flags = multihost_utils.process_allgather(np.int32(self.requested))
    return bool(np.any(flags))


class Preempted(Exception):
  """Training stopped on a signal after saving a checkpoint at `step`."""

  def __init__(self, signal_name: str, step: int, workdir: str):
    self.signal_name, self.step, self.workdir = signal_name, step, workdir
    code = getattr(signal, signal_name, signal.SIGTERM)
    self.exit_code = 128 + int(code)
    super().__init__(
        f"stopped by {signal_name} at step {step}; checkpoint saved in "
        f"{os.path.join(workdir, 'checkpoints')}; rerun the same command to "
        "resume")
