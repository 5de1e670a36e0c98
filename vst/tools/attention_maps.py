r"""Attention maps of a video transformer, drawn over the clip.

  python -m vst.tools.attention_maps --config=configs/vivit_synthetic.py \
      --workdir=workdirs/vivit --out=maps video.mp4

Every attention pattern records, on request, the attention each key token
receives ([N, T', H', W'] per layer and stage; see `vst.layers.attention`),
and patterns with a full token-to-token matrix also record that matrix, from
which attention rollout (Abnar & Zuidema 2020) is computed. The tool applies
the model to the first test view of VIDEO (`vst.inference.video_views`) and
writes into --out, per layer and stage (the layer path with "/" → "."):

  <layer>.png   two rows of the clip's frames: the frames, then the
                head-averaged map upsampled to pixels and overlaid;
  <layer>.gif   the overlaid frames, animated;
  rollout.png, rollout.gif   the same for the rollout, where it is defined
                (joint, space, time and the other `attend_within` patterns
                with one token set per model); elsewhere the tool says why.

Frames are the model's input with its normalisation undone by a per-clip
min-max rescale (whatever the dataset's mean/std), so what is shown is
exactly the view the model saw. Each map is normalised by its own maximum
over the clip. Without --workdir (or with --allow_init) a model without a
checkpoint is initialised from config.train.seed. Flags are parsed as every
vst tool does (`vst.cli`, the parsing of `vst.main`).

From a notebook:

  maps = attention_maps(model, variables, clip)   # {layer: [N, T', H', W']}
  images = heatmaps(frames, maps)                 # {layer: [T, H, W, 3]}
  rolled = attention_rollout(model, variables, clip)  # [T', H', W']
"""

import os
import re
import sys
from typing import Any, Mapping, Sequence

from absl import flags
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
from PIL import Image

from vst import cli
from vst import run_config
from vst.layers import attention as attention_lib



def _flag_values(argv):
  """The tool's flags, on their own FlagValues (see `vst.cli`)."""
  fv = cli.new_flag_values(
      argv, config_help="Path to the run's configs/*.py file.",
      workdir_help="The trained run's directory (its latest checkpoint); "
      "without it the model is initialised from config.train.seed.")
  flags.DEFINE_string("out", None, "Folder for the PNG and GIF files.",
                      flag_values=fv)
  flags.DEFINE_bool("allow_init", False, "Without a checkpoint in --workdir, "
                    "initialise from config.train.seed.", flag_values=fv)
  flags.DEFINE_bool("rollout", True, "Also draw attention rollout where it "
                    "is defined.", flag_values=fv)
  flags.DEFINE_float("alpha", 0.6, "Opacity of the overlaid map.",
                     flag_values=fv)
  flags.DEFINE_integer("scale", 1, "Draw frames this many times larger (for "
                       "small clips such as 32×32 synthetic ones).",
                       flag_values=fv)
  flags.DEFINE_float("fps", 4.0, "Frames per second of the GIFs.",
                     flag_values=fv)
  return fv


# ============================================================================
# Recording.
# ============================================================================


def record(model: nn.Module, variables: Mapping[str, Any], inputs: Any,
           collections: Sequence[str] = (attention_lib.ATTENTION,)
           ) -> tuple[dict, list[str]]:
  """Applies `model` (eval mode) with attention collections mutable.

  Args:
    model: a flax video model, called as `model(inputs, train=False)`.
    variables: its variables ({"params", ...}).
    inputs: a batch of clips [B, T, H, W, C].
    collections: of `attention_lib.ATTENTION`, `ATTENTION_MATRIX`.

  Returns:
    (state, order): the recorded collections as nested dicts of numpy
    arrays, and the recorders' paths ("a/b/weights") in the order they ran,
    which rollout needs (collections come back sorted by name, and stage
    names do not sort in stage order).

  Raises:
    attention_lib.RolloutUndefinedError: ATTENTION_MATRIX was asked of a
      pattern without a full matrix.
  """
  order = []

  def note_order(method, args, kwargs, context):
    if isinstance(context.module, attention_lib.AttentionRecorder):
      path = "/".join(context.module.path)
      if path not in order:
        order.append(path)
    return method(*args, **kwargs)

  def apply(variables, inputs):
    _, state = model.apply(variables, inputs, train=False,
                           mutable=list(collections))
    return dict(state)

  with nn.intercept_methods(note_order):
    state = jax.jit(apply)(variables, inputs)  # A fresh trace: order fills.
  return jax.device_get(state), order


def _flatten(tree: Mapping, leaf_name: str) -> dict[str, np.ndarray]:
  """{recorder path: array} of one collection's nested dict."""
  flat = {}
  for path, value in jax.tree_util.tree_flatten_with_path(tree)[0]:
    keys = [getattr(k, "key", None) for k in path]
    names = [k for k in keys if isinstance(k, str)]
    if names and names[-1] == leaf_name:
      flat["/".join(names[:-1])] = np.asarray(value)
  return flat


def layer_name(recorder_path: str) -> str:
  """A recorder's path without the default recorder name: the stage's path."""
  suffix = "/" + attention_lib.WEIGHTS
  return recorder_path[:-len(suffix)] if recorder_path.endswith(
      suffix) else recorder_path


def _unscan(x: np.ndarray, batch: int, frames: int) -> np.ndarray:
  """[B, N, T', H', W'] of a map recorded inside an `nn.scan` over frames.

  VTN runs its per-frame ViT in a scan over chunks of c frames, so its maps
  stack as [chunks, B·c, N, 1, H', W'] (one-frame grids); frames go back in
  order and the clip's zero padding is dropped.
  """
  chunks, folded, heads = x.shape[:3]
  if x.shape[3] != 1 or folded % batch:
    raise ValueError(
        f"a map of shape {x.shape} is neither [B, N, T', H', W'] nor a scan "
        "over chunks of one-frame grids [chunks, B·c, N, 1, H', W']")
  chunk = folded // batch
  x = x.reshape((chunks, batch, chunk, heads) + x.shape[4:])
  x = x.transpose(1, 3, 0, 2, 4, 5)
  return x.reshape((batch, heads, chunks * chunk) + x.shape[4:])[:, :, :frames]


def received_maps(state: Mapping, batch: int, frames: int
                  ) -> dict[str, np.ndarray]:
  """{layer: [B, N, T', H', W']} from a recorded "attention" collection."""
  maps = {}
  for path, x in _flatten(state.get(attention_lib.ATTENTION, {}),
                          attention_lib.RECEIVED).items():
    maps[layer_name(path)] = _unscan(x, batch, frames) if x.ndim == 6 else x
  return maps


def _natural_key(path: str):
  return [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", path)]


def attention_maps(model: nn.Module, variables: Mapping[str, Any],
                   inputs: Any) -> dict[str, np.ndarray]:
  """{layer path: [N, T', H', W']} attention received, for one clip.

  Args:
    model: the model.
    variables: its variables.
    inputs: one clip [T, H, W, C], or a batch whose first clip is used.

  Returns:
    Per layer and stage (sorted by layer, numbers numerically) the float32
    map of every head on that stage's key grid.
  """
  inputs = _first_clip(inputs)
  state, _ = record(model, variables, inputs)
  maps = received_maps(state, 1, inputs.shape[1])
  return {k: maps[k][0] for k in sorted(maps, key=_natural_key)}


def _first_clip(inputs) -> jax.Array:
  inputs = jnp.asarray(inputs)
  if inputs.ndim == 4:
    return inputs[None]
  if inputs.ndim != 5:
    raise ValueError(f"inputs of shape {inputs.shape}: expected one clip "
                     "[T, H, W, C] or a batch [B, T, H, W, C]")
  return inputs[:1]


# ============================================================================
# Rollout.
# ============================================================================


def stage_matrices(state: Mapping, order: Sequence[str]
                   ) -> list[tuple[str, np.ndarray]]:
  """[(stage, [B, N, L, L])] in the order the stages ran.

  Recorders of one stage (ViViT model 4's two halves of the heads) are
  joined along the heads.
  """
  matrices = _flatten(state.get(attention_lib.ATTENTION_MATRIX, {}),
                      attention_lib.MATRIX)
  stages: dict[str, list[np.ndarray]] = {}
  for path in order:
    if path in matrices:
      stage = path.rsplit("/", 1)[0]
      stages.setdefault(stage, []).append(matrices[path])
  return [(stage, np.concatenate(parts, axis=1))
          for stage, parts in stages.items()]


def rollout(stages: Sequence[tuple[str, np.ndarray]]) -> np.ndarray:
  """Attention rollout: Π over stages of (0.5·mean_heads(A) + 0.5·I).

  Each factor's rows are renormalised; later stages multiply on the left.
  A stage without the class token (TimeSformer's temporal stage, which the
  class token skips) leaves it unchanged: its row and column are the
  identity's.

  Args:
    stages: (name, [B, N, L, L]) in order; L = (1 +) T·H·W.

  Returns:
    [B, L, L].

  Raises:
    ValueError: no stages, or stages over different token sets.
  """
  if not stages:
    raise ValueError("no attention matrices were recorded: the model has no "
                     "attention pattern with a full matrix")
  size = max(m.shape[-1] for _, m in stages)
  result = None
  for name, matrix in stages:
    a = matrix.astype(np.float64).mean(axis=1)
    if a.shape[-1] == size - 1:
      a = np.pad(a, ((0, 0), (1, 0), (1, 0)))
      a[:, 0, 0] = 1.0
    elif a.shape[-1] != size:
      raise ValueError(
          f"attention rollout needs one token set in every layer, but "
          f"{name} attends over {a.shape[-1]} tokens and others over {size}")
    a = 0.5 * a + 0.5 * np.eye(size)
    a /= a.sum(axis=-1, keepdims=True)
    result = a if result is None else a @ result
  return result


def rollout_map(rolled: np.ndarray, grid_shape: Sequence[int],
                has_cls: bool) -> np.ndarray:
  """[B, T', H', W'] from a rollout: the class token's row, else the mean."""
  row = rolled[:, 0, 1:] if has_cls else rolled.mean(axis=1)
  return row.reshape((rolled.shape[0],) + tuple(grid_shape)).astype(np.float32)


def attention_rollout(model: nn.Module, variables: Mapping[str, Any],
                      inputs: Any) -> np.ndarray:
  """[T', H', W'] rollout of one clip on the grid of the last stage's map.

  Raises:
    attention_lib.RolloutUndefinedError: a pattern of the model has no full
      matrix (windowed, pooled, landmark, mixing, trajectory, sliding
      window); the message names it.
    ValueError: the model's stages attend over different token sets.
  """
  inputs = _first_clip(inputs)
  state, order = record(model, variables, inputs,
                        (attention_lib.ATTENTION,
                         attention_lib.ATTENTION_MATRIX))
  return _rollout_of(state, order, inputs.shape[1])[0]


def _rollout_of(state, order, frames) -> np.ndarray:
  stages = stage_matrices(state, order)
  maps = received_maps(state, 1, frames)
  rolled = rollout(stages)
  grid = maps[layer_name(order[-1])].shape[2:]
  has_cls = rolled.shape[-1] == np.prod(grid) + 1
  return rollout_map(rolled, grid, has_cls)


# ============================================================================
# Drawing.
# ============================================================================


def display_frames(clip: np.ndarray) -> np.ndarray:
  """uint8 [T, H, W, 3] of a normalised clip [T, H, W, C], per-clip min-max.

  One channel is shown grey; more than three (stacked flow) show the first
  three.
  """
  clip = np.asarray(clip, np.float32)
  if clip.shape[-1] == 1:
    clip = np.repeat(clip, 3, axis=-1)
  clip = clip[..., :3]
  if clip.shape[-1] == 2:
    clip = np.concatenate([clip, clip[..., :1]], axis=-1)
  low, high = clip.min(), clip.max()
  scaled = (clip - low) / max(high - low, 1e-8)
  return (scaled * 255).round().astype(np.uint8)


def upsample(amap: np.ndarray, shape: Sequence[int]) -> np.ndarray:
  """[T', H', W'] -> [T, H, W]: nearest in time, bilinear in space."""
  frames, height, width = shape
  index = np.minimum(np.arange(frames) * amap.shape[0] // frames,
                     amap.shape[0] - 1)
  return np.stack([
      np.asarray(Image.fromarray(amap[i].astype(np.float32), mode="F").resize(
          (width, height), Image.BILINEAR)) for i in index])


def colormap(values: np.ndarray) -> np.ndarray:
  """uint8 RGB of values in [0, 1]: black → red → yellow → white ("hot")."""
  v = np.clip(values, 0.0, 1.0)[..., None]
  rgb = np.clip(np.concatenate([3 * v, 3 * v - 1, 3 * v - 2], axis=-1), 0, 1)
  return (rgb * 255).astype(np.uint8)


def heatmap(frames: np.ndarray, amap: np.ndarray,
            alpha: float = 0.6) -> np.ndarray:
  """uint8 [T, H, W, 3]: `frames` with the map over them.

  Args:
    frames: uint8 [T, H, W, 3].
    amap: [N, T', H', W'] (heads averaged) or [T', H', W'].
    alpha: opacity of the map where it peaks.
  """
  amap = np.asarray(amap, np.float32)
  if amap.ndim == 4:
    amap = amap.mean(axis=0)
  values = upsample(amap, frames.shape[:3])
  values = values / max(float(values.max()), 1e-12)
  weight = alpha * values[..., None]
  blended = (1 - weight) * frames + weight * colormap(values)
  return blended.round().astype(np.uint8)


def heatmaps(frames: np.ndarray, maps: Mapping[str, np.ndarray],
             alpha: float = 0.6) -> dict[str, np.ndarray]:
  """{layer: uint8 [T, H, W, 3]} overlays of `attention_maps`' output."""
  return {name: heatmap(frames, amap, alpha) for name, amap in maps.items()}


def frame_grid(frames: np.ndarray, overlaid: np.ndarray) -> np.ndarray:
  """uint8 [2H, T·W, 3]: the frames in a row, their overlays below."""
  top = np.concatenate(list(frames), axis=1)
  bottom = np.concatenate(list(overlaid), axis=1)
  return np.concatenate([top, bottom], axis=0)


def save_png_gif(out_dir: str, stem: str, frames: np.ndarray,
                 overlaid: np.ndarray, fps: float) -> list[str]:
  """Writes `<stem>.png` (frame grid) and `<stem>.gif`; returns the paths."""
  png = os.path.join(out_dir, f"{stem}.png")
  gif = os.path.join(out_dir, f"{stem}.gif")
  Image.fromarray(frame_grid(frames, overlaid)).save(png)
  images = [Image.fromarray(f) for f in overlaid]
  images[0].save(gif, save_all=True, append_images=images[1:],
                 duration=int(round(1000 / fps)), loop=0)
  return [png, gif]


def write_maps(out_dir: str, frames: np.ndarray,
               maps: Mapping[str, np.ndarray],
               rolled: np.ndarray | None = None, alpha: float = 0.6,
               fps: float = 4.0) -> list[str]:
  """PNG and GIF per layer (and for the rollout); returns the files."""
  os.makedirs(out_dir, exist_ok=True)
  written = []
  for name, amap in maps.items():
    written += save_png_gif(out_dir, name.replace("/", "."), frames,
                            heatmap(frames, amap, alpha), fps)
  if rolled is not None:
    written += save_png_gif(out_dir, "rollout", frames,
                            heatmap(frames, rolled, alpha), fps)
  return written


# ============================================================================
# Command line.
# ============================================================================


def run(config, workdir: str | None, video: str, out_dir: str,
        allow_init: bool = False, with_rollout: bool = True,
        alpha: float = 0.6, fps: float = 4.0, scale: int = 1) -> list[str]:
  """Draws the attention maps of `video`'s first test view into `out_dir`,
  frames enlarged `scale` times (maps are upsampled to the enlarged frames).

  Returns:
    The files written.

  Raises:
    ConfigError: no checkpoint (and not allow_init), a video the config
      cannot read.
    ValueError: a model that records no attention (a CNN, say).
  """
  from vst import inference  # pylint: disable=g-import-not-at-top
  from vst.data import decode  # pylint: disable=g-import-not-at-top
  loaded = inference.load(config, workdir,
                          allow_init=allow_init or workdir is None)
  try:
    inputs, _ = inference.video_views(config, video)
  except Exception as e:  # pylint: disable=broad-except
    raise decode.sample_failure(video, e) from e
  if isinstance(inputs, dict):
    raise ValueError("attention maps take RGB clips; this config's model "
                     f"reads {', '.join(sorted(inputs))}")
  clip = _first_clip(inputs)
  if scale < 1:
    raise ValueError(f"--scale={scale} is not valid; allowed: integers >= 1")
  frames = display_frames(np.asarray(clip[0]))
  frames = np.repeat(np.repeat(frames, scale, axis=1), scale, axis=2)
  collections = [attention_lib.ATTENTION]
  if with_rollout:
    collections.append(attention_lib.ATTENTION_MATRIX)
  with jax.set_mesh(loaded.mesh):
    try:
      state, order = record(loaded.model, loaded.variables, clip, collections)
    except attention_lib.RolloutUndefinedError as e:
      print(f"rollout: skipped, {e}", file=sys.stderr)
      with_rollout = False
      state, order = record(loaded.model, loaded.variables, clip)
  maps = received_maps(state, 1, clip.shape[1])
  if not maps:
    raise ValueError(
        f"model.name={config.model.name} records no attention maps: it has "
        "no attention pattern (see vst.layers.attention.pattern_names())")
  maps = {k: maps[k][0] for k in sorted(maps, key=_natural_key)}
  rolled = None
  if with_rollout:
    try:
      rolled = _rollout_of(state, order, clip.shape[1])[0]
    except ValueError as e:
      print(f"rollout: skipped, {e}", file=sys.stderr)
  return write_maps(out_dir, frames, maps, rolled, alpha, fps)


def main(argv: Sequence[str]) -> int:
  """The command line: `argv` as sys.argv; returns the exit status."""
  from vst.data import decode  # pylint: disable=g-import-not-at-top
  from vst.errors import ConfigError  # pylint: disable=g-import-not-at-top
  # The run's saved config (and class names) when --workdir has one.
  argv = run_config.with_run_config(argv)
  fv = _flag_values(argv)
  videos = cli.parse_flags(list(argv), fv)[1:]
  cli.initialize_distributed_or_exit(fv)
  if fv.config is None or not fv.out:
    print("error: --out=<folder> is required, and --config=configs/<name>.py "
          "unless --workdir names a run with a saved config.json",
          file=sys.stderr)
    return 2
  if len(videos) != 1:
    print(f"error: name exactly one video file or frame folder, not "
          f"{len(videos)}", file=sys.stderr)
    return 2
  try:
    written = run(fv.config, fv.workdir, videos[0], fv.out, fv.allow_init,
                  fv.rollout, fv.alpha, fv.fps, fv.scale)
  except decode.DecodeError as e:
    print(f"error: {e}", file=sys.stderr)
    return 1
  except (ConfigError, ValueError) as e:
    print(f"error: {e}", file=sys.stderr)
    return 2
  for path in written:
    print(path)
  return 0


if __name__ == "__main__":
  sys.exit(main(sys.argv))
