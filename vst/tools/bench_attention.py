"""Times the attention kernel's implementations and reads their memory.

  python -m vst.tools.bench_attention [LENGTH ...] [--blocks=256] [--rounds=3]
      [--batch=1]

For each sequence length L (queries and keys, L = S), ViViT-B's heads
(N = 12, Dh = 64) in float32 on the default backend: forward and
forward+backward milliseconds (minimum over rounds, the implementations
taking turns in one process, since a shared machine's speed drifts) and the
compiled programs' temporary memory (`memory_analysis().temp_size_in_bytes`)
of XLA's attention and of `vst.layers.attention_blockwise` at each block
size. The memory is what the backward of a long clip keeps; the time is this
machine's.
"""

import argparse
import functools
import sys
import time

import jax

from vst.layers.attention_blockwise import blockwise_attention
from vst.layers.attention_kernels import xla_attention

HEADS, HEAD_DIM = 12, 64
MIB = 2 ** 20


def implementations(block_sizes) -> dict:
  impls = {"xla": xla_attention}
  for block in block_sizes:
    impls[f"blockwise{block}"] = functools.partial(
        blockwise_attention, block_q=block, block_k=block)
  return impls


def _compile(attend, q, k, v, cotangent):
  forward = jax.jit(attend)
  grad = jax.jit(jax.grad(
      lambda q, k, v: (attend(q, k, v) * cotangent).sum(), argnums=(0, 1, 2)))
  return forward.lower(q, k, v).compile(), grad.lower(q, k, v).compile()


def _seconds(compiled, args) -> float:
  start = time.perf_counter()
  jax.block_until_ready(compiled(*args))
  return time.perf_counter() - start


def measure(length: int, impls: dict, rounds: int = 3, batch: int = 1
            ) -> list[dict]:
  """One row per implementation at L = S = `length`."""
  keys = jax.random.split(jax.random.key(length), 4)
  q, k, v, cotangent = (jax.random.normal(x, (batch, length, HEADS, HEAD_DIM))
                        for x in keys)
  compiled = {name: _compile(attend, q, k, v, cotangent)
              for name, attend in impls.items()}
  times = {name: ([], []) for name in impls}
  for _ in range(rounds + 1):  # the first round only warms up
    for name, (forward, grad) in compiled.items():
      times[name][0].append(_seconds(forward, (q, k, v)))
      times[name][1].append(_seconds(grad, (q, k, v)))
  rows = []
  for name, (forward, grad) in compiled.items():
    rows.append({
        "length": length, "impl": name,
        "fwd_ms": 1e3 * min(times[name][0][1:]),
        "fwd_bwd_ms": 1e3 * min(times[name][1][1:]),
        "fwd_temp_mib": forward.memory_analysis().temp_size_in_bytes / MIB,
        "grad_temp_mib": grad.memory_analysis().temp_size_in_bytes / MIB})
  return rows


def main(argv) -> int:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("lengths", nargs="*", type=int,
                      default=[196, 392, 784, 1568, 3136])
  parser.add_argument("--blocks", default="256",
                      help="comma-separated blockwise block sizes")
  parser.add_argument("--rounds", type=int, default=3)
  parser.add_argument("--batch", type=int, default=1)
  args = parser.parse_args(argv[1:])
  try:
    blocks = [int(b) for b in args.blocks.split(",")]
  except ValueError:
    print(f"error: --blocks={args.blocks!r} is not valid; allowed: "
          "comma-separated integers", file=sys.stderr)
    return 2
  if min(blocks) < 1 or args.rounds < 1 or args.batch < 1 or (
      args.lengths and min(args.lengths) < 1):
    print("error: lengths, --blocks, --rounds and --batch must be >= 1",
          file=sys.stderr)
    return 2
  impls = implementations(blocks)
  print(f"jax {jax.__version__} {jax.devices()[0].device_kind} B={args.batch} "
        f"N={HEADS} Dh={HEAD_DIM} float32, min of {args.rounds} alternating "
        "rounds")
  print(f"{'L=S':>6} {'impl':>14} {'fwd ms':>9} {'fwd+bwd ms':>11} "
        f"{'fwd temp MiB':>13} {'grad temp MiB':>14}")
  for length in args.lengths:
    for row in measure(length, impls, args.rounds, args.batch):
      print(f"{row['length']:>6} {row['impl']:>14} {row['fwd_ms']:>9.1f} "
            f"{row['fwd_bwd_ms']:>11.1f} {row['fwd_temp_mib']:>13.1f} "
            f"{row['grad_temp_mib']:>14.1f}", flush=True)
  return 0


if __name__ == "__main__":
  sys.exit(main(sys.argv))
