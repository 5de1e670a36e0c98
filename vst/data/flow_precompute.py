"""Precomputing optical flow for every video under a folder (one job each).

`plan` lists the videos and where their flow goes, skipping finished ones
(so an interrupted run resumes); `compute_one` is what a worker process does
for one video: decode frame by frame, flow between consecutive frames,
quantised images written as they come, flow.json last.
"""

import dataclasses
import os

import cv2

from vst.data import decode
from vst.data import flow_store
from vst.data import optical_flow
from vst.data.sources import index as index_lib


@dataclasses.dataclass(frozen=True)
class FlowJob:
  video: str
  folder: str
  method: str
  warp: bool
  bound: float
  min_resize: int
  ext: str


def plan(src: str, dst: str, method: str, warp: bool, bound: float,
         min_resize: int, ext: str) -> tuple[list[FlowJob], int]:
  """(jobs still to do, number already done) for every video under `src`."""
  method = optical_flow.resolve_method(method)
  jobs, done = [], 0
  for path in index_lib.list_videos(os.path.abspath(src)):
    rel = os.path.relpath(path, os.path.abspath(src))
    folder = os.path.join(dst, os.path.splitext(rel)[0])
    if flow_store.is_complete(folder):
      done += 1
      continue
    jobs.append(FlowJob(path, folder, method, warp, bound, min_resize, ext))
  return jobs, done


def compute_one(job: FlowJob) -> tuple[str, str]:
  """("ok" | "failed: why", video) after writing one video's flow."""
  cv2.setNumThreads(1)  # Parallelism is across videos.
  flow_fn = optical_flow.make_flow_fn(job.method)
  os.makedirs(job.folder, exist_ok=True)
  prev, count, fps = None, 0, 0.0
  try:
    if not decode.is_frame_folder(job.video):
      fps = decode.video_info(job.video).fps
    for frame in decode.iter_frames(job.video, job.min_resize or None):
      g = optical_flow.grey(frame)
      if prev is not None:
        flow = (optical_flow.warped_flow(flow_fn, prev, g) if job.warp
                else flow_fn(prev, g))
        flow_store.write_flow_image(job.folder, count, flow, job.bound,
                                    job.ext)
        count += 1
      prev = g
  except (decode.DecodeError, OSError) as e:
    return f"failed: {e}", job.video
  if count == 0:
    return "failed: fewer than two frames", job.video
  flow_store.finish_flow_folder(
      job.folder, count, job.bound,
      {"method": job.method, "warped": job.warp, "fps": fps,
       "video": job.video, "min_resize": job.min_resize}, job.ext)
  return "ok", job.video
