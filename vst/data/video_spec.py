"""`VideoSpec`: everything `config.dataset` says about reading real videos.

Read once, validated once (`make_video_spec` raises ConfigError naming the
field), then handed, picklable, to data workers.

`config.dataset` fields; all but the first five are optional:
  name, data_dir, num_frames (T), crop_size, num_classes
  min_resize        short side after decoding, px (crop_size · 8/7, i.e.
                    256 for 224 crops)
  sampling, frame_stride, segment_length, target_fps   see vst.data.sampling
  train_crop, scale_jitter, crop_area, corner_scales, flip  see vst.data.spatial
  colour_jitter (0), randaugment (()), mixup_alpha (0), cutmix_alpha (0)
  repeated_augmentation (1)   copies of each sample per epoch, each with its
                              own augmentation (Hoffer et al. 2020)
  normalization     minus_one_to_one | imagenet
  modalities        ("rgb",) | ("flow",) | ("rgb", "flow")
  flow_dir          precomputed flow (python -m vst.tools.flow)
  short_video       pad (repeat the last frame) | skip
  fold              1, 2 or 3 (UCF-101 / HMDB-51 official splits)
  num_workers       data worker threads/processes (0: all cores)
  max_skip_fraction stop the run when more than this fraction of the train
                    samples read so far failed (default 0.2)
  worker_type       thread | process
  loader            vst (vst.data.workers pools) | grain (Grain's map and
                    prefetch; the same batches, vst.data.grain_pipeline)
  prefetch          batches made ahead (2)
  seed              data seed, mixed with train.seed (0)
  source            files | tfds;  tfds_name   builder for source=tfds
"""

import dataclasses
import os
from typing import Optional

from vst.data import colour
from vst.data import mixing
from vst.data import sampling as sampling_lib
from vst.data import spatial
from vst.errors import ConfigError

MODALITIES = (("rgb",), ("flow",), ("rgb", "flow"))
SHORT_VIDEO = ("pad", "skip")
WORKER_TYPES = ("thread", "process")
LOADERS = ("vst", "grain")
SOURCES = ("files", "tfds")


@dataclasses.dataclass(frozen=True)
class VideoSpec:
  name: str
  data_dir: str
  num_classes: int
  crop_size: int
  min_resize: int
  clip: sampling_lib.ClipSampling
  train_crop: spatial.TrainCrop
  colour_jitter: Optional[colour.ColourJitter]
  randaugment: Optional[colour.RandAugment]
  mixing: Optional[mixing.Mixing]
  repeats: int
  normalization: str
  modalities: tuple[str, ...]
  flow_dir: str
  short_video: str
  fold: int
  num_workers: int
  worker_type: str
  loader: str
  prefetch: int
  seed: int
  source: str
  tfds_name: str
  max_skip_fraction: float = 0.2

  @property
  def num_frames(self) -> int:
    return self.clip.num_frames


def _choice(field: str, value, allowed):
  if value not in allowed:
    raise ConfigError(f"dataset.{field}={value!r} is not valid; allowed: "
                      f"{', '.join(map(str, allowed))}")
  return value


def _int(field: str, value, low: int) -> int:
  if not isinstance(value, int) or isinstance(value, bool) or value < low:
    raise ConfigError(f"dataset.{field}={value!r} is not valid; allowed: "
                      f"integers >= {low}")
  return value


def make_video_spec(config) -> VideoSpec:
  crop = _int("crop_size", config.crop_size, 1)
  min_resize = config.get("min_resize") or int(round(crop * 8 / 7))
  _int("min_resize", min_resize, 1)
  if min_resize < crop:
    raise ConfigError(f"dataset.min_resize={min_resize} is not valid; "
                      f"allowed: >= dataset.crop_size={crop}")
  modalities = tuple(config.get("modalities") or ("rgb",))
  _choice("modalities", modalities, MODALITIES)
  flow_dir = config.get("flow_dir") or ""
  if "flow" in modalities and not flow_dir:
    raise ConfigError("dataset.flow_dir is empty but dataset.modalities="
                      f"{modalities} reads flow; precompute it with python -m "
                      "vst.tools.flow --src VIDEO_DIR --dst FLOW_DIR and set "
                      "--config.dataset.flow_dir=FLOW_DIR")
  workers = config.get("num_workers")
  if not workers:
    workers = os.cpu_count() or 1
  mix = mixing.make_mixing(config)
  return VideoSpec(
      name=config.name,
      data_dir=os.path.expanduser(config.get("data_dir") or ""),
      num_classes=_int("num_classes", config.num_classes, 1),
      crop_size=crop,
      min_resize=int(min_resize),
      clip=sampling_lib.make_clip_sampling(config),
      train_crop=spatial.make_train_crop(config),
      colour_jitter=colour.make_colour_jitter(config),
      randaugment=colour.make_randaugment(config),
      mixing=mix,
      repeats=_int("repeated_augmentation",
                   config.get("repeated_augmentation") or 1, 1),
      normalization=_choice("normalization",
                            config.get("normalization") or "minus_one_to_one",
                            colour.NORMALIZATIONS),
      modalities=modalities,
      flow_dir=os.path.expanduser(flow_dir),
      short_video=_choice("short_video", config.get("short_video") or "pad",
                          SHORT_VIDEO),
      fold=config.get("fold") or 1,
      num_workers=_int("num_workers", workers, 1),
      worker_type=_choice("worker_type", config.get("worker_type") or "thread",
                          WORKER_TYPES),
      loader=_choice("loader", config.get("loader") or "vst", LOADERS),
      prefetch=_int("prefetch", 2 if config.get("prefetch") is None
                    else config.get("prefetch"), 0),
      seed=_int("seed", config.get("seed") or 0, 0),
      source=_choice("source", config.get("source") or "files", SOURCES),
      tfds_name=config.get("tfds_name") or "",
      max_skip_fraction=_fraction(
          "max_skip_fraction", config.get("max_skip_fraction", 0.2)),
  )


def _fraction(field: str, value) -> float:
  if isinstance(value, bool) or not isinstance(value, (int, float)) or not (
      0.0 <= value <= 1.0):
    raise ConfigError(f"dataset.{field}={value!r} is not valid; allowed: a "
                      "number in [0, 1]")
  return float(value)


def input_spec(spec: VideoSpec):
  """Per-example "inputs" shape: (T, S, S, C), or a dict of them."""
  shapes = {"rgb": (spec.num_frames, spec.crop_size, spec.crop_size, 3),
            "flow": (spec.num_frames, spec.crop_size, spec.crop_size, 2)}
  if len(spec.modalities) == 1:
    return shapes[spec.modalities[0]]
  return {m: shapes[m] for m in spec.modalities}
