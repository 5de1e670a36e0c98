"""What a run shows and leaves behind: TensorBoard events, a metrics log, a progress bar.

TensorBoard event files are written with tensorboardX, so TensorFlow stays out
of the core install (clu.metric_writers would import it). Only process 0 writes.
"""

import json
import os
import sys
import time
from typing import Mapping

import jax
import numpy as np


class MetricWriter:
  """Scalars to TensorBoard (`WORKDIR/tensorboard`) and to `WORKDIR/metrics.jsonl`."""

  def __init__(self, workdir: str, enabled: bool | None = None):
    self.enabled = jax.process_index() == 0 if enabled is None else enabled
    self._tb = None
    self._jsonl = None
    if self.enabled:
      from tensorboardX import SummaryWriter  # pylint: disable=g-import-not-at-top
      self._tb = SummaryWriter(os.path.join(workdir, "tensorboard"))
      self._jsonl = open(os.path.join(workdir, "metrics.jsonl"), "a")

  def write_scalars(self, step: int, scalars: Mapping[str, float]) -> None:
    if not self.enabled:
      return
    clean = {k: float(v) for k, v in scalars.items()}
    for key, value in clean.items():
      self._tb.add_scalar(key, value, step)
    self._jsonl.write(json.dumps({"step": int(step), **clean}) + "\n")
    self._jsonl.flush()

  def write_image(self, step: int, tag: str, image: np.ndarray) -> None:
    """`image`: uint8 [H, W, 3]."""
    if self.enabled:
      self._tb.add_image(tag, image, step, dataformats="HWC")

  def close(self) -> None:
    if self.enabled:
      self._tb.close()
      self._jsonl.close()


class Progress:
  """One status line: step, loss, steps/s and ETA, redrawn in place on a terminal.

  Off a terminal (CI, log files) it prints a plain line at each update instead,
  at most one per `min_interval` seconds (and always the last), so logs stay
  readable. `unit` names what is counted: "step" in training, "view" in
  evaluation (a video's clips × crops are several views).
  """

  def __init__(self, total_steps: int, first_step: int = 0, stream=None,
               unit: str = "step", min_interval: float = 0.0,
               label: str = ""):
    self.total = total_steps
    self.stream = stream or sys.stderr
    self.tty = self.stream.isatty()
    self._t0 = time.perf_counter()
    self._step0 = first_step
    self.enabled = jax.process_index() == 0
    self.unit, self.label = unit, label
    self.min_interval = min_interval
    self._last_print = -float("inf")

  def update(self, step: int, **values: float) -> None:
    if not self.enabled:
      return
    now = time.perf_counter()
    if (not self.tty and step < self.total and
        now - self._last_print < self.min_interval):
      return
    self._last_print = now
    elapsed = now - self._t0
    done = step - self._step0
    rate = done / elapsed if elapsed > 0 and done > 0 else 0.0
    eta = (self.total - step) / rate if rate > 0 else float("nan")
    width = 24
    filled = int(width * step / max(self.total, 1))
    bar = "#" * filled + "." * (width - filled)
    extras = " ".join(f"{k}={v:.4g}" for k, v in values.items())
    line = (f"{self.label}[{bar}] {self.unit} {step}/{self.total} {extras}"
            f"{' ' if extras else ''}{rate:.2f} {self.unit}s/s "
            f"ETA {_format_seconds(eta)}")
    if self.tty:
      self.stream.write("\r" + line + "\033[K")
    else:
      self.stream.write(line + "\n")
    self.stream.flush()

  def close(self) -> None:
    if self.enabled and self.tty:
      self.stream.write("\n")
      self.stream.flush()


def _format_seconds(seconds: float) -> str:
  if not np.isfinite(seconds):
    return "?"
  seconds = int(seconds)
  return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def log(message: str) -> None:
  if jax.process_index() == 0:
    print(message, file=sys.stderr, flush=True)
