"""`python -m vst.tools.sharding` prints where every parameter lives, with no
data and no devices."""

import json
import math
import subprocess
import sys


def _run(*args):
  return subprocess.run(
      [sys.executable, "-m", "vst.tools.sharding", *args],
      capture_output=True, text=True, timeout=300, check=False)


def test_vivit_b_rows_and_totals_under_fsdp_tp(tmp_path):
  out = tmp_path / "rows.json"
  proc = _run("--config=configs/vivit_k400.py", "--mesh=data:4,model:2",
              "--config.mesh.param_sharding=fsdp+tp", f"--json={out}")
  assert proc.returncode == 0, proc.stderr[-2000:]
  rows = json.loads(out.read_text())
  assert {"path", "shape", "spec", "bytes_per_device"} <= set(rows[0])
  by_path = {r["path"]: r for r in rows}
  fc1 = by_path["spatial_transformer/encoderblock_0/mlp/fc1/kernel"]
  assert fc1["shape"] == [768, 3072] and fc1["spec"] == ["data", "model"]
  assert fc1["bytes_per_device"] == 768 * 3072 * 4 // 8
  # The 400-class factorised encoder: 115.06M parameters in all.
  assert sum(math.prod(r["shape"]) for r in rows) == 115062928
  printed = proc.stdout
  assert "fc1/kernel" in printed and "params per device" in printed
  total = sum(r["bytes_per_device"] for r in rows)
  assert f"{total / 2**20:.2f} MiB" in printed


def test_replicate_holds_everything_and_a_bad_mesh_is_one_line(tmp_path):
  out = tmp_path / "rows.json"
  proc = _run("--config=configs/vivit_synthetic.py", "--mesh=data:8",
              f"--json={out}")
  assert proc.returncode == 0, proc.stderr[-2000:]
  for row in json.loads(out.read_text()):
    assert row["spec"] == [None] * len(row["shape"])
    assert row["bytes_per_device"] == math.prod(row["shape"]) * 4
  proc = _run("--config=configs/vivit_synthetic.py", "--mesh=data:3",
              "--devices=8")
  assert proc.returncode == 2
  errors = [l for l in proc.stderr.splitlines() if l.startswith("error:")]
  assert len(errors) == 1 and "--mesh=data:3 is 3 devices" in errors[0]
  assert "Traceback" not in proc.stderr
