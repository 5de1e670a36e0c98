"""`tfds_source` parses a record once per clip and holds one per thread."""

import threading

import numpy as np
import pytest

from vst.data.sources import tfds_source


def test_one_parse_per_record_and_thread(monkeypatch):
  parsed = []

  def fake_parse(name, data_dir, split, sample):
    parsed.append((threading.get_ident(), sample))
    return np.zeros((5 + sample, 2, 2, 3), np.uint8), None

  monkeypatch.setattr(tfds_source, "_parse_record", fake_parse)
  monkeypatch.setattr(tfds_source, "_last_record", threading.local())
  frames = tfds_source.TfdsFrames("fake", "", "train")
  # A clip: its length, then its frames; eval's second view of it too.
  assert frames.info(0) == (5, 0.0)
  assert frames.read(0, [0, 4]).shape == (2, 2, 2, 3)
  assert frames.read(0, [1]).shape == (1, 2, 2, 3)
  assert len(parsed) == 1
  # The next record replaces it: one held per thread, whatever came before.
  assert frames.info(1) == (6, 0.0)
  assert frames.info(0) == (5, 0.0)
  assert [s for _, s in parsed] == [0, 1, 0]
  # Another worker thread parses its own copy.
  worker = threading.Thread(target=frames.info, args=(0,))
  worker.start()
  worker.join()
  assert len(parsed) == 4 and parsed[-1][0] != parsed[0][0]


def test_a_failed_parse_is_not_remembered(monkeypatch):
  calls = []

  def failing_parse(name, data_dir, split, sample):
    calls.append(sample)
    raise tfds_source.decode.DecodeError("tfds:fake/train/3 cannot be parsed")

  monkeypatch.setattr(tfds_source, "_parse_record", failing_parse)
  monkeypatch.setattr(tfds_source, "_last_record", threading.local())
  frames = tfds_source.TfdsFrames("fake", "", "train")
  for _ in range(2):
    with pytest.raises(tfds_source.decode.DecodeError,
                       match="tfds:fake/train/3"):
      frames.info(3)
  assert calls == [3, 3]
