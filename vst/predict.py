r"""Top-k labels of video files from a trained run.

  python -m vst.predict --config=configs/vivit_synthetic.py \
      --workdir=workdirs/vivit_synthetic clip.mp4 more_videos/ \
      [--top_k=5] [--json=predictions.json]

Loads the latest checkpoint of --workdir, samples the config's test views
from each video (eval.num_clips × eval.num_crops, the sampler evaluation
uses, so any length of video works: short ones are padded as in evaluation,
long ones give evenly spread clips), combines the views as eval.aggregation
says and prints the top-k classes with their probabilities. A folder
argument stands for every video under it (or is itself a video if it holds
frames). A video that cannot be read is reported and skipped; the exit
status is then 1.
"""

import json
import os
import sys
from typing import Sequence

from absl import flags
import numpy as np

from vst import cli
from vst import run_config


def _flag_values(argv):
  fv = cli.new_flag_values(argv, config_help="Path to the run's configs/*.py file.",
                           workdir_help="The run's directory (holds "
                           "checkpoints/).")
  flags.DEFINE_integer("top_k", 5, "Labels printed per video.", flag_values=fv)
  flags.DEFINE_string("json", None, "Also write the predictions here.",
                      flag_values=fv)
  flags.DEFINE_integer("batch_size", 0, "Views per forward pass (0: the "
                       "config's eval.batch_size).", flag_values=fv)
  return fv


def _probabilities(logits: np.ndarray, aggregation: str) -> np.ndarray:
  """[K] class scores of one video from its views' logits [V, K]."""
  from vst import evaluate  # pylint: disable=g-import-not-at-top
  scores, _ = evaluate.aggregate_views(
      logits, np.zeros(len(logits), np.int64), np.zeros(len(logits)),
      aggregation)
  scores = scores[0]
  if aggregation == "mean_logits":
    z = np.exp(scores - scores.max())
    return z / z.sum()
  return scores


def predict_videos(config, workdir: str, videos: Sequence[str],
                   top_k: int = 5, batch_size: int = 0,
                   loaded=None) -> list[dict]:
  """Predictions for each video: {"video", "step", "views", "top": [{"label",
  "index", "probability"}], "layouts"} or {"video", "error"}."""
  import jax  # pylint: disable=g-import-not-at-top
  from vst import inference  # pylint: disable=g-import-not-at-top
  from vst.data import decode  # pylint: disable=g-import-not-at-top
  from vst.errors import ConfigError  # pylint: disable=g-import-not-at-top
  if top_k < 1:
    raise ConfigError(f"--top_k={top_k} is not valid; allowed: integers >= 1")
  loaded = loaded or inference.load(config, workdir)
  apply = inference.make_apply(loaded.model)
  batch_size = batch_size or int(config.eval.batch_size)
  results = []
  for video in videos:
    try:
      inputs, layouts = inference.video_views(
          config, video, cache_dir=os.path.join(workdir, "predict_flow"))
    except Exception as e:  # pylint: disable=broad-except
      # Any failure of one file (not only a decoder's) is reported by name
      # and the other videos go on; the exit status says one failed.
      results.append({"video": video,
                      "error": str(decode.sample_failure(video, e))})
      continue
    with jax.set_mesh(loaded.mesh):
      logits = inference.apply_in_batches(apply, loaded.variables, inputs,
                                          min(batch_size, len(layouts)))
    probs = _probabilities(logits, config.eval.aggregation)
    order = np.argsort(-probs)[:top_k]
    results.append({
        "video": video, "step": loaded.step, "views": len(layouts),
        "aggregation": config.eval.aggregation,
        "top": [{"label": loaded.class_names[k], "index": int(k),
                 "probability": float(probs[k])} for k in order],
        "layouts": layouts})
  return results


def format_results(results: list[dict]) -> str:
  lines = []
  for r in results:
    if "error" in r:
      lines.append(f"{r['video']}: cannot read: {r['error']}")
      continue
    frames = r["layouts"][0]["frames"]
    lines.append(f"{r['video']}  ({r['views']} views of {len(frames)} frames, "
                 f"checkpoint step {r['step']}, {r['aggregation']})")
    width = max(len(t["label"]) for t in r["top"])
    for rank, t in enumerate(r["top"], 1):
      lines.append(f"  {rank}. {t['label']:<{width}}  {t['probability']:.4f}")
  return "\n".join(lines)


def main(argv: Sequence[str]) -> int:
  """The command line: `argv` as sys.argv; returns the exit status."""
  from vst import inference  # pylint: disable=g-import-not-at-top
  from vst.data import decode  # pylint: disable=g-import-not-at-top
  from vst.errors import ConfigError  # pylint: disable=g-import-not-at-top
  # The run's saved config (and class names) when --workdir has one.
  argv = run_config.with_run_config(argv)
  fv = _flag_values(argv)
  videos = cli.parse_flags(list(argv), fv)[1:]
  cli.initialize_distributed_or_exit(fv)
  if fv.config is None or not fv.workdir:
    print("error: --workdir=<the run's directory> is required, and "
          "--config=configs/<name>.py where the run saved no config.json",
          file=sys.stderr)
    return 2
  if not videos:
    print("error: name at least one video file or folder", file=sys.stderr)
    return 2
  try:
    results = predict_videos(fv.config, fv.workdir,
                             inference.list_videos(videos), fv.top_k,
                             fv.batch_size)
  except (ConfigError, decode.DecodeError) as e:
    print(f"error: {e}", file=sys.stderr)
    return 2
  print(format_results(results))
  if fv.json:
    with open(fv.json, "w") as f:
      json.dump(results, f, indent=1)
  return 1 if any("error" in r for r in results) else 0


if __name__ == "__main__":
  sys.exit(main(sys.argv))
