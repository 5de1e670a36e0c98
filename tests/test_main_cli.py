"""Bad input at start-up ends in one line that names the field, exit code 2."""

import os
import subprocess
import sys

import pytest


def _run(*args, workdir):
  cmd = [sys.executable, "-m", "vst.main", f"--workdir={workdir}", *args]
  env = dict(os.environ, JAX_PLATFORMS="cpu")
  return subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)


@pytest.mark.parametrize("overrides, expected", [
    (["--config.model.name=vivitt"], "model.name='vivitt' is not valid; allowed:"),
    (["--config.model.variant=XXL"], "model.variant"),
    (["--config.dataset.num_frames=7"], "dataset.num_frames=7"),
    (["--config.dataset.name=nope"], "dataset.name='nope' is not valid; allowed:"),
    (["--config.mesh.model=3"], "mesh.model=3"),
    (["--config.train.optimizer=lamb"], "train.optimizer='lamb'"),
    (["--config.train.batch_size=0"], "train.batch_size=0"),
])
def test_bad_config_value_is_one_clear_line(tmp_path, overrides, expected):
  proc = _run("--config=configs/vivit_synthetic.py", *overrides,
              workdir=tmp_path / "wd")
  assert proc.returncode == 2, proc.stderr[-2000:]
  lines = [l for l in proc.stderr.strip().splitlines() if l.startswith("error:")]
  assert len(lines) == 1 and expected in lines[0], proc.stderr[-2000:]
  assert "Traceback" not in proc.stderr


def test_unwritable_workdir(tmp_path):
  blocker = tmp_path / "file"
  blocker.write_text("not a directory")
  proc = _run("--config=configs/vivit_synthetic.py", workdir=blocker / "wd")
  assert proc.returncode == 2
  assert "--workdir=" in proc.stderr and "Traceback" not in proc.stderr


def test_paper_config_without_data_says_what_it_needs(tmp_path):
  proc = _run("--config=configs/vivit_k400.py", workdir=tmp_path / "wd")
  assert proc.returncode == 2
  assert "dataset.data_dir" in proc.stderr and "Kinetics-400" in proc.stderr
  assert "Traceback" not in proc.stderr
