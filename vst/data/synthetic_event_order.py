"""`synthetic_event_order`: the label is the order of motions over a long video.

A `synthetic_motion` scene (same objects, background and noise) whose motion
changes over time: a video of L = `video_frames` frames is cut into K =
`num_events` equal phases, and in phase k all objects move with motion
`order[k]`, where `order` is a permutation of the first K motions of
`synthetic_motion.MOTIONS` (right, left, down, up). The label is the
permutation's index in lexicographic order, so num_classes = K! and every
class shows the same K motions: only their order tells classes apart.

The model sees the first T = `num_frames` frames of the video. A clip that
shows the motion of only v of the K phases leaves (K - v)! orders possible
(v = K - 1 phases fix the last one), so short clips cannot solve the task:
`accuracy_ceiling` gives the best accuracy any model can reach at a given T,
which the long-range study puts next to what each model reaches. With the
defaults (K = 3, L = 64): T = 8 or 16 sees one phase (ceiling 1/2), T >= 24
sees two (ceiling 1).

Single frames stay class-independent, as in `synthetic_motion`: every
per-frame quantity is stationary along every motion.

`config.dataset` fields beyond synthetic_motion's: num_events (3, 2..4),
video_frames (num_frames; at least num_frames and 2 frames per phase);
num_classes must be num_events!.
"""

import math

from vst.data import registry
from vst.data import synthetic_motion as motion
from vst.errors import ConfigError

NAME = "synthetic_event_order"
DEFAULTS = {"num_events": 3, "video_frames": None}  # None: num_frames
# Four translations: rotation and scaling also work as events, but the
# orders of 5+ motions (120+ classes) are beyond a CPU-sized study.
MAX_EVENTS = 4


def make_spec(config) -> motion.Spec:
  """Validated `Spec` of `config.dataset`; ConfigError names a bad field."""
  fields = motion.shared_fields(NAME, config)
  num_events = config.get("num_events")
  num_events = motion.integer_field(
      NAME, "num_events",
      DEFAULTS["num_events"] if num_events is None else num_events,
      2, MAX_EVENTS)
  video_frames = config.get("video_frames") or fields["num_frames"]
  low = max(fields["num_frames"], 2 * num_events)
  video_frames = motion.integer_field(
      NAME, "video_frames", video_frames, low,
      why=f" (the clip's num_frames={fields['num_frames']} frames are the "
      f"video's first, and each of the {num_events} phases needs 2 frames "
      "to show its motion)")
  num_classes = math.factorial(num_events)
  if config.num_classes != num_classes:
    raise ConfigError(
        f"dataset.num_classes={config.num_classes!r} is not valid for {NAME} "
        f"with num_events={num_events}; allowed: {num_classes} (num_events!, "
        "one class per order of the events)")
  return motion.Spec(num_classes=num_classes, num_appearances=1,
                     num_events=num_events, video_frames=video_frames,
                     **fields)


def class_names(spec: motion.Spec) -> list[str]:
  """"right>left>down", ...: the motions in the order they happen."""
  return [">".join(motion.MOTIONS[m] for m in order)
          for order in motion.event_orders(spec.num_events)]


def visible_events(spec: motion.Spec) -> int:
  """How many phases' motions the clip shows: phases with at least one of
  the clip's T - 1 frame-to-frame transitions."""
  transitions = range(spec.num_frames - 1)
  return len({t * spec.num_events // spec.video_frames for t in transitions})


def accuracy_ceiling(spec: motion.Spec) -> float:
  """The best expected accuracy from the clip: 1 / (orders consistent with
  the v visible phases) = 1 / (K - v)!."""
  hidden = spec.num_events - visible_events(spec)
  return 1.0 / math.factorial(max(hidden, 0))


registry.register(NAME, motion.make_builder(make_spec, class_names))
