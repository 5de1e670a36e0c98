"""`model.tubelet_frames` of the frame-patch ViTs (TimeSformer, X-ViT):
2 gives ViViT's 2×p×p tubelets, so every token sees two frames and the time
axis (time embedding, X-ViT's per-frame class tokens) halves."""

import jax
import numpy as np
import pytest

from vst.models import registry

CLIPS = (2, 4, 16, 16, 3)  # 4 frames: a 2×2×2 grid of 2×8×8 tubelets.


@pytest.mark.parametrize("name", ["timesformer", "xvit"])
def test_two_frame_tubelets_halve_the_time_axis(name):
  model = registry.build_model(
      {"name": name, "variant": "tiny", "num_layers": 1, "tubelet_frames": 2},
      5)
  clips = jax.random.normal(jax.random.key(0), CLIPS)
  logits, variables = model.init_with_output(
      jax.random.key(1), clips, train=False, mutable=True)
  params = variables["params"]
  assert params["patch_embed"]["kernel"].shape == (2, 8, 8, 3, 64)
  assert params["posembed_input"]["time_embedding"].shape == (2, 64)
  assert logits.shape == (2, 5) and np.isfinite(logits).all()
