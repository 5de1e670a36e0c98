"""A run of days never loses work: preemption, one writer per workdir, only
finite and intact checkpoints, finished runs left alone, bad samples named."""

import glob
import json
import os
import signal
import subprocess
import sys
import time

import jax
import numpy as np
import pytest

from vst import checkpointing
from vst import main as main_lib
from vst import train as train_lib
from vst import workdir_lock
from vst.errors import ConfigError
from tests.conftest import tiny_config
from tests.data import video_trees

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# --config overrides that make configs/vivit_synthetic.py the tiny config.
TINY_FLAGS = ["--config=configs/vivit_synthetic.py",
              "--config.dataset.num_frames=4", "--config.dataset.crop_size=16",
              "--config.dataset.num_classes=4", "--config.eval.max_examples=32",
              "--config.train.batch_size=8", "--config.train.warmup_steps=0",
              "--config.train.log_every_steps=1", "--config.eval.batch_size=16",
              "--config.train.eval_every_steps=0"]


def _start(workdir, *flags):
  env = dict(os.environ, JAX_PLATFORMS="cpu")
  return subprocess.Popen(
      [sys.executable, "-m", "vst.main", f"--workdir={workdir}", *flags],
      cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
      text=True)


def _steps_logged(workdir) -> list[int]:
  path = os.path.join(workdir, "metrics.jsonl")
  if not os.path.exists(path):
    return []
  with open(path) as f:
    return [json.loads(line)["step"] for line in f
            if line.endswith("\n") and "train/loss" in line]


def _wait_for_step(proc, workdir, step, timeout=240.0):
  deadline = time.time() + timeout
  while time.time() < deadline:
    if proc.poll() is not None:
      raise AssertionError(f"the run ended before step {step}: "
                           f"{proc.communicate()[1][-3000:]}")
    if any(s >= step for s in _steps_logged(workdir)):
      return
    time.sleep(0.02)
  raise AssertionError(f"no step {step} within {timeout} s")


def _children(pid: int) -> list[int]:
  found = []
  for stat in glob.glob("/proc/[0-9]*/stat"):
    try:
      fields = open(stat).read().rsplit(")", 1)[1].split()
    except OSError:
      continue
    if int(fields[1]) == pid:  # the parent's pid, after state
      found.append(int(stat.split("/")[2]))
  return found


def _alive(pid: int) -> bool:
  try:
    with open(f"/proc/{pid}/stat") as f:
      return f.read().rsplit(")", 1)[1].split()[0] != "Z"
  except OSError:
    return False


def _params(config, workdir):
  state, _ = train_lib.Trainer(config, workdir).restore_or_init()
  return jax.device_get(state.params)


# ============================================================================
# 1. Preemption.
# ============================================================================

def _video_flags(data_dir, worker_type, num_steps):
  return [*TINY_FLAGS, "--config.dataset.name=video_folder",
          f"--config.dataset.data_dir={data_dir}",
          "--config.dataset.num_classes=3", "--config.dataset.num_workers=2",
          f"--config.dataset.worker_type={worker_type}",
          f"--config.train.num_steps={num_steps}",
          "--config.checkpoint.every_steps=1000"]


NUM_STEPS = 30


@pytest.fixture(scope="module")
def video_root(tmp_path_factory):
  return video_trees.folder_tree(str(tmp_path_factory.mktemp("videos")))


@pytest.fixture(scope="module")
def straight_run(tmp_path_factory, video_root):
  """The uninterrupted run; thread and process workers make the same batches
  (tests/data/test_video_datasets.py), so both signal tests compare to it."""
  workdir = str(tmp_path_factory.mktemp("straight") / "run")
  proc = _start(workdir, *_video_flags(video_root, "thread", NUM_STEPS))
  assert proc.wait(timeout=600) == 0
  return workdir


@pytest.mark.parametrize("worker_type, sig", [("thread", signal.SIGTERM),
                                              ("process", signal.SIGINT)])
def test_a_signal_saves_the_step_and_the_rerun_ends_where_an_uninterrupted_one_does(
    tmp_path, video_root, straight_run, worker_type, sig):
  num_steps = NUM_STEPS
  flags = _video_flags(video_root, worker_type, num_steps)
  straight = straight_run

  interrupted = str(tmp_path / "interrupted")
  proc = _start(interrupted, *flags)
  _wait_for_step(proc, interrupted, 2)
  workers = _children(proc.pid)
  proc.send_signal(sig)
  _, err = proc.communicate(timeout=120)
  assert proc.returncode == 128 + sig, err[-3000:]
  stopped = [l for l in err.splitlines() if l.startswith("stopped by")]
  assert len(stopped) == 1 and "rerun the same command" in stopped[0], err
  step = int(stopped[0].split(" at step ")[1].split(";")[0])
  assert 2 <= step < num_steps  # every_steps=1000: only the signal saved it
  assert os.listdir(os.path.join(interrupted, "checkpoints")) == [str(step)]
  assert "Traceback" not in err
  if worker_type == "process":  # the data workers went with the run
    assert workers
    deadline = time.time() + 10  # multiprocessing's resource tracker exits
    while time.time() < deadline and any(map(_alive, workers)):  # on EOF
      time.sleep(0.1)
    assert not [pid for pid in workers if _alive(pid)], workers

  rerun = _start(interrupted, *flags)
  _, err = rerun.communicate(timeout=600)
  assert rerun.returncode == 0, err[-3000:]
  assert f"Resumed from checkpoint at step {step}" in err

  config = tiny_config()
  config.dataset.name = "video_folder"
  config.dataset.data_dir = video_root
  config.dataset.num_classes = 3
  a, b = _params(config, straight), _params(config, interrupted)
  jax.tree_util.tree_map(np.testing.assert_array_equal, a, b)


def test_a_second_signal_exits_at_once_and_keeps_the_checkpoints(tmp_path):
  workdir = str(tmp_path / "run")
  flags = [*TINY_FLAGS, "--config.train.num_steps=400",
           "--config.checkpoint.every_steps=2"]
  proc = _start(workdir, *flags)
  _wait_for_step(proc, workdir, 3)
  proc.send_signal(signal.SIGTERM)
  proc.send_signal(signal.SIGTERM)
  _, err = proc.communicate(timeout=60)
  assert proc.returncode == 128 + signal.SIGTERM, err[-3000:]
  # Every checkpoint left behind restores (a torn one would be moved aside).
  config = tiny_config()
  trainer = train_lib.Trainer(config, workdir)
  steps = trainer.ckpt.all_steps()
  assert steps
  state, _ = trainer.restore_or_init()
  assert int(state.step) == max(steps)
  assert not os.path.exists(os.path.join(workdir,
                                         checkpointing.DAMAGED_DIR))


# ============================================================================
# 2. One writer per workdir.
# ============================================================================

def test_a_second_run_on_a_held_workdir_stops_naming_the_holder(tmp_path):
  workdir = str(tmp_path / "run")
  flags = [*TINY_FLAGS, "--config.train.num_steps=60",
           "--config.checkpoint.every_steps=20"]
  first = _start(workdir, *flags)
  _wait_for_step(first, workdir, 1)
  t0 = time.time()
  second = _start(workdir, *flags)
  _, err = second.communicate(timeout=60)
  assert time.time() - t0 < 30
  assert second.returncode == 2, err[-2000:]
  (line,) = [l for l in err.splitlines() if l.startswith("error:")]
  assert "workdir" in line and f"pid {first.pid}" in line, line

  _, err = first.communicate(timeout=600)
  assert first.returncode == 0, err[-3000:]
  steps = _steps_logged(workdir)
  assert steps == list(range(1, 61)), steps  # one writer, no interleaving
  with open(os.path.join(workdir, "summary.json")) as f:
    assert json.load(f)["step"] == 60
  assert not os.path.exists(os.path.join(workdir, workdir_lock.LOCK_NAME))


def test_a_lock_whose_holder_is_gone_is_taken_over(tmp_path):
  dead = subprocess.Popen(["true"])
  dead.wait()
  path = tmp_path / workdir_lock.LOCK_NAME
  import socket  # pylint: disable=g-import-not-at-top
  path.write_text(json.dumps({"host": socket.gethostname(), "pid": dead.pid,
                              "started": time.time()}))
  warnings = []
  with workdir_lock.WorkdirLock(str(tmp_path), warn=warnings.append):
    holder = json.loads(path.read_text())
    assert holder["pid"] == os.getpid()
    # Held: another contender is refused, naming this process.
    with pytest.raises(workdir_lock.WorkdirBusyError,
                       match=f"pid {os.getpid()}"):
      workdir_lock.WorkdirLock(str(tmp_path)).acquire()
  assert len(warnings) == 1 and "no longer running" in warnings[0]
  assert not path.exists()


def test_another_hosts_lock_is_kept_within_its_lease_and_taken_after(tmp_path):
  path = tmp_path / workdir_lock.LOCK_NAME
  path.write_text(json.dumps({"host": "some-other-host", "pid": 1,
                              "started": time.time()}))
  with pytest.raises(workdir_lock.WorkdirBusyError, match="some-other-host"):
    workdir_lock.WorkdirLock(str(tmp_path), lease_seconds=60).acquire()
  old = time.time() - 120
  os.utime(path, (old, old))
  warnings = []
  lock = workdir_lock.WorkdirLock(str(tmp_path), lease_seconds=60,
                                  warn=warnings.append)
  lock.acquire()
  lock.release()
  assert "has not renewed it" in warnings[0]


# ============================================================================
# 3. Only finite checkpoints.
# ============================================================================

def test_a_non_finite_state_is_never_saved_and_a_lower_rate_resumes(
    tmp_path, two_checkpoints):
  workdir = _copy(two_checkpoints, tmp_path / "run")
  checkpoints = os.path.join(workdir, "checkpoints")
  # The learning rate that validation refuses, through the library: the
  # update of step 5 poisons the state while its loss and gradient are finite.
  config = tiny_config()
  config.train.num_steps = 6
  config.train.learning_rate = float("inf")
  config.checkpoint.every_steps = 1
  with pytest.raises(train_lib.NonFiniteLossError) as raised:
    train_lib.Trainer(config, workdir).train()
  message = str(raised.value)
  assert "at step 5" in message and "last finite checkpoint is step 4" in message
  assert sorted(os.listdir(checkpoints)) == ["2", "4"]

  config.train.learning_rate = 1e-3
  summary = main_lib.run(config, workdir)
  assert summary["step"] == 6 and np.isfinite(summary["loss"])
  assert sorted(map(int, os.listdir(checkpoints)))[-1] == 6


def _poison_latest(config, workdir, step):
  trainer = train_lib.Trainer(config, workdir)
  state, data_state = trainer.restore_or_init()
  bad = state.replace(params=jax.tree.map(lambda x: x * np.nan, state.params))
  checkpointing.save(trainer.ckpt, step, bad, data_state, config.to_dict(),
                     force=True)
  trainer.ckpt.wait_until_finished()


def test_eval_refuses_a_non_finite_checkpoint(tmp_path, two_checkpoints):
  workdir = _copy(two_checkpoints, tmp_path / "run")
  config = tiny_config()
  config.train.num_steps = 4
  _poison_latest(config, workdir, 9)  # as an older vst could have saved it
  with pytest.raises(ConfigError, match="step 9 .* NaN or inf"):
    main_lib.run(config, workdir, mode="eval")
  assert not os.path.exists(os.path.join(workdir, "eval_summary.json"))


# ============================================================================
# 4. Damaged checkpoints.
# ============================================================================

@pytest.fixture(scope="module")
def two_checkpoints(tmp_path_factory):
  workdir = str(tmp_path_factory.mktemp("ckpts"))
  config = tiny_config()
  config.train.num_steps = 4
  main_lib.run(config, workdir)
  return workdir


def _copy(src, dst):
  import shutil  # pylint: disable=g-import-not-at-top
  shutil.copytree(src, dst)
  os.remove(os.path.join(dst, "summary.json"))
  return str(dst)


@pytest.mark.parametrize("damage", ["delete_data", "truncate_data",
                                    "delete_metadata"])
def test_a_damaged_checkpoint_is_moved_aside_and_the_one_before_used(
    tmp_path, two_checkpoints, damage, capsys):
  workdir = _copy(two_checkpoints, tmp_path / "run")
  state_dir = os.path.join(workdir, "checkpoints", "4", "state")
  data_files = sorted(glob.glob(os.path.join(state_dir, "ocdbt.process_0",
                                             "d", "*")), key=os.path.getsize)
  if damage == "delete_data":
    os.remove(data_files[-1])
  elif damage == "truncate_data":
    with open(data_files[-1], "r+b") as f:
      f.truncate(100)
  else:
    os.remove(os.path.join(state_dir, "_METADATA"))
  config = tiny_config()
  state, _ = train_lib.Trainer(config, workdir).restore_or_init()
  assert int(state.step) == 2
  err = capsys.readouterr().err
  assert "checkpoint at step 4 is damaged" in err
  moved = os.listdir(os.path.join(workdir, checkpointing.DAMAGED_DIR))
  assert len(moved) == 1 and moved[0].startswith("4-")
  assert os.listdir(os.path.join(workdir, "checkpoints")) == ["2"]


def test_another_optimizer_is_named_with_the_keys_that_differ(
    tmp_path, two_checkpoints):
  workdir = _copy(two_checkpoints, tmp_path / "run")
  config = tiny_config()
  config.train.grad_clip_norm = 0.0  # one optimizer state fewer
  with pytest.raises(ConfigError,
                     match="different model or optimizer: only in the "
                           "checkpoint: opt_state"):
    train_lib.Trainer(config, workdir).restore_or_init()
  assert not os.path.exists(os.path.join(workdir, checkpointing.DAMAGED_DIR))


# ============================================================================
# 5. Every setting checked before step 1.
# ============================================================================

@pytest.mark.parametrize("field, value, expected", [
    ("eval.split", "tset", "eval split 'tset' is not valid"),
    ("eval.num_clips", 0, "eval.num_clips=0"),
    ("eval.num_crops", -1, "eval.num_crops=-1"),
    ("eval.batch_size", 0, "eval.batch_size=0"),
    ("eval.aggregation", "median", "eval.aggregation='median' is not valid"),
    ("train.learning_rate", -1.0, "train.learning_rate=-1.0"),
    ("train.weight_decay", -0.1, "train.weight_decay=-0.1"),
    ("train.warmup_steps", 50, "train.warmup_steps=50 must be in"),
])
def test_every_setting_is_checked_at_start_up(field, value, expected):
  from vst import validate  # pylint: disable=g-import-not-at-top
  config = tiny_config()
  section, name = field.split(".")
  config[section][name] = value
  with pytest.raises(ConfigError, match=expected.replace("(", r"\(")):
    validate.check_config(config)


def test_the_eval_split_typo_stops_the_cli_before_step_1(tmp_path):
  code, _, err = _run_cli(tmp_path / "run", *TINY_FLAGS,
                          "--config.eval.split=tset")
  assert code == 2 and "eval split 'tset'" in err
  assert not (tmp_path / "run" / "checkpoints").exists()


def test_kinetics_validation_annotations_may_be_named_val_csv(tmp_path):
  from vst.data import registry as data_registry  # pylint: disable=g-import-not-at-top
  root = video_trees.kinetics_tree(str(tmp_path / "k400"))
  os.rename(os.path.join(root, "annotations", "validate.csv"),
            os.path.join(root, "annotations", "val.csv"))
  config = tiny_config()
  config.dataset.name = "kinetics400"
  config.dataset.data_dir = root
  config.dataset.num_classes = 3
  builder = data_registry.get_dataset("kinetics400")
  assert builder.num_examples(config.dataset, "validation") > 0


# ============================================================================
# 6. Finished runs stay finished.
# ============================================================================

def _no_nan(text):
  def refuse(constant):
    raise AssertionError(f"{constant} in summary.json")
  return json.loads(text, parse_constant=refuse)


def test_a_finished_run_is_left_as_it_is(tmp_path, two_checkpoints, capsys):
  workdir = str(tmp_path / "run")
  import shutil  # pylint: disable=g-import-not-at-top
  shutil.copytree(two_checkpoints, workdir)
  files = lambda: {p: os.stat(p).st_mtime_ns for p in glob.glob(
      os.path.join(workdir, "**"), recursive=True) if os.path.isfile(p)}
  before = files()
  summary_text = open(os.path.join(workdir, "summary.json")).read()
  config = tiny_config()
  config.train.num_steps = 4
  again = main_lib.run(config, workdir)
  assert "already finished at step 4" in capsys.readouterr().err
  assert again == _no_nan(summary_text)
  assert files() == before


def test_a_summary_written_after_a_resume_holds_no_nan(tmp_path,
                                                       two_checkpoints):
  # Killed during its final evaluation: the checkpoint of the last step is
  # there, summary.json is not; the rerun trains no step.
  workdir = _copy(two_checkpoints, tmp_path / "run")
  config = tiny_config()
  config.train.num_steps = 4
  main_lib.run(config, workdir)
  summary = _no_nan(open(os.path.join(workdir, "summary.json")).read())
  assert summary["step"] == 4 and "accuracy" in summary
  assert "train_clips_per_s" not in summary  # no step was timed


# ============================================================================
# 7. Bad samples never kill a run.
# ============================================================================

def _mixed_size_frames(root):
  folder = video_trees.write_frame_folder(
      os.path.join(root, "train", "class1", "mixed"), 12, label=1)
  import cv2  # pylint: disable=g-import-not-at-top
  for frame in sorted(glob.glob(os.path.join(folder, "*.jpg")))[::2]:
    cv2.imwrite(frame, np.zeros((20, 30, 3), np.uint8))
  return folder


def test_a_sample_failing_with_any_error_is_skipped_and_named(tmp_path):
  root = video_trees.folder_tree(str(tmp_path / "data"), corrupt=True)
  mixed = _mixed_size_frames(root)
  config = tiny_config()
  config.dataset.name = "video_folder"
  config.dataset.data_dir = root
  config.dataset.num_classes = 3
  config.train.num_steps = 8
  config.checkpoint.every_steps = 8
  workdir = tmp_path / "run"
  main_lib.run(config, str(workdir))
  with open(workdir / "skipped.jsonl") as f:
    records = {r["path"]: r for r in map(json.loads, f)}
  assert records[mixed]["cause"] == "error"
  assert records[mixed]["message"].startswith("ValueError")
  broken = os.path.join(root, "train", "class0", "broken.mp4")
  assert records[broken]["cause"] == "unreadable"


def test_too_many_failing_samples_stop_the_run_with_a_summary(tmp_path):
  from vst.data import registry as data_registry  # pylint: disable=g-import-not-at-top
  from vst.data import workers  # pylint: disable=g-import-not-at-top
  root = video_trees.folder_tree(str(tmp_path / "data"), corrupt=True)
  config = tiny_config()
  config.dataset.name = "video_folder"
  config.dataset.data_dir = root
  config.dataset.num_classes = 3
  config.dataset.max_skip_fraction = 0.02  # 1 of the 10 videos is corrupt
  stream = data_registry.get_dataset("video_folder").train(config.dataset, 8)
  try:
    with pytest.raises(workers.DataUnusableError,
                       match="max_skip_fraction=0.02.*skipped.jsonl"):
      for _ in range(100):
        next(stream)
  finally:
    stream.close()


def test_predict_names_a_bad_file_and_goes_on(tmp_path, two_checkpoints,
                                              capsys):
  from vst import predict  # pylint: disable=g-import-not-at-top
  good = video_trees.write_numbered(str(tmp_path / "good.mp4"), 12)
  mixed = _mixed_size_frames(str(tmp_path / "data"))
  code = predict.main(["predict", *TINY_FLAGS, f"--workdir={two_checkpoints}",
                       mixed, good])
  out = capsys.readouterr().out
  assert code == 1
  assert f"{mixed}: cannot read: {mixed}: ValueError" in out
  assert out.count("cannot read") == 1
  assert "1. " in out.split(good)[1]  # its top-k followed


def test_features_index_with_a_torn_last_line_resumes(tmp_path,
                                                      two_checkpoints):
  from vst.tools import features  # pylint: disable=g-import-not-at-top
  videos = [video_trees.write_numbered(str(tmp_path / f"v{i}.mp4"), 12)
            for i in range(2)]
  out = tmp_path / "out"
  argv = ["features", *TINY_FLAGS, f"--workdir={two_checkpoints}",
          f"--out={out}", *videos]
  assert features.main(argv) == 0
  index = out / "features.jsonl"
  lines = index.read_text().splitlines(keepends=True)
  index.write_text(lines[0] + lines[1][:len(lines[1]) // 2])  # killed mid-write
  assert features.main(argv) == 0
  rows = [json.loads(l) for l in index.read_text().splitlines()]
  assert [r["video"] for r in rows] == videos


# ============================================================================
# 8. Clean failures.
# ============================================================================

def _mount_tmpfs(path, size):
  os.makedirs(path, exist_ok=True)
  done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs",
                         str(path)], capture_output=True)
  if done.returncode:
    pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode()[:200]}")


@pytest.fixture
def small_disk(tmp_path):
  path = tmp_path / "disk"
  _mount_tmpfs(path, "1m")  # the tiny ViViT's checkpoint is ~3.5 MB
  yield path
  subprocess.run(["umount", "-l", str(path)], check=False)


def _run_cli(workdir, *flags):
  proc = _start(workdir, *flags)
  out, err = proc.communicate(timeout=300)
  return proc.returncode, out, err


def test_a_full_disk_is_one_error_line_naming_it(small_disk):
  workdir = small_disk / "run"
  code, _, err = _run_cli(workdir, *TINY_FLAGS, "--config.train.num_steps=4",
                          "--config.checkpoint.every_steps=2")
  assert code == 1, err[-3000:]
  lines = err.strip().splitlines()
  assert lines[-1].startswith("error: no space left on device"), err[-3000:]
  assert str(workdir) in lines[-1]
  assert "Traceback" not in err and "asyncio" not in err


def test_a_read_only_workdir_is_one_error_line(tmp_path):
  path = tmp_path / "ro"
  _mount_tmpfs(path, "1m")
  try:
    subprocess.run(["mount", "-o", "remount,ro", str(path)], check=True)
    code, _, err = _run_cli(path / "run", *TINY_FLAGS)
  finally:
    subprocess.run(["umount", "-l", str(path)], check=False)
  assert code == 2, err[-2000:]
  (line,) = [l for l in err.splitlines() if l.startswith("error:")]
  assert "--workdir=" in line and "Read-only file system" in line
  assert "Traceback" not in err


@pytest.mark.parametrize("flags, expected", [
    (["--config.train.num_steps=100", "--config.train.nmu_steps=5"],
     "--config.train.nmu_steps: no such config field"),
    (["--config.train.num_steps"],
     "Missing value for flag --config.train.num_steps"),
])
def test_a_flag_error_names_the_flag_as_typed(tmp_path, flags, expected):
  code, _, err = _run_cli(tmp_path / "run", "--config=configs/vivit_synthetic.py",
                          *flags)
  assert code == 2
  (line,) = [l for l in err.splitlines() if l.startswith("error:")]
  assert expected in line, line
