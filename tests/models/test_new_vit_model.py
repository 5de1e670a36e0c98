"""A new ViT-family model is one page in one file: this test file.

The example below is a complete model (a per-frame ViT with divided
attention and a linear head), registered from here; nothing else in vst is
edited to add it. It is what a contributor's `vst/models/<paper>.py` looks
like when the paper differs from ViT only in its attention and head.
"""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from vst.layers import heads
from vst.layers import scope
from vst.layers import vit
from vst.models import registry


class ExampleVideoViT(nn.Module):
  """ViT on 1×p×p frame patches, any registered attention pattern."""
  num_classes: int
  hidden_size: int
  num_layers: int
  num_heads: int
  mlp_dim: int
  patch_size: int = 8
  attention: str = "divided"
  dtype: str = "float32"

  @nn.compact
  def __call__(self, inputs: jax.Array, *, train: bool) -> jax.Array:
    p = self.patch_size
    features = scope.inline(vit.ViT(
        **vit.shared_fields(self), patch_size=(1, p, p),
        embed_name="patch_embed", class_token_skips=True))(inputs,
                                                            train=train)
    return heads.classify(features, self.num_classes, train=train,
                          dtype=self.dtype)


VARIANTS = {"tiny": dict(hidden_size=32, num_layers=2, num_heads=2,
                         mlp_dim=64),
            "B/16": vit.decode_variant("B/16")}


def test_example_model_registers_builds_and_runs(monkeypatch):
  # Registered for this test only: the registry is left as it was found.
  registry.list_models()  # Discovers the built-in models first.
  monkeypatch.setattr(registry.MODELS, "_values",
                      dict(registry.MODELS._values))  # pylint: disable=protected-access
  registry.register("example_video_vit", ExampleVideoViT, VARIANTS)
  model = registry.build_model(
      {"name": "example_video_vit", "variant": "tiny"}, 5)
  clips = jax.random.normal(jax.random.key(0), (2, 4, 16, 16, 3))
  logits, variables = model.init_with_output(
      jax.random.key(1), clips, train=False, mutable=True)
  assert logits.shape == (2, 5) and np.isfinite(logits).all()
  # The backbone's and head's parameters are the model's own, by name.
  assert set(variables["params"]) == {
      "patch_embed", "cls", "posembed_input", "transformer", "head"}
  assert "time_attention" in variables["params"]["transformer"][
      "encoderblock_0"]
  (pre_logits,) = variables["intermediates"]["pre_logits"]
  assert pre_logits.shape == (2, 32)
  # The one file a new model touched is the file that defines it.
  assert ExampleVideoViT.__module__ == __name__


def test_decode_variant_reads_size_patch_and_frames():
  assert vit.decode_variant("B/16") == dict(
      hidden_size=768, num_layers=12, num_heads=12, mlp_dim=3072,
      patch_size=16)
  assert vit.decode_variant("L/14x2")["tubelet_size"] == (2, 14, 14)
  base = jax.eval_shape(
      lambda x: ExampleVideoViT(10, **VARIANTS["B/16"]).init(
          jax.random.key(0), x, train=False),
      jax.ShapeDtypeStruct((1, 2, 32, 32, 3), jnp.float32))
  count = sum(x.size for x in jax.tree.leaves(base["params"]))
  # ViT-B/16 (85.8M without its head) + divided attention's temporal stage.
  assert 85e6 < count < 130e6


def test_decode_variant_names_what_it_accepts():
  with pytest.raises(ValueError, match="Ti"):
    vit.decode_variant("XL/16")
