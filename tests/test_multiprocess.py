"""Two processes of two CPU devices train and evaluate like one process of four.

The way a pod's hosts are simulated on one machine: `vst.main --multihost`
with explicit coordinator flags on a free localhost port.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NUM_STEPS = 20
FLAGS = ["--config=configs/vivit_synthetic.py",
         "--config.dataset.num_frames=4", "--config.dataset.crop_size=16",
         "--config.dataset.num_classes=4", "--config.train.batch_size=8",
         "--config.train.warmup_steps=0", "--config.train.log_every_steps=1",
         f"--config.train.num_steps={NUM_STEPS}",
         "--config.train.eval_every_steps=0", "--config.eval.batch_size=8",
         # Not a multiple of the eval batch: the same 20 clips either way.
         "--config.eval.max_examples=20", "--config.checkpoint.every_steps=10"]


def _free_port() -> int:
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    return s.getsockname()[1]


def _env(devices: int) -> dict:
  return dict(os.environ, JAX_PLATFORMS="cpu",
              XLA_FLAGS=f"--xla_force_host_platform_device_count={devices}")


def _start(workdir, flags, devices, extra=()):
  return subprocess.Popen(
      [sys.executable, "-m", "vst.main", f"--workdir={workdir}", *flags,
       *extra], cwd=REPO, env=_env(devices), stdout=subprocess.PIPE,
      stderr=subprocess.PIPE, text=True)


def _start_pair(workdir, flags):
  port = _free_port()
  return [_start(workdir, flags, 2, ["--multihost",
                                     f"--coordinator_address=127.0.0.1:{port}",
                                     "--num_processes=2", f"--process_id={i}"])
          for i in range(2)]


def _finish(procs, timeout=600):
  results = []
  for proc in procs:
    out, err = proc.communicate(timeout=timeout)
    results.append((proc.returncode, out, err))
  return results


def _losses(workdir) -> dict[int, float]:
  with open(os.path.join(workdir, "metrics.jsonl")) as f:
    rows = [json.loads(line) for line in f]
  # A restarted run appends; the last value of each step is the one kept.
  return {r["step"]: r["train/loss"] for r in rows if "train/loss" in r}


def _summary(workdir) -> dict:
  with open(os.path.join(workdir, "summary.json")) as f:
    return json.load(f)


def _wait_for_checkpoint(workdir, step, procs, timeout=300):
  path = os.path.join(workdir, "checkpoints", str(step), "commit_success.txt")
  deadline = time.time() + timeout
  while time.time() < deadline:
    if os.path.exists(path):
      return
    if any(p.poll() is not None for p in procs):
      raise AssertionError([p.communicate()[1][-2000:] for p in procs])
    time.sleep(0.05)
  raise AssertionError(f"no checkpoint at step {step}")


# mesh.model=1 is the FSDP case (data axis 4); plain replication is what
# tests/test_train.py checks on one process of 8 devices.
@pytest.mark.parametrize("mesh_flags, killed", [
    (["--config.mesh.model=2", "--config.mesh.param_sharding=tp"], False),
    (["--config.mesh.param_sharding=fsdp"], True),
])
def test_two_processes_match_one_process_of_four_devices(tmp_path, mesh_flags,
                                                         killed):
  flags = FLAGS + mesh_flags
  single = str(tmp_path / "single")
  ((code, _, err),) = _finish([_start(single, flags, 4)])
  assert code == 0, err[-3000:]

  pair = str(tmp_path / "pair")
  procs = _start_pair(pair, flags)
  if killed:  # a host failure: both die after the step-10 checkpoint
    _wait_for_checkpoint(pair, 10, procs)
    for proc in procs:
      proc.send_signal(signal.SIGKILL)
    _finish(procs)
    procs = _start_pair(pair, flags)
  results = _finish(procs)
  for code, _, err in results:
    assert code == 0, err[-3000:]
  if killed:
    assert "Resumed from checkpoint at step 10" in results[0][2]

  a, b = _losses(single), _losses(pair)
  assert sorted(a) == sorted(b) == list(range(1, NUM_STEPS + 1))
  np.testing.assert_allclose([b[s] for s in sorted(b)],
                             [a[s] for s in sorted(a)], atol=1e-5)
  one, two = _summary(single), _summary(pair)
  assert one["num_views"] == two["num_views"] == 20
  for key in ("accuracy", "eval_loss", "mean_class_accuracy"):
    assert two[key] == pytest.approx(one[key], abs=1e-5), key


@pytest.mark.parametrize("extra, expected", [
    (["--config.mesh.model=4"], "mesh.model=4 spans processes"),
    (["--config.mesh.num_devices=2"], "mesh.num_devices=2 leaves 2 of the 4"),
])
def test_a_mesh_that_splits_hosts_is_refused_before_step_1(tmp_path, extra,
                                                           expected):
  results = _finish(_start_pair(str(tmp_path / "run"), FLAGS + extra),
                    timeout=300)
  for code, _, err in results:
    assert code == 2, err[-3000:]
    lines = [l for l in err.splitlines() if l.startswith("error:")]
    assert len(lines) == 1 and expected in lines[0], err[-3000:]
  assert not os.path.exists(tmp_path / "run" / "checkpoints")


def test_explicit_launch_flags_need_multihost_and_each_other(tmp_path):
  ((code, _, err),) = _finish([_start(str(tmp_path / "a"), FLAGS, 1,
                                      ["--num_processes=2"])])
  assert code == 2 and "error: --num_processes need --multihost" in err
  ((code, _, err),) = _finish([_start(str(tmp_path / "b"), FLAGS, 1,
                                      ["--multihost", "--num_processes=2"])])
  assert code == 2 and "missing --coordinator_address, --process_id" in err
