"""The default config every `configs/*.py` starts from.

Every field that the trainer, evaluator or bench reads exists here with its
default, so a config file only states what differs and a typo in an override
(`--config.train.num_step=5`) fails instead of being ignored.
"""

import ml_collections

from vst.errors import ConfigError
from vst.models import registry as model_registry


def base_config() -> ml_collections.ConfigDict:
  c = ml_collections.ConfigDict()

  c.model = ml_collections.ConfigDict()
  c.model.name = ""
  c.model.variant = ""
  # A config replaces this section with `model_registry.model_config(name,
  # variant)`, which lists every field of the Module so each can be overridden.

  c.dataset = ml_collections.ConfigDict()
  c.dataset.name = "synthetic_motion"
  c.dataset.num_frames = 8
  c.dataset.crop_size = 32
  c.dataset.num_classes = 8
  c.dataset.data_dir = ""
  # Real-video datasets: "files" under data_dir, or "tfds": the prepared
  # TFDS builder tfds_name under data_dir (vst.data.sources.tfds_source).
  c.dataset.source = "files"
  c.dataset.tfds_name = ""
  # Real-video input pipeline (vst.data.video_spec): workers (0: one per
  # core), "thread" or "process" workers, batches made ahead, and the loader
  # ("vst" pools or "grain"), all giving the same batches.
  c.dataset.num_workers = 0
  c.dataset.worker_type = "thread"
  c.dataset.prefetch = 2
  c.dataset.loader = "vst"
  # Real videos: a sample that fails to load is skipped and named in
  # WORKDIR/skipped.jsonl; more than this fraction failing stops the run.
  c.dataset.max_skip_fraction = 0.2

  c.train = ml_collections.ConfigDict()
  c.train.num_steps = 100
  c.train.batch_size = 32        # global, over all hosts and devices
  c.train.seed = 0
  c.train.optimizer = "adamw"    # adamw | sgd
  c.train.learning_rate = 1e-3   # peak, after warmup
  c.train.schedule = "cosine"    # cosine | step | constant
  c.train.warmup_steps = 0
  c.train.step_boundaries = ()   # fractions of num_steps, for schedule=step
  c.train.step_factor = 0.1
  c.train.momentum = 0.9         # sgd
  c.train.nesterov = False
  c.train.b1 = 0.9               # adamw
  c.train.b2 = 0.999
  c.train.weight_decay = 0.0
  c.train.weight_decay_mask = "no_bias_norm"  # all | no_bias_norm
  c.train.grad_clip_norm = 0.0   # 0 disables
  c.train.label_smoothing = 0.0
  c.train.grad_accum_steps = 1
  c.train.log_every_steps = 10
  c.train.eval_every_steps = 0   # 0: evaluate only at the end

  c.eval = ml_collections.ConfigDict()
  c.eval.batch_size = 64
  c.eval.split = "test"
  c.eval.num_clips = 1           # temporal views per video
  c.eval.num_crops = 1           # spatial views per clip
  c.eval.max_examples = 0        # 0: the whole split
  c.eval.aggregation = "mean_softmax"  # how the views of one video combine

  c.mesh = ml_collections.ConfigDict()
  c.mesh.num_devices = 0         # 0: all devices; N: the first N
  c.mesh.data = -1               # -1: all devices not used by `model`
  c.mesh.model = 1
  # How parameters are split (vst.sharding; print with vst.tools.sharding):
  # replicate | fsdp (over 'data') | tp (over 'model') | fsdp+tp.
  c.mesh.param_sharding = "replicate"
  # (regex on the parameter path, logical axis per dimension) pairs tried
  # before vst.sharding.DEFAULT_RULES, e.g. (("head/kernel$", ("embed", None)),).
  c.mesh.sharding_rules = ()
  # Slices (or processes) the data axis spans over the data-centre network;
  # 1: one slice, every axis on the chips' own interconnect.
  c.mesh.dcn_data = 1

  c.checkpoint = ml_collections.ConfigDict()
  c.checkpoint.every_steps = 100
  c.checkpoint.keep = 3

  # Image-to-video initialisation (vst.init_2d): a fresh run (no checkpoint
  # in the workdir) loads a 2D image checkpoint into the video model and
  # writes workdir/init_report.{txt,json}; resuming ignores it.
  c.init_from = ml_collections.ConfigDict()
  c.init_from.path = ""           # "" disables; .npz | .safetensors | .pth
  c.init_from.format = "auto"     # auto | big_vision_npz | timm_safetensors | torchvision
  c.init_from.tubelet_init = "central_frame"  # central_frame | mean | repeat
  c.init_from.inflation = "mean"  # centre | mean | repeat (CNN kernels)
  return c


def synthetic_config(model_name: str, variant: str, *,
                     num_steps: int | None = None,
                     evaluations: int = 3) -> ml_collections.ConfigDict:
  """The shared `synthetic_motion` recipe of every `configs/*_synthetic.py`.

  One budget for all models (8×32×32 clips, 8 motion classes, 600 AdamW steps
  of 32 clips), so their accuracies compare on equal terms; a config changes
  only what its model needs. A model that needs a longer run passes
  `num_steps`; that run evaluates and checkpoints `evaluations` times, evenly
  spaced, so its learning curve is in the log.
  """
  c = base_config()
  c.model = model_registry.model_config(model_name, variant)
  c.dataset.name = "synthetic_motion"
  c.dataset.num_frames = 8
  c.dataset.crop_size = 32
  c.dataset.num_classes = 8
  c.train.num_steps = 600
  c.train.batch_size = 32
  c.train.optimizer = "adamw"
  c.train.learning_rate = 1e-3
  c.train.warmup_steps = 50
  c.train.weight_decay = 0.05
  c.train.grad_clip_norm = 1.0
  c.train.log_every_steps = 25
  c.eval.batch_size = 64
  c.checkpoint.every_steps = 200
  if num_steps is not None:
    if num_steps % evaluations:
      raise ConfigError(f"num_steps={num_steps} is not a multiple of "
                        f"evaluations={evaluations}: the evaluations "
                        "would not be evenly spaced")
    c.train.num_steps = num_steps
    c.train.eval_every_steps = num_steps // evaluations
    c.checkpoint.every_steps = num_steps // evaluations
  return c


def synthetic_streams(c: ml_collections.ConfigDict, *, num_segments: int,
                      new_length: int, modalities=("rgb", "flow"),
                      num_frames: int | None = None
                      ) -> ml_collections.ConfigDict:
  """Switches a synthetic config to `synthetic_motion_streams`: K segments of
  the same videos, each an RGB frame and/or L optical flows made on the fly
  (vst.data's OpenCV routine)."""
  c.dataset.name = "synthetic_motion_streams"
  if num_frames is not None:
    c.dataset.num_frames = num_frames
  c.dataset.modalities = tuple(modalities)
  c.dataset.num_segments = num_segments
  c.dataset.new_length = new_length
  c.dataset.flow_method = "dis"
  # synthetic_motion moves objects crop_size / 16 = 2 px per frame.
  c.dataset.flow_bound = 4.0
  return c


def synthetic_rgb_flow_segments(model_name: str, *, fusion_weights
                                ) -> ml_collections.ConfigDict:
  """A per-frame recurrent model (LRCN, Beyond Short Snippets, Lattice-LSTM)
  on RGB + flow: the 16-frame video cut into 8 segments of one RGB frame and
  one flow each, the streams' probabilities fused by `fusion_weights`
  (rgb, flow)."""
  c = synthetic_streams(synthetic_config(model_name, "tiny"), num_segments=8,
                        new_length=1, num_frames=16)
  c.model.streams = ("rgb", "flow")
  c.model.fusion_weights = tuple(fusion_weights)
  return c
