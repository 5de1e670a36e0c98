r"""Per-clip and per-video embeddings of videos from a trained model.

  python -m vst.tools.features --config=configs/r2plus1d_k400.py \
      --workdir=workdirs/r2plus1d --out=features/ [--window=32 --stride=16] \
      VIDEO_OR_FOLDER ...
  python -m vst.tools.features --config=... --workdir=... --out=... \
      --split=test            # every video of the config's dataset split

The embedding is the model's "pre_logits" intermediate: the representation
the classifier reads (every vst model sows it). Each video is cut into clips
of --window source frames whose starts are --stride frames apart (defaults:
the config's clip span and non-overlapping clips); a clip's T = dataset.
num_frames input frames are spread evenly over its window, and the centre
crop at the config's resolution is taken, as in single-view testing.

Output, per video, `<out>/<name>.npz`:
  clip_features [K, D]     one row per clip, in temporal order
  video_feature [D]        the mean of the clip rows
  clip_frames   [K, 2]     first and one-past-last source frame of each window
  frame_indices [K, T]     the exact frames each clip's input shows
  clip_seconds  [K, 2]     the windows in seconds (when the fps is known)
and one line per finished video in `<out>/features.jsonl`; `<out>/
features_meta.json` records the model, checkpoint step and sampling. A run
that is interrupted resumes where it stopped: finished videos are skipped
(each .npz is written atomically). A video that cannot be read is logged in
features.jsonl with its error and skipped.
"""

import json
import os
import sys
from typing import Optional, Sequence

from absl import flags
import numpy as np

from vst import cli
from vst import run_config

META_FILE = "features_meta.json"
INDEX_FILE = "features.jsonl"
CLIPS_PER_READ = 16  # clips decoded at once: bounds memory on long videos


def _flag_values(argv):
  fv = cli.new_flag_values(argv, config_help="Path to the run's configs/*.py.",
                           workdir_help="The run's directory (checkpoints/).")
  flags.DEFINE_string("out", None, "Folder for the features.", flag_values=fv)
  flags.DEFINE_integer("window", 0, "Source frames per clip (0: the config's "
                       "clip span, num_frames × frame_stride).", flag_values=fv)
  flags.DEFINE_integer("stride", 0, "Source frames between clip starts (0: "
                       "the window).", flag_values=fv)
  flags.DEFINE_string("split", None, "Instead of videos: every video of this "
                      "split of the config's dataset.", flag_values=fv)
  flags.DEFINE_integer("batch_size", 0, "Clips per forward pass (0: the "
                       "config's eval.batch_size).", flag_values=fv)
  return fv


def clip_windows(num_frames: int, window: int, stride: int,
                 clip_length: int) -> tuple[np.ndarray, np.ndarray]:
  """(windows [K, 2], frame indices [K, T]) of a video of `num_frames`.

  Windows start at 0, stride, 2·stride, ... as long as they fit; a video
  shorter than one window gives one clip whose indices are clamped to its
  last frame (the "pad" policy of evaluation).
  """
  for name, value in (("window", window), ("stride", stride)):
    if value < 1:
      raise ValueError(f"--{name}={value} is not valid; allowed: >= 1")
  if window < clip_length:
    raise ValueError(f"--window={window} is shorter than the model's clip of "
                     f"{clip_length} frames; allowed: >= {clip_length}")
  starts = np.arange(0, max(num_frames - window, 0) + 1, stride)
  offsets = (np.arange(clip_length) * window) // clip_length
  indices = np.minimum(starts[:, None] + offsets[None], num_frames - 1)
  windows = np.stack([starts, np.minimum(starts + window, num_frames)], 1)
  return windows, indices


def default_window(config) -> int:
  """The span of the config's training clip in source frames."""
  from vst.inference import file_spec  # pylint: disable=g-import-not-at-top
  clip = file_spec(config).clip
  return clip.span() if clip.kind == "dense" else clip.num_frames


def _output_name(video: str, root: Optional[str]) -> str:
  """A file name unique within the run: the path under the common root."""
  rel = os.path.relpath(video, root) if root else os.path.basename(video)
  rel = os.path.splitext(rel)[0] if os.path.isfile(video) else rel
  return rel.replace(os.sep, "__") + ".npz"


def _read_index(out: str) -> dict[str, dict]:
  """The index's rows by video. A torn last line (the process was killed
  while writing it) is cut off, so that the resumed run appends whole lines
  and redoes that video."""
  path = os.path.join(out, INDEX_FILE)
  if not os.path.exists(path):
    return {}
  done, good_bytes = {}, 0
  with open(path, "rb") as f:
    for line in f:
      try:
        row = json.loads(line) if line.strip() else None
      except ValueError:
        break
      if line.strip() and not line.endswith(b"\n"):
        break
      if row is not None:
        done[row["video"]] = row
      good_bytes += len(line)
  if good_bytes < os.path.getsize(path):
    with open(path, "r+b") as f:
      f.truncate(good_bytes)
  return done


def _check_meta(out: str, meta: dict) -> None:
  """Writes the run's settings, or checks that `out` was made with them:
  features of two models or samplings must never mix in one folder."""
  from vst.errors import ConfigError  # pylint: disable=g-import-not-at-top
  path = os.path.join(out, META_FILE)
  if os.path.exists(path):
    with open(path) as f:
      old = json.load(f)
    if old != meta:
      diff = sorted(k for k in set(old) | set(meta) if old.get(k) != meta.get(k))
      raise ConfigError(
          f"--out={out} holds features made with other settings ({', '.join(diff)}: "
          f"{[old.get(k) for k in diff]} there, {[meta.get(k) for k in diff]} "
          "now); use a new --out folder")
    return
  os.makedirs(out, exist_ok=True)
  with open(path, "w") as f:
    json.dump(meta, f, indent=1)


def video_features(config, loaded, apply, video: str, window: int,
                   stride: int, batch_size: int,
                   cache_dir: Optional[str] = None) -> dict[str, np.ndarray]:
  """The arrays of one video's .npz (see the module doc)."""
  import jax  # pylint: disable=g-import-not-at-top
  from vst import inference  # pylint: disable=g-import-not-at-top
  spec, maker = inference.clip_maker(config, video, cache_dir)
  num_frames, fps = maker.length_and_fps(0)
  windows, indices = clip_windows(num_frames, window, stride, spec.num_frames)
  rows = []
  for start in range(0, len(indices), CLIPS_PER_READ):
    views = maker.clips_at(0, indices[start:start + CLIPS_PER_READ], fps=fps)
    inputs = inference.stack_views(views, spec)
    with jax.set_mesh(loaded.mesh):
      _, state = inference.apply_in_batches(
          apply, loaded.variables, inputs, min(batch_size, len(views)))
    rows.append(pre_logits(state))
  clip_features = np.concatenate(rows).astype(np.float32)
  seconds = windows / fps if fps else np.full(windows.shape, np.nan)
  return {"clip_features": clip_features,
          "video_feature": clip_features.mean(0),
          "clip_frames": windows.astype(np.int64),
          "frame_indices": indices.astype(np.int64),
          "clip_seconds": seconds.astype(np.float64)}


def pre_logits(state: dict) -> np.ndarray:
  """The top-level "pre_logits" intermediate [B, D] of a model's apply."""
  from vst.errors import ConfigError  # pylint: disable=g-import-not-at-top
  sown = state.get("intermediates", {}).get("pre_logits")
  if sown is None:
    raise ConfigError("this model sows no top-level 'pre_logits' "
                      "intermediate; every vst model should (see "
                      "tests/models/test_registry.py)")
  return np.asarray(sown[-1]).reshape((len(sown[-1]), -1))


def extract(config, workdir: str, videos: Sequence[str], out: str,
            window: int = 0, stride: int = 0, batch_size: int = 0,
            labels: Optional[Sequence[int]] = None, root: Optional[str] = None,
            progress: bool = True) -> dict[str, int]:
  """Writes the features of `videos` under `out`; returns counts of videos
  {"done", "skipped" (already there), "failed"}."""
  import tqdm  # pylint: disable=g-import-not-at-top
  from vst import inference  # pylint: disable=g-import-not-at-top
  from vst.data import decode  # pylint: disable=g-import-not-at-top
  loaded = inference.load(config, workdir)
  window = window or default_window(config)
  stride = stride or window
  batch_size = batch_size or int(config.eval.batch_size)
  _check_meta(out, {
      "model": f"{config.model.name}/{config.model.variant}",
      "checkpoint_step": loaded.step, "workdir": os.path.abspath(workdir),
      "window": window, "stride": stride,
      "sampling": inference.describe(inference.file_spec(config)),
      "feature": "pre_logits", "video_feature": "mean of clip_features"})
  done = _read_index(out)
  apply = inference.make_apply(loaded.model, ("intermediates",))
  counts = {"done": 0, "skipped": 0, "failed": 0}
  bar = tqdm.tqdm(videos, desc="features", unit="video", disable=not progress,
                  file=sys.stderr)
  with open(os.path.join(out, INDEX_FILE), "a") as index:
    for i, video in enumerate(bar):
      name = _output_name(video, root)
      path = os.path.join(out, name)
      if video in done and os.path.exists(path):
        counts["skipped"] += 1
        continue
      row = {"video": video, "file": name}
      if labels is not None:
        row["label"] = int(labels[i])
      try:
        arrays = video_features(config, loaded, apply, video, window, stride,
                                batch_size, os.path.join(out, "flow_cache"))
      except Exception as e:  # pylint: disable=broad-except
        # One bad file is named in the index and the others go on.
        counts["failed"] += 1
        index.write(json.dumps(
            {**row, "error": str(decode.sample_failure(video, e))}) + "\n")
        index.flush()
        continue
      os.makedirs(os.path.dirname(path), exist_ok=True)
      tmp = path + ".tmp.npz"
      np.savez(tmp, **arrays)
      os.replace(tmp, path)
      row.update(num_clips=len(arrays["clip_features"]),
                 dim=int(arrays["clip_features"].shape[1]))
      index.write(json.dumps(row) + "\n")
      index.flush()
      counts["done"] += 1
  return counts


def _split_videos(config, split: str):
  """(paths, labels, root) of a split of the config's real-video dataset."""
  from vst.data import video_datasets  # pylint: disable=g-import-not-at-top
  from vst.errors import ConfigError  # pylint: disable=g-import-not-at-top
  from vst.inference import file_spec  # pylint: disable=g-import-not-at-top
  spec = file_spec(config)
  if config.dataset.name not in video_datasets.LAYOUTS:
    raise ConfigError(
        f"--split needs a dataset of video files; dataset.name="
        f"{config.dataset.name!r} makes its clips in memory: name video "
        "files or folders instead")
  if spec.source == "tfds":
    raise ConfigError("--split reads video files; dataset.source='tfds' "
                      "holds TFDS records: set dataset.source='files'")
  index = video_datasets.load_index(spec, split)
  return list(index.paths), list(index.labels), spec.data_dir


def main(argv: Sequence[str]) -> int:
  """The command line: `argv` as sys.argv; returns the exit status."""
  from vst import inference  # pylint: disable=g-import-not-at-top
  from vst.data import decode  # pylint: disable=g-import-not-at-top
  from vst.errors import ConfigError  # pylint: disable=g-import-not-at-top
  # The run's saved config (and class names) when --workdir has one.
  argv = run_config.with_run_config(argv)
  fv = _flag_values(argv)
  positional = cli.parse_flags(list(argv), fv)[1:]
  cli.initialize_distributed_or_exit(fv)
  if fv.config is None or not fv.workdir or not fv.out:
    print("error: --workdir and --out are required, and --config where the "
          "run saved no config.json", file=sys.stderr)
    return 2
  if bool(positional) == bool(fv.split):
    print("error: name videos or folders, or --split=<split>, not both",
          file=sys.stderr)
    return 2
  try:
    if fv.split:
      videos, labels, root = _split_videos(fv.config, fv.split)
    else:
      videos, labels = inference.list_videos(positional), None
      root = os.path.commonpath([os.path.abspath(v) for v in videos])
      if len(videos) == 1:
        root = None
      else:
        videos = [os.path.abspath(v) for v in videos]
    counts = extract(fv.config, fv.workdir, videos, fv.out, fv.window,
                     fv.stride, fv.batch_size, labels, root)
  except (ConfigError, decode.DecodeError, ValueError) as e:
    print(f"error: {e}", file=sys.stderr)
    return 2
  print(f"features in {fv.out}: {counts['done']} videos written, "
        f"{counts['skipped']} already there, {counts['failed']} unreadable")
  return 1 if counts["failed"] else 0


if __name__ == "__main__":
  sys.exit(main(sys.argv))
