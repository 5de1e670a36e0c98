"""The loop-conv benchmark runs and compares equal gradients."""

from vst.tools import bench_loop_conv


def test_measure_reports_both_times_and_equal_gradients():
  r = bench_loop_conv.measure(batch=2, frames=2, size=4, channels=3,
                              features=2, runs=1)
  assert r["xla_ms"] > 0 and r["loop_conv_ms"] > 0
  assert r["speedup"] == r["xla_ms"] / r["loop_conv_ms"]
  assert r["max_abs_diff"] < 1e-4


def test_main_prints_the_comparison(capsys):
  assert bench_loop_conv.main(["--batch=2", "--frames=2", "--size=4"]) == 0
  assert "loop_conv" in capsys.readouterr().out
