r"""Input-pipeline throughput: decoded-and-augmented training clips per second.

  python -m vst.data.bench_input [--videos 16] [--video_frames 80] \
      [--height 256] [--width 340] [--num_frames 32] [--frame_stride 2] \
      [--crop_size 224] [--batch_size 8] [--batches 6] [--workers 0] \
      [--worker_type thread|process] [--train_crop scale_jitter] [--codec libx264]

Writes `--videos` synthetic textured videos (a realistic decoding load: flat
frames decode unrealistically fast) into a temporary class-per-folder tree,
then times the `video_folder` train iterator, the exact code path training
uses (seek + decode + short-side resize + crop + flip + normalise + batch),
after one warm-up batch. `measure` is the function a model benchmark can
call to compare with its train-step consumption.
"""

import argparse
import os
import sys
import tempfile
import time

import ml_collections

from vst.data import registry
from vst.data import video_writer


def make_videos(root: str, num_videos: int, num_frames: int, height: int,
                width: int, codec: str, num_classes: int = 2) -> None:
  for i in range(num_videos):
    folder = os.path.join(root, "train", f"class{i % num_classes}")
    os.makedirs(folder, exist_ok=True)
    frames = video_writer.textured_frames(num_frames, height, width, seed=i)
    video_writer.write_video(os.path.join(folder, f"video{i}.mp4"), frames,
                             fps=25, codec=codec, gop=25, bframes=2)


def dataset_config(data_dir: str, args) -> ml_collections.ConfigDict:
  c = ml_collections.ConfigDict()
  c.name = "video_folder"
  c.data_dir = data_dir
  c.num_classes = 2
  c.num_frames = args.num_frames
  c.frame_stride = args.frame_stride
  c.crop_size = args.crop_size
  c.min_resize = args.height if args.height < args.width else args.width
  c.train_crop = args.train_crop
  c.num_workers = args.workers
  c.worker_type = args.worker_type
  c.loader = args.loader
  c.prefetch = 2
  return c


def measure(dataset_config_, batch_size: int, batches: int) -> dict:
  """{"clips_per_s", "seconds", "clips"} of the train iterator of a dataset
  config, timed over `batches` batches after one warm-up batch."""
  builder = registry.get_dataset(dataset_config_.name)
  iterator = builder.train(dataset_config_, batch_size, seed=0)
  try:
    next(iterator)  # Warm-up: pools start, codecs load, caches fill.
    start = time.perf_counter()
    for _ in range(batches):
      next(iterator)
    seconds = time.perf_counter() - start
  finally:
    if hasattr(iterator, "close"):
      iterator.close()
  clips = batches * batch_size
  return {"clips_per_s": clips / seconds, "seconds": seconds, "clips": clips}


def main(argv=None) -> int:
  parser = argparse.ArgumentParser(prog="python -m vst.data.bench_input")
  parser.add_argument("--videos", type=int, default=16)
  parser.add_argument("--video_frames", type=int, default=80)
  parser.add_argument("--height", type=int, default=256)
  parser.add_argument("--width", type=int, default=340)
  parser.add_argument("--codec", default="libx264")
  parser.add_argument("--num_frames", type=int, default=32)
  parser.add_argument("--frame_stride", type=int, default=2)
  parser.add_argument("--crop_size", type=int, default=224)
  parser.add_argument("--train_crop", default="scale_jitter")
  parser.add_argument("--batch_size", type=int, default=8)
  parser.add_argument("--batches", type=int, default=6)
  parser.add_argument("--workers", type=int, default=0, help="0: all cores")
  parser.add_argument("--worker_type", default="thread",
                      choices=("thread", "process"))
  parser.add_argument("--loader", default="vst", choices=("vst", "grain"),
                      help="vst worker pools or Grain (the same batches)")
  args = parser.parse_args(sys.argv[1:] if argv is None else argv)
  with tempfile.TemporaryDirectory(prefix="vst_bench_input_") as root:
    t0 = time.perf_counter()
    make_videos(root, args.videos, args.video_frames, args.height, args.width,
                args.codec)
    print(f"wrote {args.videos} videos of {args.video_frames} frames "
          f"{args.height}x{args.width} ({args.codec}) in "
          f"{time.perf_counter() - t0:.1f}s", file=sys.stderr)
    result = measure(dataset_config(root, args), args.batch_size,
                     args.batches)
  cores = os.cpu_count()
  print(f"input pipeline: {result['clips_per_s']:.2f} clips/s "
        f"({args.num_frames}x{args.crop_size}² clips, stride "
        f"{args.frame_stride}, {args.train_crop}, {args.loader} loader, "
        f"{args.worker_type} workers="
        f"{args.workers or cores}, {cores} cores; {result['clips']} clips in "
        f"{result['seconds']:.1f}s)")
  return 0


if __name__ == "__main__":
  sys.exit(main())
