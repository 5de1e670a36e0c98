"""Precomputed optical flow on disk, quantised the TSN way.

One folder per video, named after the video's stem and mirroring its place
under the video root:

  <flow_dir>/<rel/dir>/<stem>/x_00000.jpg, y_00000.jpg, ...   uint8 images
  <flow_dir>/<rel/dir>/<stem>/flow.json   {"bound": 20.0, "num_frames": n-1,
                                            "method": "dis", ...}

Flow i is the motion from frame i to frame i+1, so a video of n frames has
n-1 flow fields. A component v in [-bound, bound] px is stored as
round((v + bound) * 255 / (2 * bound)); larger motions are clipped (TSN uses
bound 20). `flow.json` is written last, by rename, so a folder without it is
unfinished and the flow command redoes it.
"""

import functools
import json
import os
from typing import Optional, Sequence

import cv2
import numpy as np

from vst.data.decode import DecodeError
from vst.data.sources.index import FLOW_MARKER

DEFAULT_BOUND = 20.0


def quantize(flow: np.ndarray, bound: float) -> np.ndarray:
  """uint8 [..., 2] from float flow [..., 2] in px."""
  q = (np.clip(flow, -bound, bound) + bound) * (255.0 / (2 * bound))
  return np.round(q).astype(np.uint8)


def dequantize(q: np.ndarray, bound: float) -> np.ndarray:
  return q.astype(np.float32) * np.float32(2 * bound / 255.0) - np.float32(bound)


def image_names(i: int, ext: str = ".jpg") -> tuple[str, str]:
  return f"x_{i:05d}{ext}", f"y_{i:05d}{ext}"


def write_flow_image(folder: str, i: int, flow: np.ndarray, bound: float,
                     ext: str = ".jpg", jpeg_quality: int = 95) -> None:
  """Writes flow field `i` (float [H, W, 2] px) as two uint8 images."""
  params = [cv2.IMWRITE_JPEG_QUALITY, jpeg_quality] if ext == ".jpg" else []
  q = quantize(flow, bound)
  for channel, name in enumerate(image_names(i, ext)):
    if not cv2.imwrite(os.path.join(folder, name), q[..., channel], params):
      raise OSError(f"cannot write {os.path.join(folder, name)}")


def finish_flow_folder(folder: str, num_frames: int, bound: float,
                       meta: dict, ext: str = ".jpg") -> None:
  """Writes flow.json last, atomically: the folder is complete from now."""
  info = dict(meta, bound=float(bound), num_frames=int(num_frames), ext=ext)
  tmp = os.path.join(folder, FLOW_MARKER + ".tmp")
  with open(tmp, "w") as f:
    json.dump(info, f)
  os.replace(tmp, os.path.join(folder, FLOW_MARKER))


def write_flow_folder(folder: str, flows: Sequence[np.ndarray],
                      bound: float, meta: dict, ext: str = ".jpg") -> None:
  """Writes float [H, W, 2] `flows` to `folder`, then its flow.json."""
  os.makedirs(folder, exist_ok=True)
  for i, flow in enumerate(flows):
    write_flow_image(folder, i, flow, bound, ext)
  finish_flow_folder(folder, len(flows), bound, meta, ext)


def is_complete(folder: str) -> bool:
  return os.path.exists(os.path.join(folder, FLOW_MARKER))


@functools.lru_cache(maxsize=65536)
def flow_meta(folder: str) -> dict:
  try:
    with open(os.path.join(folder, FLOW_MARKER)) as f:
      return json.load(f)
  except (OSError, json.JSONDecodeError) as e:
    raise DecodeError(f"no finished flow in {folder}: {e}") from e


@functools.lru_cache(maxsize=8)
def find_flow(root: str) -> dict[str, str]:
  """stem -> flow folder of every finished flow folder under `root`."""
  found = {}
  for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
    dirnames.sort()
    if FLOW_MARKER in filenames:
      found.setdefault(os.path.basename(dirpath), dirpath)
      dirnames[:] = []
  return found


def read_flow(folder: str, indices: Sequence[int],
              min_resize: Optional[int] = None) -> np.ndarray:
  """float32 [len(indices), H, W, 2] flow in px (at the stored resolution,
  or with the short side scaled to `min_resize`; flow values are scaled by
  the same factor, so they stay in pixels of the returned frames)."""
  meta = flow_meta(folder)
  n = int(meta["num_frames"])
  out, cache = [], {}
  for i in indices:
    i = int(i)
    if not 0 <= i < n:
      raise DecodeError(f"flow {i} asked of {folder}, which has {n}")
    if i not in cache:
      pair = []
      for name in image_names(i, meta.get("ext", ".jpg")):
        image = cv2.imread(os.path.join(folder, name), cv2.IMREAD_GRAYSCALE)
        if image is None:
          raise DecodeError(f"cannot read {os.path.join(folder, name)}")
        pair.append(image)
      cache[i] = np.stack(pair, -1)
    out.append(cache[i])
  flow = dequantize(np.stack(out), float(meta["bound"]))
  if min_resize:
    h, w = flow.shape[1:3]
    factor = min_resize / min(h, w)
    if abs(factor - 1) > 1e-6:
      size = (max(1, round(w * factor)), max(1, round(h * factor)))
      flow = np.stack([cv2.resize(f, size, interpolation=cv2.INTER_LINEAR)
                       for f in flow]) * np.float32(factor)
  return flow
