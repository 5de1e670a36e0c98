"""Evaluation over a split: clip and video Hit@k, mean class accuracy, confusion.

A batch may carry several views (clips × crops) of one video, marked by
"video_id"; views are aggregated here, outside the model (DESIGN.md). Without
"video_id" every example is its own video and clip and video metrics agree.
"""

import time
from typing import Callable, Iterable

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
  log_probs = logits - logits.max(-1, keepdims=True)
  log_probs -= np.log(np.exp(log_probs).sum(-1, keepdims=True))
  clip_loss = float(-np.mean(log_probs[np.arange(len(labels)), labels]))
  scores, video_labels = aggregate_views(logits, labels, video_ids, aggregation)
  pred = scores.argmax(-1)
  confusion = confusion_matrix(pred, video_labels, num_classes)
  per_class = np.diag(confusion) / np.maximum(confusion.sum(1), 1)
  present = confusion.sum(1) > 0
  return {
      "loss": clip_loss,
      "clip_hit@1": hit_at_k(logits, labels, 1),
      "clip_hit@5": hit_at_k(logits, labels, 5),
      "accuracy": hit_at_k(scores, video_labels, 1),
      "top5": hit_at_k(scores, video_labels, 5),
      "mean_class_accuracy": float(per_class[present].mean()) if present.any() else float("nan"),
      "num_videos": int(len(video_labels)),
      "num_views": int(len(labels)),
      "confusion": confusion,
  }


def run(eval_step: Callable, state, batches: Iterable[dict], mesh,
        num_classes: int, aggregation: str = "mean_softmax") -> dict:
  """Runs `eval_step(state, batch) -> logits` over `batches`, then metrics.

  Padded rows (mask 0) are dropped before any metric is computed.
  """
  all_logits, all_labels, all_ids = [], [], []
  next_id = 0
  views = 0
  t0 = time.perf_counter()
  for batch in batches:
    mask = np.asarray(batch.pop("mask", np.ones(len(batch["label"]))))
    ids = batch.pop("video_id", None)
    if ids is None:
      # Unique per example across hosts and batches.
      ids = next_id + np.arange(len(mask)) * jax.process_count() + jax.process_index()
      next_id += len(mask) * jax.process_count()
    logits = eval_step(state, sharding_lib.put_batch(batch, mesh))
    gathered = multihost_utils.process_allgather(
        {"logits": logits, "mask": mask, "label": batch["label"],
         "ids": np.asarray(ids)}, tiled=True)
    keep = np.asarray(gathered["mask"]) > 0
    all_logits.append(np.asarray(gathered["logits"], np.float32)[keep])
    all_labels.append(np.asarray(gathered["label"])[keep])
    all_ids.append(np.asarray(gathered["ids"])[keep])
    views += int(keep.sum())
  seconds = time.perf_counter() - t0
  metrics = metrics_from_outputs(np.concatenate(all_logits),
                                 np.concatenate(all_labels),
                                 np.concatenate(all_ids), num_classes, aggregation)
  metrics["eval_clips_per_s"] = views / seconds if seconds > 0 else float("nan")
  return metrics
