"""Optical flow between consecutive frames with OpenCV, plain or warped.

Methods (`METHODS`): `tvl1` (TV-L1, Zach et al. 2007, what two-stream and
TSN used; needs opencv-contrib's cv2.optflow), `dis` (Dense Inverse Search,
Kroeger et al. 2016, fast and close to TV-L1 in quality), `farneback`.
`auto` picks the first available of tvl1, dis, farneback.

Warped flow (TSN): camera motion is estimated as a homography between the two
frames from the flow's own correspondences (RANSAC keeps the dominant, i.e.
background, motion), the second frame is warped back by it, and flow is
computed again, so what remains is mostly the actors' motion.

RGB difference (TSN's cheap motion cue) is `rgb_difference`.

Everything works on uint8 RGB frames [H, W, 3] and returns float32 [H, W, 2]
(x right, y down) in pixels.
"""

from typing import Callable

import cv2
import numpy as np

METHODS = ("auto", "tvl1", "dis", "farneback")


def available_methods() -> list[str]:
  out = []
  if hasattr(cv2, "optflow") and hasattr(cv2.optflow,
                                         "DualTVL1OpticalFlow_create"):
    out.append("tvl1")
  if hasattr(cv2, "DISOpticalFlow_create"):
    out.append("dis")
  out.append("farneback")
  return out


def resolve_method(method: str) -> str:
  """`method`, or for `auto` the best available; ValueError if unavailable."""
  available = available_methods()
  if method == "auto":
    return available[0]
  if method not in available:
    raise ValueError(f"--method={method!r} is not available in this OpenCV "
                     f"build ({cv2.__version__}); allowed: "
                     f"{', '.join(['auto'] + available)}"
                     + (" (tvl1 needs opencv-contrib-python)"
                        if method == "tvl1" else ""))
  return method


def make_flow_fn(method: str) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
  """flow(prev_grey, next_grey) -> float32 [H, W, 2] for one method."""
  method = resolve_method(method)
  if method == "tvl1":
    tvl1 = cv2.optflow.DualTVL1OpticalFlow_create()
    return lambda a, b: tvl1.calc(a, b, None)
  if method == "dis":
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    return lambda a, b: dis.calc(a, b, None)
  return lambda a, b: cv2.calcOpticalFlowFarneback(
      a, b, None, pyr_scale=0.5, levels=3, winsize=15, iterations=3,
      poly_n=5, poly_sigma=1.2, flags=0)


def grey(frame: np.ndarray) -> np.ndarray:
  return cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)


def camera_homography(flow: np.ndarray, step: int = 8):
  """3x3 homography mapping frame-1 points to frame-2 points, fitted with
  RANSAC to a grid of flow correspondences; None if it cannot be fitted."""
  h, w = flow.shape[:2]
  ys, xs = np.mgrid[step // 2:h:step, step // 2:w:step]
  src = np.stack([xs.ravel(), ys.ravel()], -1).astype(np.float32)
  dst = src + flow[ys.ravel(), xs.ravel()]
  if len(src) < 8:
    return None
  matrix, _ = cv2.findHomography(src, dst, cv2.RANSAC, 1.0)
  return matrix


def warped_flow(flow_fn, prev_grey: np.ndarray, next_grey: np.ndarray):
  """Flow after removing the camera motion (see module doc)."""
  flow = flow_fn(prev_grey, next_grey)
  matrix = camera_homography(flow)
  if matrix is None:
    return flow
  h, w = prev_grey.shape
  # next(H x) ≈ prev(x) for the background: sample next at H x.
  stabilised = cv2.warpPerspective(next_grey, matrix, (w, h),
                                   flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                                   borderMode=cv2.BORDER_REPLICATE)
  return flow_fn(prev_grey, stabilised)


def video_flow(frames: np.ndarray, method: str = "auto",
               warp: bool = False) -> list[np.ndarray]:
  """n-1 flow fields float32 [H, W, 2] of uint8 RGB frames [n, H, W, 3]."""
  flow_fn = make_flow_fn(method)
  greys = [grey(f) for f in frames]
  out = []
  for a, b in zip(greys[:-1], greys[1:]):
    out.append((warped_flow(flow_fn, a, b) if warp else flow_fn(a, b))
               .astype(np.float32))
  return out


def rgb_difference(frames: np.ndarray) -> np.ndarray:
  """float32 [T-1, H, W, 3] differences of consecutive frames, in [-1, 1]."""
  x = frames.astype(np.float32) / 255.0
  return x[1:] - x[:-1]
