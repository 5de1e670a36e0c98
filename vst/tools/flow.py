r"""Precompute optical flow for every video under a folder.

  python -m vst.tools.flow --src VIDEO_DIR --dst FLOW_DIR \
      [--method auto|tvl1|dis|farneback] [--warp] [--workers N] \
      [--bound 20] [--min_resize 256] [--ext .jpg]

Writes FLOW_DIR/<relative path of the video without extension>/ with TSN-style
quantised x_/y_ images and flow.json (vst.data.flow_store). Videos whose
folder already has flow.json are skipped, so rerunning the same command
after an interruption resumes. Point a config at the result with
--config.dataset.flow_dir=FLOW_DIR and dataset.modalities=("flow",) or
("rgb", "flow").
"""

import argparse
import multiprocessing
import sys

import tqdm

from vst.data import flow_precompute
from vst.data import optical_flow


def parse_args(argv):
  parser = argparse.ArgumentParser(
      prog="python -m vst.tools.flow",
      description=__doc__.split("\n\n")[0].strip("r\"\n "))
  parser.add_argument("--src", required=True, help="folder of videos")
  parser.add_argument("--dst", required=True, help="folder for the flow")
  parser.add_argument("--method", default="auto", choices=optical_flow.METHODS)
  parser.add_argument("--warp", action="store_true",
                      help="warped flow: remove camera motion first")
  parser.add_argument("--workers", type=int, default=0,
                      help="processes (0: all cores)")
  parser.add_argument("--bound", type=float, default=20.0,
                      help="flow clipped to ±bound px before quantising")
  parser.add_argument("--min_resize", type=int, default=256,
                      help="short side of the frames flow is computed on "
                           "(0: the video's own size)")
  parser.add_argument("--ext", default=".jpg", choices=(".jpg", ".png"))
  return parser.parse_args(argv)


def main(argv=None) -> int:
  args = parse_args(sys.argv[1:] if argv is None else argv)
  try:
    jobs, done = flow_precompute.plan(args.src, args.dst, args.method,
                                      args.warp, args.bound, args.min_resize,
                                      args.ext)
  except ValueError as e:
    print(f"error: {e}", file=sys.stderr)
    return 2
  total = len(jobs) + done
  if not total:
    print(f"error: --src={args.src} holds no videos or frame folders",
          file=sys.stderr)
    return 2
  workers = args.workers or multiprocessing.cpu_count()
  method = jobs[0].method if jobs else args.method
  print(f"flow ({method}{', warped' if args.warp else ''}) for {total} "
        f"videos: {done} already done, {len(jobs)} to do, {workers} workers",
        file=sys.stderr)
  failed = []
  bar = tqdm.tqdm(total=total, initial=done, unit="video", file=sys.stderr)
  if workers == 1:
    results = map(flow_precompute.compute_one, jobs)
    pool = None
  else:
    pool = multiprocessing.get_context("spawn").Pool(workers)
    results = pool.imap_unordered(flow_precompute.compute_one, jobs)
  try:
    for status, video in results:
      if status != "ok":
        failed.append(f"{video}: {status}")
      bar.update(1)
  finally:
    bar.close()
    if pool is not None:
      pool.terminate()
  for line in failed[:20]:
    print(f"skipped {line}", file=sys.stderr)
  print(f"done: {total - len(failed)} of {total} videos have flow in "
        f"{args.dst}; {len(failed)} failed", file=sys.stderr)
  return 1 if failed and len(failed) == len(jobs) else 0


if __name__ == "__main__":
  sys.exit(main())
