"""Evaluation over a split: clip and video Hit@k, mean class accuracy, confusion.

A batch may carry several views (clips × crops) of one video, marked by
"video_id"; views are aggregated here, outside the model (DESIGN.md). Without
"video_id" every example is its own video and clip and video metrics agree.

Metrics, as DeepVideo (Karpathy et al. 2014) reports them: clip Hit@1/@5
(each view on its own), video Hit@1/@5 (= top-1/top-5 "accuracy"/"top5",
after aggregating all views of a video), mean class accuracy, and the
confusion matrix. A dataset whose batches come with a `report()` (real
videos, some of which are missing or unreadable) adds the coverage, the
fraction of annotated videos that were evaluated, since accuracies measured
on different subsets of a dataset do not compare.
"""

import time
from typing import Callable, Iterable, Optional

import cv2
import jax
import numpy as np
from jax.experimental import multihost_utils

from vst import sharding as sharding_lib
from vst.errors import check_choice

AGGREGATIONS = ("mean_softmax", "mean_logits", "max_softmax")


def _softmax(logits: np.ndarray) -> np.ndarray:
  z = logits - logits.max(axis=-1, keepdims=True)
  e = np.exp(z)
  return e / e.sum(axis=-1, keepdims=True)


def hit_at_k(scores: np.ndarray, labels: np.ndarray, k: int) -> float:
  """Fraction of rows whose label is among the k highest scores."""
  if len(labels) == 0:
    return float("nan")
  k = min(k, scores.shape[-1])
  topk = np.argpartition(-scores, k - 1, axis=-1)[:, :k]
  return float(np.mean(np.any(topk == labels[:, None], axis=-1)))


def confusion_matrix(pred: np.ndarray, labels: np.ndarray, num_classes: int):
  """[num_classes, num_classes] counts, rows = true class."""
  m = np.zeros((num_classes, num_classes), np.int64)
  np.add.at(m, (labels, pred), 1)
  return m


def aggregate_views(logits, labels, video_ids, how: str):
  """Per-video scores [V, K] and labels [V] from per-view logits [N, K]."""
  check_choice("eval.aggregation", how, AGGREGATIONS)
  order = np.unique(video_ids, return_inverse=True)[1]
  num_videos = order.max() + 1 if len(order) else 0
  per_view = logits if how == "mean_logits" else _softmax(logits)
  scores = np.zeros((num_videos, logits.shape[-1]), np.float64)
  if how == "max_softmax":
    scores[:] = -np.inf
    np.maximum.at(scores, order, per_view)
  else:
    np.add.at(scores, order, per_view)
    scores /= np.bincount(order, minlength=num_videos)[:, None]
  video_labels = np.zeros(num_videos, np.int64)
  video_labels[order] = labels
  return scores, video_labels


def metrics_from_outputs(logits, labels, video_ids, num_classes: int,
                         aggregation: str = "mean_softmax") -> dict:
  """All evaluation metrics from per-view logits [N, K], labels [N], ids [N]."""
  if len(labels):
    log_probs = logits - logits.max(-1, keepdims=True)
    log_probs -= np.log(np.exp(log_probs).sum(-1, keepdims=True))
    clip_loss = float(-np.mean(log_probs[np.arange(len(labels)), labels]))
  else:
    clip_loss = float("nan")
  scores, video_labels = aggregate_views(logits, labels, video_ids, aggregation)
  pred = scores.argmax(-1)
  confusion = confusion_matrix(pred, video_labels, num_classes)
  per_class = np.diag(confusion) / np.maximum(confusion.sum(1), 1)
  present = confusion.sum(1) > 0
  accuracy, top5 = hit_at_k(scores, video_labels, 1), hit_at_k(
      scores, video_labels, 5)
  return {
      "loss": clip_loss,
      "clip_hit@1": hit_at_k(logits, labels, 1),
      "clip_hit@5": hit_at_k(logits, labels, 5),
      "accuracy": accuracy,
      "top5": top5,
      "video_hit@1": accuracy,
      "video_hit@5": top5,
      "mean_class_accuracy": float(per_class[present].mean()) if present.any() else float("nan"),
      "num_videos": int(len(video_labels)),
      "num_views": int(len(labels)),
      "confusion": confusion,
  }


def coverage_metrics(report: dict) -> dict:
  """Coverage from a dataset's `report()`: {"global": counts equal on every
  host, "per_host": counts summed over hosts}; needs "videos_annotated" and
  "videos_evaluated"."""
  per_host = dict(report.get("per_host", {}))
  if jax.process_count() > 1 and per_host:
    keys = sorted(per_host)
    summed = multihost_utils.process_allgather(
        np.asarray([per_host[k] for k in keys], np.int64)).sum(0)
    per_host = dict(zip(keys, (int(v) for v in summed)))
  counts = {**report.get("global", {}), **per_host}
  out = {k: int(v) for k, v in counts.items()}
  annotated = out.get("videos_annotated", 0)
  if annotated:
    out["coverage"] = out.get("videos_evaluated", 0) / annotated
  return out


def _everyone_done(done_here: bool) -> bool:
  """Whether every process is done (all must run the same eval steps)."""
  if jax.process_count() == 1:
    return done_here
  flags = multihost_utils.process_allgather(np.int32(done_here))
  return bool(np.all(flags))


def confusion_image(confusion: np.ndarray, cell: Optional[int] = None) -> np.ndarray:
  """uint8 [H, W, 3] picture of a confusion matrix, rows normalised (row =
  true class, column = prediction); white 0 to dark blue 1."""
  k = len(confusion)
  cell = cell or max(1, min(16, 800 // max(k, 1)))
  rows = confusion.astype(np.float64)
  rows /= np.maximum(rows.sum(1, keepdims=True), 1)
  white, blue = np.float64([255, 255, 255]), np.float64([8, 48, 107])
  image = white + rows[..., None] * (blue - white)
  image = np.repeat(np.repeat(image, cell, 0), cell, 1)
  return image.round().astype(np.uint8)


def write_confusion_png(path: str, confusion: np.ndarray) -> None:
  image = confusion_image(confusion)
  if not cv2.imwrite(path, cv2.cvtColor(image, cv2.COLOR_RGB2BGR)):
    raise OSError(f"cannot write {path}")


def run(eval_step: Callable, state, batches: Iterable[dict], mesh,
        num_classes: int, aggregation: str = "mean_softmax",
        max_examples: int = 0,
        on_batch: Optional[Callable[[int], None]] = None) -> dict:
  """Runs `eval_step(state, batch) -> logits` over `batches`, then metrics.

  Padded rows (mask 0) are dropped before any metric is computed. If
  `batches` has a `report()`, the coverage counts join the metrics.

  Every row carries its example's index in the split: "video_id" where the
  dataset gives one (the views of a video share it), else its global row
  number (datasets without one deal contiguous slices of each global batch
  to hosts). `max_examples` > 0 keeps the examples with index below it, the
  same clips whatever the number of processes, and stops once every host is
  past them. Labels, masks and indices travel as global arrays sharded like
  the inputs, so they line up with the logits on any mesh.
  """
  all_logits, all_labels, all_ids = [], [], []
  views = 0
  t0 = time.perf_counter()
  for position, batch in enumerate(batches):
    local = len(batch["label"])
    mask = np.asarray(batch.pop("mask", np.ones(local)), np.float32)
    ids = batch.pop("video_id", None)
    if ids is None:
      ids = (position * local * jax.process_count() +
             jax.process_index() * local + np.arange(local))
    ids = np.asarray(ids, np.int32)
    if max_examples:
      mask = mask * (ids < max_examples)
      if _everyone_done(not np.any((ids < max_examples) & (ids >= 0))):
        break
    outputs = sharding_lib.put_batch(
        {"mask": mask, "label": np.asarray(batch.pop("label"), np.int32),
         "ids": ids}, mesh)
    outputs["logits"] = eval_step(state, sharding_lib.put_batch(batch, mesh))
    gathered = multihost_utils.process_allgather(outputs, tiled=True)
    keep = np.asarray(gathered["mask"]) > 0
    all_logits.append(np.asarray(gathered["logits"], np.float32)[keep])
    all_labels.append(np.asarray(gathered["label"])[keep])
    all_ids.append(np.asarray(gathered["ids"])[keep])
    views += int(keep.sum())
    if on_batch is not None:
      on_batch(views)
  seconds = time.perf_counter() - t0
  if not all_logits:  # An empty split: every metric is undefined.
    all_logits = [np.zeros((0, num_classes), np.float32)]
    all_labels, all_ids = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)]
  metrics = metrics_from_outputs(np.concatenate(all_logits),
                                 np.concatenate(all_labels),
                                 np.concatenate(all_ids), num_classes, aggregation)
  metrics["eval_clips_per_s"] = views / seconds if seconds > 0 else float("nan")
  if hasattr(batches, "report"):
    metrics.update(coverage_metrics(batches.report()))
  return metrics
