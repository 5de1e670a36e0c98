"""The attention benchmark tool: one row per implementation, bad flags refused."""

from vst.tools import bench_attention


def test_rows_for_every_implementation_with_memory():
  rows = bench_attention.measure(
      48, bench_attention.implementations([16]), rounds=1)
  assert [r["impl"] for r in rows] == ["xla", "blockwise16"]
  for row in rows:
    assert row["length"] == 48 and row["fwd_ms"] > 0 and row["fwd_bwd_ms"] > 0
    assert row["grad_temp_mib"] >= 0


def test_bad_block_sizes_are_one_error_line(capsys):
  assert bench_attention.main(["bench_attention", "--blocks=big"]) == 2
  assert "--blocks='big'" in capsys.readouterr().err
