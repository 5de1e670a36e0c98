"""Wall-clock timing shared by the bench and its PyTorch references."""

import statistics
import time
from typing import Callable


def median_seconds(fn: Callable[[], object], runs: int, warmup: int = 2) -> float:
  """Median wall time of `fn()` over `runs` calls after `warmup` untimed ones.

  `fn` must block until its work is done (`jax.block_until_ready`,
  `torch.cuda.synchronize`), or the time is only the dispatch.
  """
  for _ in range(warmup):
    fn()
  times = []
  for _ in range(runs):
    t0 = time.perf_counter()
    fn()
    times.append(time.perf_counter() - t0)
  return statistics.median(times)
