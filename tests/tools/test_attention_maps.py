"""vst.tools.attention_maps: maps of whole models, rollout, and the CLI."""

import os

import jax
import ml_collections
import numpy as np
from PIL import Image
import pytest

from vst.data import video_writer
from vst.layers.attention import RolloutUndefinedError
from vst.models import registry
from vst.tools import attention_maps


def test_rollout_of_one_stage_is_its_smoothed_matrix():
  rng = np.random.default_rng(0)
  a = rng.random((1, 2, 5, 5))
  a /= a.sum(-1, keepdims=True)
  rolled = attention_maps.rollout([("layer", a)])
  expected = 0.5 * a.mean(1) + 0.5 * np.eye(5)
  np.testing.assert_allclose(rolled, expected / expected.sum(-1,
                                                             keepdims=True))
  # A stage without the class token leaves it be; rows stay stochastic.
  two = attention_maps.rollout([("layer", a), ("no_cls", a[..., 1:, 1:] /
                                               a[..., 1:, 1:].sum(-1, keepdims=True))])
  np.testing.assert_allclose(two.sum(-1), 1.0)
  with pytest.raises(ValueError, match="one token set"):
    attention_maps.rollout([("a", a), ("b", a[..., :3, :3])])


def test_vtn_records_backbone_in_scan_and_temporal_encoder():
  """VTN's per-frame ViT runs in an nn.scan over chunks of frames."""
  model = registry.build_model(ml_collections.ConfigDict(dict(
      name="vtn", variant="tiny", num_layers=1, temporal_layers=1,
      frames_per_chunk=2)), 3)
  clip = np.ones((3, 16, 16, 3), np.float32)  # 3 frames: one padded chunk.
  variables = jax.jit(lambda c: model.init(jax.random.key(0), c,
                                           train=False))(clip[None])
  maps = attention_maps.attention_maps(model, variables, clip)
  assert {k: v.shape for k, v in maps.items()} == {
      "backbone/vit/transformer/encoderblock_0/attention": (4, 3, 2, 2),
      "temporal_encoder/layer_0/attention": (4, 3, 1, 1)}
  with pytest.raises(RolloutUndefinedError, match="Longformer"):
    attention_maps.attention_rollout(model, variables, clip)


def test_cli_writes_png_and_gif_with_rollout(tmp_path, capsys):
  video = str(tmp_path / "clip.mp4")
  video_writer.write_video(video, video_writer.numbered_frames(12, 48, 48))
  out = str(tmp_path / "maps")
  status = attention_maps.main([
      "attention_maps", "--config=configs/vivit_synthetic.py",
      "--config.model.num_layers=2", f"--out={out}", video])
  assert status == 0, capsys.readouterr().err
  names = sorted(os.listdir(out))
  assert names == sorted(
      [f"transformer.encoderblock_{i}.attention.{ext}" for i in range(2)
       for ext in ("png", "gif")] + ["rollout.gif", "rollout.png"])
  grid = Image.open(os.path.join(out, "rollout.png"))
  assert grid.size == (8 * 32, 2 * 32)  # 8 frames in a row, two rows.
  gif = Image.open(os.path.join(out, "transformer.encoderblock_0.attention.gif"))
  assert gif.n_frames == 8
