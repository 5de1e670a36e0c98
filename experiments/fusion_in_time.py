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
# # Fusion in time: where a network combines frames
#
# The lecture's CNN lessons, measured on one benchmark at one budget.
# `synthetic_motion`'s 8 classes differ only in motion (every single frame has
# the same distribution whatever the class), so a model that cannot combine
# frames is at chance (12.5%). Arms, all trained with the shared recipe
# (600 AdamW steps of 32 clips, 8×32×32 clips) over ≥3 seeds:
#
# * DeepVideo's fusions (Karpathy et al. 2014) on one tiny tower: single
#   frame, early, late and slow fusion;
# * 3D convolution (C3D, 3D ResNet) and (2+1)D convolution (R(2+1)D), tiny;
# * two-stream (Simonyan & Zisserman 2014) on `synthetic_motion_streams`:
#   the RGB stream alone, the optical-flow stream alone, both with their
#   scores averaged;
# * TSN's segment consensus (Wang et al. 2016) and its successors, RGB+flow:
#   average, max, TRN (relational), TLE (bilinear).
#
# The lessons table states, per lesson, whether the measured numbers
# reproduce it; each verdict is computed from the results table.
#
# ```
# python experiments/fusion_in_time.py                # the study (hours on 2 CPU cores)
# python experiments/fusion_in_time.py --smoke        # seconds: checks the pipeline
# python experiments/fusion_in_time.py --scale=paper  # the paper configs' sizes: accelerator only
# ```

# %%
import sys

# The study's folder is on sys.path when it runs as a script or a notebook.
import costs
import plots
import results_file
import runner
import study_cli
import tables
from arms import Arm

STUDY = "fusion_in_time"
CHANCE = 1 / 8
DESCRIPTION = ("Fusion in time: single/early/late/slow fusion, 3D and (2+1)D "
               "convs, RGB/flow/two-stream, TSN consensus, and the lecture "
               "lessons they reproduce.")

# %% [markdown]
# ## The arms
#
# Every arm starts from its `configs/<model>_synthetic.py` (the tiny variant;
# the streams dataset with K=2 segments of an RGB frame and L=3 DIS flows for
# two-stream and TSN) and gets the same budget. A single-modality two-stream
# arm also reads only its modality, so the RGB arm computes no flow.

# %%
def _deepvideo(fusion, **extra):
  return Arm(name=f"{fusion}_fusion" if fusion != "single" else "single_frame",
             model="deepvideo",
             overrides={"model.fusion": fusion, **extra},
             note="deepvideo tiny tower" + (", window 1" if extra else ""))


def _two_stream(name, streams, note=""):
  return Arm(name=name, model="two_stream",
             overrides={"model.streams": streams,
                        "dataset.modalities": streams}, note=note)


def _tsn(consensus, note="", **extra):
  return Arm(name=f"tsn_{consensus}", model="tsn",
             overrides={"model.consensus": consensus, **extra},
             note="TSN tiny ResNet, RGB+flow, K=2 segments" + note)


# TLE's compact bilinear pooling projects every feature-map position to
# `tle_dim` and FFTs it: at the paper's 8192 the TLE arm alone was estimated
# at 2.2 of the study's 5 hours (12-step timings). The paper sketches
# BN-Inception's 1024² bilinear map into 8192 (1/128 of it); the tiny
# ResNet's map is 64² = 4096 entries, which 1024 sketches at 1/4.
TLE_DIM = 1024


ARMS = (
    _deepvideo("single", **{"model.window": 1}),
    _deepvideo("early"),
    _deepvideo("late"),
    _deepvideo("slow"),
    Arm(name="c3d", model="c3d", note="3D conv"),
    Arm(name="resnet3d", model="resnet3d", note="3D conv ResNet"),
    Arm(name="r2plus1d", model="r2plus1d", note="(2+1)D conv ResNet"),
    _two_stream("two_stream_rgb", ("rgb",), "spatial stream alone"),
    _two_stream("two_stream_flow", ("flow",), "temporal stream alone"),
    _two_stream("two_stream_fused", ("rgb", "flow"),
                "softmax scores averaged"),
    _tsn("avg"),
    _tsn("max"),
    _tsn("trn"),
    _tsn("tle", note=f", TLE dim {TLE_DIM} (paper 8192)",
         **{"model.tle_dim": TLE_DIM}),
)

# Smoke mode trains two arms, one per dataset (synthetic_motion and the
# streams dataset with on-the-fly flow), to keep the smoke test fast; the
# full study runs all of ARMS.
SMOKE_ARMS = ("single_frame", "two_stream_flow")

# %% [markdown]
# ## The lessons
#
# Each lesson compares arms' mean accuracies. A verdict is "yes" or "no" when
# the difference is larger than the seeds' spread ((max − min)/2 of both arms
# together) and adds "(within seed spread)" when it is not; "not measured"
# when an arm it needs was not run. "Near chance" means within
# `NEAR_CHANCE` of 1/8.

# %%
NEAR_CHANCE = 0.05


def _best(rows, names):
  present = [rows[n] for n in names if n in rows]
  return max(present, key=lambda r: r["accuracy"]) if present else None


def _compare(a, b, lesson, holds_if_equal=False):
  """Verdict of 'a beats b' (or 'a ≥ b') from two result rows."""
  if a is None or b is None:
    return dict(lesson=lesson, measured="", margin=float("nan"),
                reproduced="not measured")
  margin = a["accuracy"] - b["accuracy"]
  spread = a["accuracy_spread"] + b["accuracy_spread"]
  holds = margin >= 0 if holds_if_equal else margin > 0
  verdict = "yes" if holds else "no"
  if abs(margin) <= spread:
    verdict += " (within seed spread)"
  return dict(lesson=lesson,
              measured=f"{a['arm']} {a['accuracy']:.3f} vs {b['arm']} "
              f"{b['accuracy']:.3f}", margin=margin, reproduced=verdict)


def lessons(result_rows):
  """One row per lecture lesson: the arms it compares, the margin, and
  whether this measurement reproduces it."""
  rows = {r["arm"]: r for r in result_rows}
  out = []
  single = rows.get("single_frame")
  lesson = (f"single frame is near chance on motion-only classes (within "
            f"{NEAR_CHANCE:.2f} of {CHANCE:.3f})")
  if single is None:
    out.append(dict(lesson=lesson, measured="", margin=float("nan"),
                    reproduced="not measured"))
  else:
    margin = single["accuracy"] - CHANCE
    out.append(dict(lesson=lesson,
                    measured=f"single_frame {single['accuracy']:.3f}",
                    margin=margin,
                    reproduced="yes" if abs(margin) <= NEAR_CHANCE else "no"))
  out.append(_compare(rows.get("early_fusion"), rows.get("late_fusion"),
                      "early fusion beats late fusion"))
  out.append(_compare(rows.get("slow_fusion"), rows.get("early_fusion"),
                      "slow fusion beats early fusion (Karpathy et al.)"))
  out.append(_compare(rows.get("two_stream_flow"), rows.get("two_stream_rgb"),
                      "flow alone beats RGB alone on motion"))
  out.append(_compare(rows.get("two_stream_fused"),
                      _best(rows, ("two_stream_rgb", "two_stream_flow")),
                      "two-stream fusion ≥ each stream", holds_if_equal=True))
  out.append(_compare(_best(rows, ("c3d", "resnet3d")),
                      _best(rows, ("single_frame", "early_fusion",
                                   "late_fusion")),
                      "3D ≥ 2D fusion (best 3D conv vs best 2D-conv fusion)",
                      holds_if_equal=True))
  out.append(_compare(rows.get("r2plus1d"), rows.get("resnet3d"),
                      "(2+1)D ≥ 3D at the same ResNet depth (Tran et al.)",
                      holds_if_equal=True))
  out.append(_compare(rows.get("tsn_avg"), rows.get("tsn_max"),
                      "TSN: average consensus ≥ max consensus",
                      holds_if_equal=True))
  out.append(_compare(rows.get("tsn_trn"), rows.get("tsn_avg"),
                      "TRN's relational consensus beats averaging"))
  out.append(_compare(rows.get("tsn_tle"), rows.get("tsn_avg"),
                      "TLE's bilinear consensus beats averaging"))
  return out


# %% [markdown]
# ## The study

# %%
TABLE_COLUMNS = ("arm", "accuracy", "accuracy_spread", "accuracy_std", "seeds",
                 "accuracy_per_seed", "gflops_per_clip", "params",
                 "peak_train_mib", "batch_size", "train_clips_per_s", "steps",
                 "model", "input", "note")
LESSON_COLUMNS = ("lesson", "measured", "margin", "reproduced")


def main(argv=()):
  parser = study_cli.argument_parser(STUDY, DESCRIPTION)
  args = parser.parse_args(list(argv))
  out, runs, arms, rows = runner.run_arms(args, STUDY, ARMS, SMOKE_ARMS)
  lesson_rows = lessons(rows)
  for row in rows:  # Each arm's row names the lessons it took part in.
    row["lessons"] = "; ".join(
        f"{lesson['lesson'].split(' (')[0]}: {lesson['reproduced']}"
        for lesson in lesson_rows if row["arm"] in lesson["measured"].split())
  notes = [
      f"accuracy: test top-1 (chance {CHANCE:.3f}), mean over seeds; "
      "accuracy_spread = (max − min)/2 over seeds",
      "gflops_per_clip: conv/linear/matmul multiply-accumulates (GMACs) of "
      "one clip's (or one video's segments') inference forward pass",
      "peak_train_mib: the train step's peak memory at the run's batch, "
      "fixed + B·per_clip from compiles at batches 1 and 2 (nothing runs)",
      costs.env_note(),
  ]
  tables.write_table(rows, TABLE_COLUMNS + ("lessons",), out / "results",
                     title="Fusion in time", notes=notes)
  tables.write_table(
      lesson_rows, LESSON_COLUMNS, out / "lessons",
      title="Lecture lessons: reproduced by this measurement?",
      notes=["margin: first arm's mean accuracy minus the second's",
             "within seed spread: |margin| ≤ the two arms' spreads summed"])
  plots.plot_bars(rows, "accuracy", out / "accuracy.png",
                  yerr="accuracy_spread", ylabel="test top-1",
                  title="Fusion in time on synthetic_motion", chance=CHANCE)
  plots.plot_scatter(rows, "gflops_per_clip", "accuracy",
                     out / "accuracy_vs_gflops.png", yerr="accuracy_spread",
                     xlabel="GMACs per clip", ylabel="test top-1",
                     title="Accuracy vs cost", chance=CHANCE, logx=True)
  results_file.save_results(args, out, results=rows, lessons=lesson_rows)
  return 0


# %%
if __name__ == "__main__":
  sys.exit(main([] if study_cli.in_notebook() else sys.argv[1:]))
