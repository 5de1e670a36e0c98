# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Long-range temporal modelling: accuracy and cost as the clip grows
#
# Which models can use a long clip, and what does the length cost them? The
# task is `synthetic_event_order`: a 64-frame video whose objects change
# motion twice (right, left, down in one of 3! = 6 orders, each for a third
# of the video); the label is the order. A model sees the video's first T
# frames, so a clip of T ≤ 23 frames shows one phase and no model can beat
# 1/2 (the *ceiling*, computed by the dataset); T ≥ 24 shows two phases,
# which fix the order. Every arm trains on the same budget (600 AdamW steps
# of 32 clips) at T = 8, 16, 32, 64:
#
# * `divided`: ViViT tiny with TimeSformer's divided space-time attention
#   (cost quadratic in T in the temporal stage, linear in space);
# * `joint`: ViViT tiny with joint space-time attention, the quadratic
#   reference;
# * `vtn`: VTN tiny, a per-frame ViT and a Longformer temporal encoder
#   whose sliding window (18 frames) makes its cost linear in T;
# * `convlstm`: a ConvLSTM classifier (recurrence over T: constant memory at
#   inference, `nn.scan`);
# * `faster`: FASTER's FAST-GRU over 4-frame clips, alternating an
#   expensive (R(2+1)D) and a cheap (2D ResNet) clip model.
#
# ```
# python experiments/long_range.py            # the study (hours on 2 CPU cores)
# python experiments/long_range.py --smoke    # seconds: checks the pipeline
# ```

# %%
import math
import sys

# The study's folder is on sys.path when it runs as a script or a notebook.
import costs
import plots
import results_file
import runner
import study_cli
import tables
from arms import Arm

STUDY = "long_range"
DESCRIPTION = ("Long-range temporal modelling on synthetic_event_order: "
               "accuracy, GFLOPs, memory and clips/s as the clip grows.")

# %% [markdown]
# ## The task and the arms

# %%
NUM_EVENTS = 3
NUM_CLASSES = math.factorial(NUM_EVENTS)  # One class per order.
VIDEO_FRAMES = 64
FRAMES = (8, 16, 32, 64)
# Smoke mode: two clip lengths of an 8-frame video.
SMOKE_VIDEO_FRAMES = 8
SMOKE_FRAMES = (4, 8)

MODELS = {
    "divided": dict(model="vivit", overrides={"model.attention": "divided"},
                    note="ViViT tiny, TimeSformer divided attention"),
    "joint": dict(model="vivit",
                  overrides={"model.vivit_model": "spatio_temporal"},
                  note="ViViT tiny model 1 (joint attention)"),
    # The paper's one frame per backbone input and the shared Adam, not
    # configs/vtn_synthetic.py's 2-frame tubelets and β2 0.95.
    "vtn": dict(model="vtn", overrides={"model.tubelet_frames": 1,
                                        "train.b2": 0.999},
                note="VTN tiny: per-frame ViT + Longformer (window 18)"),
    "convlstm": dict(model="convlstm", note="ConvLSTM tiny"),
    "faster": dict(model="faster", note="FASTER tiny: FAST-GRU over 4-frame "
                   "clips"),
}


def dataset_overrides(video_frames: int) -> dict:
  return {"dataset.name": "synthetic_event_order",
          "dataset.num_classes": NUM_CLASSES,
          "dataset.num_events": NUM_EVENTS,
          "dataset.video_frames": video_frames}


def make_arms(frames, video_frames):
  """One arm per (model, T), named `<model>_T<T>`."""
  arms = []
  for name, m in MODELS.items():
    for t in frames:
      arms.append(Arm(name=f"{name}_T{t}", model=m["model"],
                      overrides={**m.get("overrides", {}),
                                 **dataset_overrides(video_frames)},
                      note=m["note"], num_frames=t))
  return tuple(arms)


ARMS = make_arms(FRAMES, VIDEO_FRAMES)
# Smoke mode trains one model at both lengths (each arm costs ~4 compiles).
SMOKE_ARMS = tuple(f"convlstm_T{t}" for t in SMOKE_FRAMES)


def ceiling(num_frames: int, video_frames: int) -> float:
  """The best accuracy any model can reach from the first `num_frames`."""
  import ml_collections  # pylint: disable=g-import-not-at-top
  from vst.data import synthetic_event_order  # pylint: disable=g-import-not-at-top
  spec = synthetic_event_order.make_spec(ml_collections.ConfigDict(dict(
      num_frames=num_frames, crop_size=32, num_classes=NUM_CLASSES,
      num_events=NUM_EVENTS, video_frames=video_frames)))
  return synthetic_event_order.accuracy_ceiling(spec)


# %% [markdown]
# ## The study

# %%
TABLE_COLUMNS = ("arm", "frames", "accuracy", "ceiling", "accuracy_spread",
                 "accuracy_std", "seeds", "accuracy_per_seed",
                 "gflops_per_clip", "params", "peak_train_mib", "batch_size",
                 "train_clips_per_s", "steps", "model", "input", "note")


def main(argv=()):
  parser = study_cli.argument_parser(STUDY, DESCRIPTION)
  parser.add_argument("--models", default="",
                      help="comma-separated models to run (default all: "
                      f"{','.join(MODELS)}); --arms picks single (model, T)")
  args = parser.parse_args(list(argv))
  video_frames = SMOKE_VIDEO_FRAMES if args.smoke else VIDEO_FRAMES
  frames = SMOKE_FRAMES if args.smoke else FRAMES
  arms = make_arms(frames, video_frames)
  if args.models and not args.arms:
    unknown = set(args.models.split(",")) - set(MODELS)
    if unknown:
      raise SystemExit(f"error: unknown model(s) {sorted(unknown)}; valid: "
                       f"{sorted(MODELS)}")
    args.arms = ",".join(a.name for a in arms
                         if a.name.rsplit("_T", 1)[0] in args.models.split(","))
  out, runs, arms, rows = runner.run_arms(args, STUDY, arms, SMOKE_ARMS)
  for arm, row in zip(arms, rows):
    row["frames"] = arm.num_frames
    row["ceiling"] = ceiling(arm.num_frames, video_frames)
  notes = [
      f"task: synthetic_event_order, {NUM_EVENTS} motions in one of "
      f"{NUM_CLASSES} orders over a {video_frames}-frame video; the model "
      "sees its first `frames` frames (chance "
      f"{1 / NUM_CLASSES:.3f})",
      "ceiling: the best accuracy the visible frames allow, 1/(hidden "
      "phases)! (vst.data.synthetic_event_order.accuracy_ceiling)",
      "accuracy: test top-1, mean over seeds; accuracy_spread = (max − "
      "min)/2 over seeds",
      "gflops_per_clip: conv/linear/matmul multiply-accumulates (GMACs) of "
      "one clip's inference forward pass",
      "peak_train_mib: the train step's peak memory at the run's batch, "
      "fixed + B·per_clip from compiles at batches 1 and 2 (nothing runs)",
      costs.env_note(),
  ]
  tables.write_table(rows, TABLE_COLUMNS, out / "results",
                     title="Long-range: accuracy and cost vs clip length",
                     notes=notes)
  models = [m for m in MODELS
            if any(r["arm"].rsplit("_T", 1)[0] == m for r in rows)]

  def series(key):
    return {m: [(r["frames"], r[key]) for r in rows
                if r["arm"].rsplit("_T", 1)[0] == m] for m in models}

  shown = range(min(r["frames"] for r in rows),
                max(r["frames"] for r in rows) + 1)
  plots.plot_curves(series("accuracy"), out / "accuracy_vs_frames.png",
                    xlabel="frames T seen (of the video)",
                    ylabel="test top-1", logy=False,
                    hline=1 / NUM_CLASSES, hline_label="chance",
                    steps={"ceiling": [(t, ceiling(t, video_frames))
                                       for t in shown]},
                    title="Accuracy vs clip length (synthetic_event_order)")
  plots.plot_curves(series("gflops_per_clip"), out / "gflops_vs_frames.png",
                    xlabel="frames T", ylabel="GMACs per clip",
                    title="Compute vs T")
  plots.plot_curves(series("peak_train_mib"), out / "memory_vs_frames.png",
                    xlabel="frames T",
                    ylabel=f"train-step MiB at batch {rows[0]['batch_size']}",
                    title="Train-step memory vs T")
  results_file.save_results(args, out, results=rows)
  return 0


# %%
if __name__ == "__main__":
  sys.exit(main([] if study_cli.in_notebook() else sys.argv[1:]))
