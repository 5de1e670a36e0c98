"""What an arm of a study is, and the config each of its runs trains.

An arm is one model configuration; every arm starts from its model's
`configs/<model>_synthetic.py` (else the shared recipe) and gets the shared
recipe's budget, so that differences between arms are the arms'. Smoke mode
and `--scale=paper` change the clip, batch and model size here and nowhere
else.
"""

import dataclasses
import functools
import importlib.util
import pathlib
from typing import Any, Mapping

CONFIGS = pathlib.Path(__file__).resolve().parent.parent / "configs"

# Smoke mode: enough to exercise every code path of a study in seconds.
SMOKE_FRAMES = 4
SMOKE_CROP = 16
SMOKE_TEST_SIZE = 32
SMOKE_BATCH = 8
SMOKE_STEPS = 2
# Smoke mode checks the pipeline, not the model: transformers keep one block
# per encoder, which makes their compiles (most of a smoke run) ~3× faster.
SMOKE_MODEL = {"num_layers": 1, "temporal_layers": 1}


@dataclasses.dataclass(frozen=True)
class Arm:
  """One configuration of a study.

  Attributes:
    name: row label and workdir name (no slashes).
    model: `model.name`; `configs/<model>_synthetic.py` is the starting config
      when it exists (else the shared recipe, `synthetic_config`).
    variant: `model.variant`, replaced by the paper config's at --scale=paper.
    overrides: dotted config fields ("model.fusion", "dataset.modalities")
      and their values, applied after the base config; a misspelt field
      raises, since the config is locked.
    note: how the arm differs from the paper's setting, when it does; it goes
      into the table so a reader sees it next to the number.
    num_frames: the clip length T, set last (over smoke mode's and the paper
      config's): for studies whose variable is T.
  """
  name: str
  model: str
  variant: str = "tiny"
  overrides: Mapping[str, Any] = dataclasses.field(default_factory=dict)
  note: str = ""
  num_frames: int | None = None


def _load_config_file(path: pathlib.Path):
  spec = importlib.util.spec_from_file_location(path.stem, path)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module.get_config()


def base_config(model: str, variant: str):
  """`configs/<model>_synthetic.py`'s config, else the shared recipe.

  The per-model config files hold what a model needs on synthetic_motion
  (the streams dataset of two_stream and tsn, ViViT's from-scratch head and
  tubelet init), so an arm starts from them; the study then resets the
  budget so that every arm trains for the same steps.
  """
  from vst.config_base import synthetic_config  # pylint: disable=g-import-not-at-top
  path = CONFIGS / f"{model}_synthetic.py"
  c = _load_config_file(path) if path.exists() else synthetic_config(
      model, variant)
  c.model.variant = variant
  return c


@functools.cache
def paper_setting(model: str) -> dict:
  """Variant, clip shape and batch of `model`'s paper config
  (configs/<model>_k400.py, else _ucf101.py)."""
  for suffix in ("k400", "ucf101"):
    path = CONFIGS / f"{model}_{suffix}.py"
    if path.exists():
      c = _load_config_file(path)
      return dict(variant=c.model.variant, num_frames=c.dataset.num_frames,
                  crop_size=c.dataset.crop_size,
                  batch_size=c.train.batch_size, source=path.name)
  raise SystemExit(f"error: --scale=paper: no configs/{model}_k400.py or "
                   f"configs/{model}_ucf101.py gives {model}'s paper size")


def set_field(config, dotted: str, value) -> None:
  """config.<dotted> = value; raises a readable error on a misspelt field."""
  *path, leaf = dotted.split(".")
  node = config
  for key in path:
    node = node[key]
  try:
    node[leaf] = value
  except (AttributeError, KeyError) as e:
    raise SystemExit(f"error: arm override {dotted}={value!r}: {e}") from e


def arm_config(arm: Arm, *, steps: int | None, seed: int, smoke: bool = False,
               scale: str = "synthetic"):
  """The config of one (arm, seed) run.

  Every arm gets the shared recipe's budget (steps × batch of clips, AdamW,
  cosine with warmup), evaluated once at the end, so differences between arms
  are the arms'. `steps=None` keeps the recipe's 600 (not a model config's own
  longer schedule: the budget must match).
  """
  variant = arm.variant
  paper = paper_setting(arm.model) if scale == "paper" else None
  if paper:
    variant = paper["variant"]
  c = base_config(arm.model, variant)
  for dotted, value in arm.overrides.items():
    set_field(c, dotted, value)
  from vst.config_base import synthetic_config  # pylint: disable=g-import-not-at-top
  recipe = synthetic_config(arm.model, variant).train
  c.train.num_steps = int(steps if steps is not None else
                          SMOKE_STEPS if smoke else recipe.num_steps)
  c.train.seed = int(seed)
  c.train.warmup_steps = min(int(recipe.warmup_steps), c.train.num_steps // 10)
  c.train.eval_every_steps = 0
  c.checkpoint.every_steps = max(1, min(200, c.train.num_steps))
  if paper:
    c.dataset.num_frames = paper["num_frames"]
    c.dataset.crop_size = paper["crop_size"]
    c.train.batch_size = paper["batch_size"]
  if smoke:
    c.dataset.num_frames = SMOKE_FRAMES
    c.dataset.crop_size = SMOKE_CROP
    c.dataset.test_size = SMOKE_TEST_SIZE
    c.train.batch_size = SMOKE_BATCH
    c.eval.batch_size = SMOKE_TEST_SIZE
    # One window per step, so the throughput of step 2 (the first one after
    # compilation) is measured.
    c.train.log_every_steps = 1
    for field, value in SMOKE_MODEL.items():
      if field in c.model:
        c.model[field] = value
    _fit_snippets(c)
  if arm.num_frames is not None:
    c.dataset.num_frames = int(arm.num_frames)
  return c


def _fit_snippets(config) -> None:
  """Shortens the flow stacks of a segment-sampled dataset to fit the smoke
  clip: K segments of L+1 frames need K·(L+1) ≤ T. The model's `new_length`
  (its flow input channels) follows the dataset's."""
  d = config.dataset
  if "new_length" not in d or "num_segments" not in d:
    return
  longest = d.num_frames // d.num_segments - 1
  if d.new_length > longest:
    if longest < 1:
      raise SystemExit(f"error: {d.num_segments} segments do not fit in "
                       f"{d.num_frames} smoke frames")
    d.new_length = longest
    if "new_length" in config.model:
      config.model.new_length = longest
