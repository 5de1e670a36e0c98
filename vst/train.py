"""The one trainer: state, jitted steps over a mesh, checkpoints, evaluation.

Nothing here knows which model runs: the model comes from the registry by
`config.model.name`, the data from the dataset registry by `config.dataset.name`.

Resume order: the newest checkpoint in WORKDIR that restores (a damaged one
is moved aside, vst.checkpointing), else a fresh initialisation from
`config.train.seed`, its params replaced by a 2D image checkpoint's when
`config.init_from.path` is set (vst.init_2d). Batches depend only on (seed,
step) and dropout keys are folded from the step, so a resumed run continues
exactly where the interrupted one would have been.

A long run never loses work: a stop request (SIGTERM/SIGINT, vst.preemption)
ends the step, saves it and raises `Preempted`; a non-finite state is never
saved; a finished run is not run again; every sample the data passed over is
named in WORKDIR/skipped.jsonl.
"""

import collections
import functools
import json
import os
import time
from typing import Any

import flax
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
from clu import metrics as clu_metrics

from vst import checkpointing
from vst import evaluate as evaluate_lib
from vst import init_2d
from vst import observe
from vst import optim
from vst import preemption
from vst import run_config
from vst import sharding as sharding_lib
from vst.data import registry as data_registry
from vst.errors import ConfigError
from vst.errors import check_choice
from vst.layers import attention_kernels
from vst.models import registry as model_registry
from vst import flops as flops_lib


class NonFiniteLossError(RuntimeError):
  """The loss, a gradient or the state became NaN or inf; nothing
  non-finite was saved, the last finite checkpoint is kept."""


@flax.struct.dataclass
class TrainState:
  step: jax.Array
  params: Any
  batch_stats: Any  # {} for models without BatchNorm.
  opt_state: Any


# ============================================================================
# Model, inputs and state.
# ============================================================================

def input_spec(config, batch_size: int):
  """ShapeDtypeStructs of a global batch's "inputs" (array or dict of arrays)."""
  builder = data_registry.get_dataset(config.dataset.name)
  per_example = builder.input_spec(config.dataset)
  return jax.tree_util.tree_map(
      lambda s: jax.ShapeDtypeStruct((batch_size,) + tuple(s), jnp.float32),
      per_example, is_leaf=lambda x: isinstance(x, tuple))


def build(config):
  """(model, optimizer, schedule) from the config."""
  model = model_registry.build_model(config.model, config.dataset.num_classes)
  tx, schedule = optim.make_optimizer(config.train)
  return model, tx, schedule


def init_state(model: nn.Module, tx, inputs, rng) -> TrainState:
  variables = model.init({"params": rng, "dropout": rng}, inputs, train=False)
  params = variables["params"]
  return TrainState(step=jnp.zeros((), jnp.int32), params=params,
                    batch_stats=variables.get("batch_stats", {}),
                    opt_state=tx.init(params))


def _init_fn(config, model, tx):
  spec = input_spec(config, 1)
  dummy = jax.tree_util.tree_map(lambda s: jnp.zeros(s.shape, s.dtype), spec)
  return functools.partial(init_state, model, tx, dummy)


def abstract_state(config, model, tx) -> TrainState:
  """The state's shapes and dtypes, without allocating it."""
  return jax.eval_shape(_init_fn(config, model, tx), jax.random.key(0))


def create_state(config, model, tx, shardings) -> TrainState:
  """A freshly initialised TrainState, created directly with its shardings."""
  init = _init_fn(config, model, tx)
  return jax.jit(init, out_shardings=shardings)(jax.random.key(config.train.seed))


def variables_of(state: TrainState) -> dict:
  variables = {"params": state.params}
  if state.batch_stats:
    variables["batch_stats"] = state.batch_stats
  return variables


# ============================================================================
# Steps.
# ============================================================================

@flax.struct.dataclass
class TrainMetrics(clu_metrics.Collection):
  """What a train step reports, merged on device over a logging window.

  Means over the window, except `learning_rate` and `last_loss` (the last
  step's). A non-finite loss or gradient in any step makes the window's mean
  non-finite, which is how the loop catches it before the next checkpoint.
  """
  loss: clu_metrics.Average.from_output("loss")
  last_loss: clu_metrics.LastValue.from_output("loss")
  train_accuracy: clu_metrics.Average.from_output("train_accuracy")
  grad_norm: clu_metrics.Average.from_output("grad_norm")
  learning_rate: clu_metrics.LastValue.from_output("learning_rate")


def make_train_step(model: nn.Module, tx, schedule, config):
  """train_step(state, batch, base_rng) -> (state, metrics), jitted by the caller."""
  train = config.train
  num_classes = config.dataset.num_classes
  accum = int(train.grad_accum_steps)

  def loss_fn(params, batch_stats, batch, rng):
    variables = {"params": params}
    mutable = False
    if batch_stats:
      variables["batch_stats"] = batch_stats
      mutable = ["batch_stats"]
    out = model.apply(variables, batch["inputs"], train=True,
                      rngs={"dropout": rng}, mutable=mutable)
    logits, updates = out if mutable else (out, {})
    losses = optim.cross_entropy(logits, batch["label"], num_classes,
                                 train.label_smoothing)
    if "mix_label" in batch:
      # Mixup/CutMix (vst.data.mixing): CE against the mixed one-hot target,
      # written as the λ-weighted sum of the two hard-label losses.
      weight = batch["mix_weight"]
      losses = weight * losses + (1.0 - weight) * optim.cross_entropy(
          logits, batch["mix_label"], num_classes, train.label_smoothing)
    correct = jnp.argmax(logits, -1) == batch["label"]
    new_stats = updates.get("batch_stats", batch_stats)
    return losses.mean(), (new_stats, correct.mean())

  grad_fn = jax.value_and_grad(loss_fn, has_aux=True)

  def train_step(state: TrainState, batch, base_rng):
    rng = jax.random.fold_in(base_rng, state.step)
    if accum == 1:
      (loss, (stats, acc)), grads = grad_fn(state.params, state.batch_stats,
                                            batch, rng)
    else:
      # Micro-batches in a scan: memory of one micro-batch, the gradient of all.
      micro = jax.tree_util.tree_map(
          lambda x: x.reshape((accum, x.shape[0] // accum) + x.shape[1:]), batch)

      def body(carry, xs):
        grads, stats, loss, acc = carry
        mb, i = xs
        (l, (stats, a)), g = grad_fn(state.params, stats, mb,
                                     jax.random.fold_in(rng, i))
        grads = jax.tree_util.tree_map(jnp.add, grads, g)
        return (grads, stats, loss + l, acc + a), None

      zeros = jax.tree_util.tree_map(jnp.zeros_like, state.params)
      (grads, stats, loss, acc), _ = jax.lax.scan(
          body, (zeros, state.batch_stats, 0.0, 0.0), (micro, jnp.arange(accum)))
      grads = jax.tree_util.tree_map(lambda g: g / accum, grads)
      loss, acc = loss / accum, acc / accum
    updates, opt_state = tx.update(grads, state.opt_state, state.params)
    params = optax.apply_updates(state.params, updates)
    new_state = state.replace(step=state.step + 1, params=params,
                              batch_stats=stats, opt_state=opt_state)
    metrics = TrainMetrics.single_from_model_output(
        loss=loss, train_accuracy=acc, grad_norm=optax.tree.norm(grads),
        learning_rate=schedule(state.step))
    return new_state, metrics

  return train_step


def make_eval_step(model: nn.Module):
  def eval_step(state: TrainState, batch):
    logits = model.apply(variables_of(state), batch["inputs"], train=False)
    return logits.astype(jnp.float32)
  return eval_step


# ============================================================================
# The loop.
# ============================================================================

def _host_batch_size(config) -> int:
  return config.train.batch_size // jax.process_count()


def _eval_batches(config, builder):
  batch_size = config.eval.batch_size // jax.process_count()
  views = (config.eval.num_clips, config.eval.num_crops)
  # Only multi-view evaluation passes `views`, so datasets that have a single
  # view per example need not know the argument.
  extra = {} if views == (1, 1) else {"views": views}
  return builder.eval(config.dataset, config.eval.split, batch_size,
                      jax.process_index(), jax.process_count(), **extra)


def _aggregation(config) -> str:
  return config.eval.aggregation


def model_cost(config, model) -> tuple[int, float]:
  """(params, GMACs per clip) of `model` at the config's input."""
  spec = input_spec(config, 1)
  return flops_lib.model_cost(model, spec)


class Trainer:
  """Holds everything one run needs; `train()` and `evaluate()` are the modes."""

  def __init__(self, config, workdir: str):
    self.config = config
    self.workdir = workdir
    self.mesh = sharding_lib.make_mesh(config.mesh)
    self.model, self.tx, self.schedule = build(config)
    self.dataset = data_registry.get_dataset(config.dataset.name)
    check_choice("eval.aggregation", _aggregation(config),
                 evaluate_lib.AGGREGATIONS)
    self.ckpt = checkpointing.manager(workdir, config.checkpoint.every_steps,
                                      config.checkpoint.keep)
    replicated = sharding_lib.replicated(self.mesh)
    batch_sharding = sharding_lib.batch_sharding(self.mesh)
    # Tracing the model once tells which attention kernel each call runs
    # (model.attention_impl=auto picks per backend, dtype and shape).
    with attention_kernels.attention_choices() as choices:
      self._abstract = abstract_state(config, self.model, self.tx)
    self.attention_kernels = describe_attention(choices)
    self._state_shardings = sharding_lib.param_shardings(
        self._abstract, self.mesh, config.mesh.param_sharding,
        config.mesh.get("sharding_rules", ()))
    self.train_step = jax.jit(
        make_train_step(self.model, self.tx, self.schedule, config),
        in_shardings=(self._state_shardings, batch_sharding, replicated),
        out_shardings=(self._state_shardings, replicated),
        donate_argnums=(0,))
    self.eval_step = jax.jit(
        make_eval_step(self.model),
        in_shardings=(self._state_shardings, batch_sharding),
        out_shardings=batch_sharding)

  # --------------------------------------------------------------------------
  def restore_or_init(self):
    """(state, data_state or None): resume → init_from (if set) → scratch."""
    restored = restore_newest(self.ckpt, self.workdir, self.config,
                              self._abstract, self._state_shardings)
    if restored is not None:
      step, state, data_state = restored
      observe.log(f"Resumed from checkpoint at step {step}.")
      return state, data_state
    with jax.set_mesh(self.mesh):
      state = create_state(self.config, self.model, self.tx,
                           self._state_shardings)
      init_from = self.config.get("init_from")
      if init_from is not None and init_from.path:
        state = init_2d.initialise_state(self.config, self.model, self.tx,
                                         state, self._state_shardings,
                                         self.workdir)
    return state, None

  def evaluate(self, state) -> dict:
    batches = _eval_batches(self.config, self.dataset)
    progress = observe.Progress(self._eval_views(batches), unit="view",
                                min_interval=30.0, label="eval ")
    try:
      with jax.set_mesh(self.mesh):
        metrics = evaluate_lib.run(self.eval_step, state, batches, self.mesh,
                                   self.config.dataset.num_classes,
                                   _aggregation(self.config),
                                   int(self.config.eval.max_examples),
                                   on_batch=progress.update)
    finally:
      progress.close()
    self._write_skipped(batches)
    return metrics

  def _eval_views(self, batches) -> int:
    """Views one evaluation reads: examples (or eval.max_examples) × the
    views of each (clips × crops where the dataset makes several)."""
    eval_cfg = self.config.eval
    examples = self.dataset.num_examples(self.config.dataset, eval_cfg.split)
    if eval_cfg.max_examples:
      examples = min(examples, int(eval_cfg.max_examples))
    return examples * getattr(batches, "views_per_video", 1)

  # --------------------------------------------------------------------------
  def train(self, stop: preemption.StopRequests | None = None) -> dict:
    """Trains to `train.num_steps`, evaluates and writes summary.json.

    `stop`: while its `requested` is set, the run saves the step it is at and
    raises `preemption.Preempted` (vst.main passes one holding SIGTERM/SIGINT).
    """
    config, train_cfg = self.config, self.config.train
    finished = self._finished_summary()
    if finished is not None:
      return finished
    self._save_run_config()
    self._report_dataset()
    state, data_state = self.restore_or_init()
    train_iter = self.dataset.train(
        config.dataset, _host_batch_size(config), train_cfg.seed,
        jax.process_index(), jax.process_count())
    try:
      if data_state is not None:
        train_iter.restore(data_state)
      return self._train_from(state, train_iter, stop)
    finally:
      _close(train_iter)

  def _train_from(self, state, train_iter, stop) -> dict:
    config, train_cfg = self.config, self.config.train
    start_step = int(state.step)
    base_rng = jax.random.key(train_cfg.seed + 1)
    writer = observe.MetricWriter(self.workdir)
    progress = observe.Progress(train_cfg.num_steps, start_step)
    params, gmacs = model_cost(config, self.model)
    observe.log(f"{config.model.name}/{config.model.variant}: "
                f"{params / 1e6:.3f}M params, gflops_per_clip={gmacs:.3f} "
                f"(multiply-accumulates), mesh {dict(self.mesh.shape)}")
    if self.attention_kernels:
      observe.log(f"attention kernels: {self.attention_kernels}")
    window, window_steps = None, 0
    timed_steps, timed_seconds = 0, 0.0
    t_window = time.perf_counter()
    last_good_step = start_step if self.ckpt.latest_step() is not None else None
    loss = float("nan")
    try:
      for step in range(start_step + 1, train_cfg.num_steps + 1):
        batch = sharding_lib.put_batch(next(train_iter), self.mesh)
        with jax.set_mesh(self.mesh):
          state, metrics = self.train_step(state, batch, base_rng)
        window = metrics if window is None else window.merge(metrics)
        window_steps += 1
        stopping = stop is not None and stop.agreed()
        at_log = step % train_cfg.log_every_steps == 0 or step == train_cfg.num_steps
        at_ckpt = (step % config.checkpoint.every_steps == 0 or
                   step == train_cfg.num_steps or stopping)
        at_eval = (train_cfg.eval_every_steps and
                   step % train_cfg.eval_every_steps == 0 and
                   step != train_cfg.num_steps and not stopping)
        if at_log or at_ckpt or at_eval:
          means = {k: float(v) for k, v in window.compute().items()}
          _check_finite(means, step - window_steps + 1, step, last_good_step)
          elapsed = time.perf_counter() - t_window
          # The first window includes compilation; throughput skips it.
          if step - window_steps > start_step:
            timed_steps += window_steps
            timed_seconds += elapsed
          loss = means.pop("last_loss")
          means["steps_per_s"] = window_steps / elapsed
          writer.write_scalars(step, {f"train/{k}": v for k, v in means.items()})
          progress.update(step, loss=means["loss"])
          window, window_steps = None, 0
          if at_ckpt:
            self._save(step, state, train_iter, last_good_step,
                       force=stopping or step == train_cfg.num_steps)
            last_good_step = step
          if at_eval:
            eval_metrics = self.evaluate(state)
            self._write_eval(writer, step, eval_metrics)
          t_window = time.perf_counter()
        self._write_skipped(train_iter)
        if stopping:
          self.ckpt.wait_until_finished()
          raise preemption.Preempted(
              stop.signal_name or "a stop request on another process", step,
              self.workdir)
    except BaseException:
      writer.close()
      raise
    finally:
      progress.close()
      self.ckpt.wait_until_finished()
    _close(train_iter)  # its workers would compete with evaluation's
    eval_metrics = self.evaluate(state)
    self._write_eval(writer, int(state.step), eval_metrics)
    writer.close()
    batch = train_cfg.batch_size
    summary = {
        "step": int(state.step),
        "loss": loss,
        "num_classes": int(config.dataset.num_classes),
        "params": int(params),
        "gflops_per_clip": float(gmacs),
        "train_clips_per_s": (timed_steps * batch / timed_seconds
                              if timed_seconds else float("nan")),
        **_scalar_metrics(eval_metrics),
    }
    self._write_summary(summary)
    return summary

  def evaluate_latest(self) -> dict:
    if self.ckpt.latest_step() is None:
      raise ConfigError(
          f"--mode=eval needs a checkpoint in {self.workdir}/checkpoints; "
          f"none found: train first with --mode=train")
    state, _ = self.restore_or_init()
    latest = int(state.step)
    metrics = self.evaluate(state)
    writer = observe.MetricWriter(self.workdir)
    self._write_eval(writer, latest, metrics)
    writer.close()
    params, gmacs = model_cost(self.config, self.model)
    summary = {"step": latest, "num_classes": int(self.config.dataset.num_classes),
               "params": int(params), "gflops_per_clip": float(gmacs),
               **_scalar_metrics(metrics)}
    self._write_summary(summary, name="eval_summary.json")
    return summary

  # --------------------------------------------------------------------------
  def _write_eval(self, writer, step, metrics):
    writer.write_scalars(step, {f"eval/{k}": v for k, v in
                                _scalar_metrics(metrics).items()})
    if "confusion" in metrics:
      writer.write_image(step, "eval/confusion",
                         evaluate_lib.confusion_image(metrics["confusion"]))
      if jax.process_index() == 0:
        evaluate_lib.write_confusion_png(
            os.path.join(self.workdir, "confusion.png"), metrics["confusion"])
    observe.log(f"eval at step {step}: " + ", ".join(
        f"{k}={v:.4f}" for k, v in _scalar_metrics(metrics).items()))

  def _write_summary(self, summary, name="summary.json"):
    """Writes `summary` without its undefined (NaN) values: a JSON NaN is
    neither valid JSON nor a result."""
    if jax.process_index() == 0:
      finite = {k: v for k, v in summary.items()
                if not (isinstance(v, float) and not np.isfinite(v))}
      with open(os.path.join(self.workdir, name), "w") as f:
        json.dump(finite, f, indent=2)

  def _save(self, step: int, state, train_iter, last_good_step, force: bool):
    """Saves `step` if the whole state is finite, else stops the run.

    The window's loss and gradient norm can be finite while the update they
    produced is not (a diverging learning rate), so the state itself is
    checked: a checkpoint is always one a run can resume from.
    """
    bad = checkpointing.non_finite_parts(state)
    if bad:
      if last_good_step is None:
        where = ("there is no checkpoint yet, so rerunning starts from "
                 "scratch")
      else:
        where = (f"the last finite checkpoint is step {last_good_step} in "
                 f"{checkpointing.folder(self.workdir)}, where rerunning "
                 "resumes")
      raise NonFiniteLossError(
          f"the {' and '.join(bad)} held NaN or inf at step {step}; it was "
          f"not saved: {where}. Lower train.learning_rate (or set "
          "train.grad_clip_norm) and rerun the same command")
    checkpointing.save(self.ckpt, step, state, train_iter.state(),
                       self.config.to_dict(), force=force)

  def _save_run_config(self) -> None:
    """WORKDIR/config.json and class_names.json, so that eval, predict,
    features and attention maps need only --workdir."""
    if jax.process_index() != 0:
      return
    try:
      names = list(self.dataset.class_names(self.config.dataset))
    except (ConfigError, OSError):
      names = None
    run_config.save(self.workdir, self.config, names)

  def _report_dataset(self) -> None:
    """One line per split saying what the data holds (annotated, found,
    missing, classes, balance), every missing video listed in
    WORKDIR/dataset_report.json: a Kinetics copy always lacks some."""
    if jax.process_index() != 0:
      return
    splits = dict.fromkeys(("train", self.config.eval.split))
    report = {}
    for split in splits:
      described = self.dataset.describe(self.config.dataset, split)
      if described is None:
        return
      report[split] = described
      missing = described["missing_videos"]
      balance = ""
      if "smallest_class" in described:
        (small, n_small), (large, n_large) = (described["smallest_class"],
                                              described["largest_class"])
        balance = (f", {n_small}–{n_large} videos per class ({small!r} – "
                   f"{large!r})")
      named = (f"; missing e.g. {', '.join(missing[:3])}" if missing else "")
      observe.log(
          f"{self.config.dataset.name} {split}: {described['found']} of "
          f"{described['annotated']} annotated videos found (coverage "
          f"{described['coverage']:.3f}), {described['missing']} missing, "
          f"{described['malformed_rows']} malformed rows, "
          f"{described['classes']} classes{balance}{named}")
    with open(os.path.join(self.workdir, "dataset_report.json"), "w") as f:
      json.dump(report, f, indent=1)

  def _finished_summary(self) -> dict | None:
    """The summary of a run that already reached train.num_steps, else None.

    A finished workdir is left as it is: rerunning its command must not
    retrain, re-evaluate or rewrite summary.json.
    """
    num_steps = self.config.train.num_steps
    latest = self.ckpt.latest_step()
    path = os.path.join(self.workdir, "summary.json")
    if latest is None or latest < num_steps or not os.path.exists(path):
      return None
    with open(path) as f:
      summary = json.load(f)
    if summary.get("step", -1) < num_steps:
      return None
    observe.log(f"the run in {self.workdir} already finished at step "
                f"{summary['step']} ({path}); nothing to do. --mode=eval "
                "re-evaluates it; a larger --config.train.num_steps continues "
                "it")
    return summary

  def _write_skipped(self, source) -> None:
    """Appends the samples `source` passed over to WORKDIR/skipped.jsonl
    (each process its own file: hosts read different samples)."""
    drain = getattr(source, "drain_skipped", None)
    records = drain() if drain is not None else []
    if not records:
      return
    index = jax.process_index()
    name = "skipped.jsonl" if index == 0 else f"skipped.process_{index}.jsonl"
    with open(os.path.join(self.workdir, name), "a") as f:
      for record in records:
        f.write(json.dumps(record) + "\n")


def describe_attention(choices) -> str:
  """'12× blockwise (L=3136, S=3136), ...': what the traced attention calls
  of a model run, grouped by implementation and sequence lengths."""
  counts = collections.Counter(
      (c.requested, c.chosen, c.query_shape[-3], c.key_shape[-3])
      for c in choices)
  return ", ".join(
      f"{n}× {chosen} (L={length}, S={keys}"
      f"{', asked ' + requested if requested != chosen else ''})"
      for (requested, chosen, length, keys), n in counts.items())


def _close(train_iter) -> None:
  """Stops a train iterator's workers (threads or processes), if it has any."""
  close = getattr(train_iter, "close", None)
  if close is not None:
    close()


def _check_finite(means: dict[str, float], first: int, last: int,
                  last_good_step: int | None) -> None:
  """Raises NonFiniteLossError if steps `first`..`last` had a non-finite loss
  or gradient: a non-finite gradient would already have poisoned the
  parameters that the next checkpoint would save."""
  for key in ("loss", "grad_norm"):
    if not np.isfinite(means[key]):
      steps = f"step {last}" if first == last else f"steps {first}-{last}"
      where = ("there is no checkpoint yet" if last_good_step is None else
               f"the last good checkpoint is step {last_good_step}, where "
               "rerunning resumes")
      raise NonFiniteLossError(
          f"{key} became {means[key]} within {steps}; stopped without saving: "
          f"{where}. Lower train.learning_rate or set train.grad_clip_norm.")


def restore_newest(mgr, workdir: str, config, abstract, shardings,
                   move_damaged: bool = True):
  """(step, state, data_state) of WORKDIR's newest good checkpoint, or None.

  Raises ConfigError when that checkpoint belongs to another model or
  optimizer or holds NaN/inf; a damaged one is moved aside (by process 0,
  and only if `move_damaged`) and the one before it is used.
  """
  try:
    return checkpointing.restore_newest(
        mgr, workdir, checkpointing.abstract_like(abstract, shardings),
        warn=lambda message: observe.log(f"warning: {message}"),
        move_damaged=move_damaged and jax.process_index() == 0)
  except checkpointing.CheckpointMismatchError as e:
    raise checkpointing.CheckpointMismatchError(
        f"{e}. This config is {config_summary(config)}: resume with the "
        "config it was trained with or use a new --workdir") from e


def config_summary(config) -> str:
  return (f"model {config.model.name}/{config.model.variant}, "
          f"optimizer {config.train.optimizer}")


def _scalar_metrics(metrics: dict) -> dict:
  """The scalar eval metrics, with the eval loss renamed so that a summary's
  `loss` stays the last training loss."""
  out = {}
  for key, value in metrics.items():
    if np.ndim(value) == 0:
      value = int(value) if isinstance(value, (int, np.integer)) else float(value)
      out["eval_loss" if key == "loss" else key] = value
  return out
