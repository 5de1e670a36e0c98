"""One writer per workdir: a lock file that says who holds the run.

`WORKDIR/vst.lock` is created atomically (O_CREAT | O_EXCL) and holds the
holder's host, pid and start time. The holder refreshes its modification
time every `LEASE_SECONDS / 4`, so a lock survives a long run but not its
holder: a lock is stale, and taken over with a warning, when its holder ran
on this host and that pid is gone, or (another host on a shared filesystem,
where the pid cannot be checked) when it has not been refreshed for
`LEASE_SECONDS`. A takeover renames the stale file first, which only one
contender can do, so two runs never both win.
"""

import json
import os
import socket
import threading
import time

from vst.errors import ConfigError

LOCK_NAME = "vst.lock"
LEASE_SECONDS = 600.0


class WorkdirBusyError(ConfigError):
  """Another live run holds the workdir."""


def _pid_alive(pid: int) -> bool:
  try:
    os.kill(pid, 0)
  except ProcessLookupError:
    return False
  except PermissionError:  # alive, owned by someone else
    return True
  return True


def _read(path: str) -> dict | None:
  try:
    with open(path) as f:
      return json.load(f)
  except (OSError, ValueError):
    return None


def _describe(holder: dict) -> str:
  started = time.strftime("%Y-%m-%d %H:%M:%S",
                          time.localtime(holder.get("started", 0)))
  return (f"pid {holder.get('pid')} on host {holder.get('host')!r}, started "
          f"{started}")


class WorkdirLock:
  """Context manager holding `workdir` for this process."""

  def __init__(self, workdir: str, lease_seconds: float = LEASE_SECONDS,
               warn=None):
    self.path = os.path.join(workdir, LOCK_NAME)
    self.workdir = workdir
    self.lease = float(lease_seconds)
    self._warn = warn or (lambda message: None)
    self._stop = threading.Event()
    self._thread = None
    self._held = False

  def _stale_reason(self, holder: dict | None) -> str | None:
    try:
      age = time.time() - os.path.getmtime(self.path)
    except OSError:
      return "it vanished"
    if holder is None:
      # Unreadable: a holder killed between create and write, or a torn file.
      return "it is unreadable" if age > 5.0 else None
    if holder.get("host") == socket.gethostname():
      if not _pid_alive(int(holder.get("pid", -1))):
        return f"its holder ({_describe(holder)}) is no longer running"
      return None
    if age > self.lease:
      return (f"its holder ({_describe(holder)}) has not renewed it for "
              f"{age:.0f} s (lease {self.lease:.0f} s)")
    return None

  def acquire(self) -> None:
    record = json.dumps({"host": socket.gethostname(), "pid": os.getpid(),
                         "started": time.time()})
    for _ in range(3):
      try:
        fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
      except FileExistsError:
        holder = _read(self.path)
        reason = self._stale_reason(holder)
        if reason is None:
          who = _describe(holder) if holder else "another run"
          raise WorkdirBusyError(
              f"workdir {self.workdir} is in use by {who} (lock "
              f"{self.path}); stop that run or use another --workdir")
        stale = f"{self.path}.stale-{os.getpid()}"
        try:
          os.rename(self.path, stale)
        except FileNotFoundError:
          continue  # another contender moved it first; race for the new one
        os.remove(stale)
        self._warn(f"warning: took over the lock of workdir {self.workdir}: "
                   f"{reason}")
        continue
      with os.fdopen(fd, "w") as f:
        f.write(record)
      self._held = True
      self._thread = threading.Thread(target=self._renew, daemon=True,
                                      name="vst-workdir-lock")
      self._thread.start()
      return
    raise WorkdirBusyError(f"workdir {self.workdir}: could not take the lock "
                           f"{self.path} (contended)")

  def _renew(self) -> None:
    while not self._stop.wait(self.lease / 4):
      try:
        os.utime(self.path)
      except OSError:
        return

  def release(self) -> None:
    if not self._held:
      return
    self._held = False
    self._stop.set()
    holder = _read(self.path)
    if holder and holder.get("pid") == os.getpid() and (
        holder.get("host") == socket.gethostname()):
      try:
        os.remove(self.path)
      except OSError:
        pass

  def __enter__(self):
    self.acquire()
    return self

  def __exit__(self, *exc):
    self.release()
    return False
