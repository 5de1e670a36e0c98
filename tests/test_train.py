"""The trainer: learning, exact resume, NaN handling, eval mode, sharding."""

import json
import os
import subprocess
import sys
import textwrap

import jax
import numpy as np
import pytest

from vst import main as main_lib
from vst import train as train_lib
from vst.errors import ConfigError
from tests.conftest import tiny_config


def _metrics(workdir):
  with open(os.path.join(workdir, "metrics.jsonl")) as f:
    return [json.loads(line) for line in f]


def _losses(workdir):
  return [m["train/loss"] for m in _metrics(workdir) if "train/loss" in m]


# The appearance half of `synthetic_motion_appearance`'s label (4 classes =
# 2 motions × 2 hues) is learnable from one frame within a few dozen steps, so
# the loss falls for any model that trains; learning motion takes the main
# job's budget (README).
@pytest.mark.parametrize("model", ["vivit", "single_frame"])
def test_loss_falls_and_summary_is_written(tmp_path, model):
  config = tiny_config(model)
  config.dataset.name = "synthetic_motion_appearance"
  config.train.num_steps = 30
  config.train.learning_rate = 3e-3
  config.train.log_every_steps = 5
  config.checkpoint.every_steps = 30
  summary = main_lib.run(config, str(tmp_path))
  losses = _losses(tmp_path)
  assert losses[-1] < losses[0] - 0.05, losses
  with open(tmp_path / "summary.json") as f:
    on_disk = json.load(f)
  for key in ("step", "loss", "accuracy", "num_classes", "params",
              "gflops_per_clip", "train_clips_per_s"):
    assert key in on_disk, key
  assert on_disk["step"] == 30 and on_disk["num_classes"] == 4
  assert on_disk["params"] > 0 and on_disk["gflops_per_clip"] > 0
  assert summary["accuracy"] == on_disk["accuracy"]
  assert os.listdir(tmp_path / "tensorboard")


def test_resuming_with_another_optimizer_is_a_clear_error(tmp_path):
  config = tiny_config()
  config.train.num_steps = 2
  main_lib.run(config, str(tmp_path))
  config.train.num_steps = 4
  config.train.grad_clip_norm = 0.0  # changes the optimizer state's structure
  with pytest.raises(ConfigError, match="different model or optimizer"):
    main_lib.run(config, str(tmp_path))


def test_eval_mode_restores_latest_checkpoint(tmp_path):
  config = tiny_config()
  trained = main_lib.run(config, str(tmp_path))
  evaluated = main_lib.run(config, str(tmp_path), mode="eval")
  assert evaluated["step"] == 6
  assert evaluated["accuracy"] == pytest.approx(trained["accuracy"])
  assert (tmp_path / "eval_summary.json").exists()


def test_grad_accumulation_matches_full_batch():
  # ViViT: no BatchNorm and no dropout, so micro-batches see the same function.
  config = tiny_config("vivit")
  model, tx, schedule = train_lib.build(config)
  clips = jax.random.normal(jax.random.key(0), (8, 4, 16, 16, 3))
  batch = {"inputs": clips, "label": np.arange(8, dtype=np.int32) % 4}
  state = train_lib.init_state(model, tx, clips, jax.random.key(1))
  results = []
  for accum in (1, 2):
    config.train.grad_accum_steps = accum
    step = jax.jit(train_lib.make_train_step(model, tx, schedule, config))
    new_state, metrics = step(state, batch, jax.random.key(2))
    values = metrics.compute()
    results.append((new_state.params, values["loss"], values["grad_norm"]))
  (full_params, *full), (accum_params, *accum) = results
  np.testing.assert_allclose(accum, full, rtol=2e-5)
  # AdamW's first step moves each weight by about ±lr whatever the gradient's
  # size, so float rounding in near-zero gradients shows up at the lr scale.
  jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, atol=2e-4),
               accum_params, full_params)


def test_eight_devices_match_one_device(tmp_path):
  """A data-parallel run on 8 simulated devices gives the same losses as one
  device (FSDP and tensor parallelism against replication:
  tests/test_sharding.py; across processes: tests/test_multiprocess.py)."""
  script = textwrap.dedent(f"""
      import json, os, sys
      sys.path.insert(0, {os.getcwd()!r})
      from tests.conftest import tiny_config
      from vst import main
      runs = dict(one=dict(num_devices=1), data8=dict())
      out = {{}}
      for name, mesh in runs.items():
        c = tiny_config()
        c.train.num_steps = 3
        c.checkpoint.every_steps = 3
        for k, v in mesh.items():
          c.mesh[k] = v
        wd = os.path.join({str(tmp_path)!r}, name)
        main.run(c, wd)
        with open(os.path.join(wd, "metrics.jsonl")) as f:
          out[name] = [json.loads(l)["train/loss"] for l in f if "train/loss" in l]
      print(json.dumps(out))
  """)
  env = dict(os.environ, JAX_PLATFORMS="cpu", XLA_FLAGS=(
      os.environ.get("XLA_FLAGS", "") +
      " --xla_force_host_platform_device_count=8").strip())
  proc = subprocess.run([sys.executable, "-c", script], env=env,
                        capture_output=True, text=True, timeout=600)
  assert proc.returncode == 0, proc.stderr[-3000:]
  losses = json.loads(proc.stdout.strip().splitlines()[-1])
  np.testing.assert_allclose(losses["data8"], losses["one"], rtol=1e-5,
                             atol=1e-6)


def test_mixed_batches_train_on_the_mixed_target():
  """Mixup/CutMix batches (vst.data.mixing) train on λ·y_a + (1-λ)·y_b."""
  config = tiny_config("vivit")
  model, tx, schedule = train_lib.build(config)
  clips = jax.random.normal(jax.random.key(0), (8, 4, 16, 16, 3))
  state = train_lib.init_state(model, tx, clips, jax.random.key(1))
  step = jax.jit(train_lib.make_train_step(model, tx, schedule, config))
  labels = np.array([0, 1, 2, 3, 0, 1, 2, 3], np.int32)
  plain = {"inputs": clips, "label": labels}

  def loss(batch):
    return float(step(state, batch, jax.random.key(2))[1].compute()["loss"])

  weight = np.full(8, 0.3, np.float32)
  mixed = loss({**plain, "mix_label": labels[::-1].copy(), "mix_weight": weight})
  # Same labels on both sides: mixing changes nothing.
  same = loss({**plain, "mix_label": labels, "mix_weight": weight})
  np.testing.assert_allclose(same, loss(plain), rtol=1e-6)
  # Mixed: 0.3·CE(a) + 0.7·CE(b), computed from the model's own logits.
  logits = model.apply({"params": state.params}, clips, train=False)
  logp = jax.nn.log_softmax(logits)
  expected = -np.mean(0.3 * logp[np.arange(8), labels] +
                      0.7 * logp[np.arange(8), labels[::-1]])
  np.testing.assert_allclose(mixed, expected, rtol=1e-5)


def test_the_trainer_says_which_attention_kernel_runs(tmp_path):
  config = tiny_config(attention_impl="blockwise")
  kernels = train_lib.Trainer(config, str(tmp_path)).attention_kernels
  assert kernels.startswith("4× blockwise (L=")  # one call per encoder block
  assert "xla" not in kernels
  auto = train_lib.Trainer(tiny_config(), str(tmp_path / "auto"))
  assert "xla" in auto.attention_kernels and "asked auto" in (
      auto.attention_kernels)
