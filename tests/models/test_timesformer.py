"""TimeSformer: the five attention schemes build, paper sizes, cost in T."""

import functools
import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from tests.conftest import tiny_config
from tests.models import short_training
from vst import flops
from vst.errors import ConfigError
from vst.layers import attention as attention_lib
from vst.models import registry
from vst.models.timesformer import VARIANTS, TimeSformer

SCHEMES = ("space", "joint", "divided", "sparse_local_global", "axial")
TINY_CLIPS = (2, 4, 16, 16, 3)  # A 4×2×2 grid of 8×8 patches.


def _model(variant="tiny", num_classes=5, **fields):
  return TimeSformer(num_classes=num_classes, **{**VARIANTS[variant], **fields})


@functools.cache
def _tiny_run(attention):
  """(params, logits, pre_logits) of a tiny forward pass.

  One block is enough to exercise a scheme. Run op by op: for a model this
  small that costs less than compiling it.
  """
  model = _model(attention=attention, num_layers=1)
  clips = jax.random.normal(jax.random.key(0), TINY_CLIPS)
  logits, variables = model.init_with_output(
      jax.random.key(1), clips, train=False, mutable=True)
  (pre_logits,) = variables["intermediates"]["pre_logits"]
  return variables["params"], logits, pre_logits


@pytest.mark.parametrize("attention", SCHEMES)
def test_every_scheme_builds_and_runs(attention):
  model = registry.build_model(
      {"name": "timesformer", "variant": "tiny", "attention": attention}, 5)
  registry.check_input_shape(model, TINY_CLIPS[1:])
  params, logits, pre_logits = _tiny_run(attention)
  assert logits.shape == (2, 5) and logits.dtype == jnp.float32
  assert np.isfinite(logits).all()
  assert pre_logits.shape == (2, VARIANTS["tiny"]["hidden_size"])
  # Separate space and time tables, except in the per-frame model.
  assert ("time_embedding" in params["posembed_input"]) == (
      attention != "space")


def test_hf_reference_is_not_offered_for_tubelets():
  """HF's patch embedding holds one frame: bench compares no other model."""
  from vst.models.convert import timesformer_hf  # pylint: disable=g-import-not-at-top
  assert timesformer_hf.hf_timesformer(
      None, dict(attention="divided", tubelet_frames=2)) is None


def test_divided_blocks_have_time_then_space_attention():
  stages = [name for name, _ in attention_lib.get_pattern("divided")]
  assert stages == ["time_attention", "space_attention"]
  block = _tiny_run("divided")[0]["transformer"]["encoderblock_0"]
  assert set(block) == {"time_attention_norm", "time_attention",
                        "space_attention_norm", "space_attention",
                        "mlp_norm", "mlp"}
  # The new temporal stage starts at zero (TimeSformer's temporal_fc).
  assert not np.any(block["time_attention"]["fc"]["kernel"])


# --- Paper fidelity: Bertasius et al. 2021 and REFERENCE.md -------------------

# (attention, T, size) -> (params M, GMACs) as published (MACs, per view).
PUBLISHED = {
    ("divided", 8, 224): (121.4, 196.7),    # TimeSformer.
    ("divided", 16, 448): (122.02, 1703),   # TimeSformer-HR (params: C).
    ("divided", 96, 224): (121.4, 2380),    # TimeSformer-L.
    ("joint", 8, 224): (86.11, 180),        # mmaction2's baselines.
    ("space", 8, 224): (86.11, 141),
}


@pytest.mark.parametrize("key", sorted(PUBLISHED))
def test_paper_params_and_gflops(key):
  attention, frames, size = key
  params, gflops = flops.model_cost(
      _model("B/16", num_classes=400, attention=attention),
      (1, frames, size, size, 3))
  published_params, published_gflops = PUBLISHED[key]
  if key == ("divided", 8, 224):  # HF's TimesformerForVideoClassification.
    assert params == 121_566_352
  assert params / 1e6 == pytest.approx(published_params, rel=0.01)
  assert gflops == pytest.approx(published_gflops, rel=0.05)


@functools.cache
def _xla_flops(attention, frames):
  """XLA's cost analysis of a one-block model on 14×14 patches per frame.

  With the dense kernel: XLA counts a loop's body once, so blockwise
  attention (which `auto` picks from 512² logits a head) would hide the
  quadratic term.
  """
  model = _model(num_layers=1, patch_size=4, attention=attention,
                 attention_impl="xla")
  shape = (1, frames, 56, 56, 3)
  variables = flops.abstract_variables(model, shape)
  return flops.xla_flops(lambda v, x: model.apply(v, x, train=False),
                         variables, jax.ShapeDtypeStruct(shape, jnp.float32))


def test_divided_cost_grows_linearly_in_frames_and_joint_quadratically():
  """O(S²T + ST²) with T ≪ S = 196 against O(S²T²) (paper Sec. 3)."""
  divided = _xla_flops("divided", 16) / _xla_flops("divided", 8)
  joint = _xla_flops("joint", 16) / _xla_flops("joint", 8)
  assert 2.0 <= divided < 2.1
  assert joint > 3.5  # Attention dominates, so nearly 4×.


# --- Config checks name the field to change -----------------------------------


@pytest.mark.parametrize("fields, shape, message", [
    ({}, (8, 30, 32, 3),
     "dataset.crop_size: 30×32 frames are not divisible by model.patch_size=8"),
    (dict(attention="diagonal"), (8, 32, 32, 3),
     "model.attention='diagonal' is not valid"),
    (dict(head_init="ones"), (8, 32, 32, 3),
     "model.head_init='ones' is not valid"),
    (dict(num_heads=3), (8, 32, 32, 3),
     "model.hidden_size=64 is not divisible by model.num_heads=3"),
    (dict(tubelet_frames=3), (8, 32, 32, 3),
     "dataset.num_frames=8 is not divisible by model.tubelet_frames=3"),
    (dict(tubelet_frames=0), (8, 32, 32, 3),
     "model.tubelet_frames=0 must be >= 1"),
])
def test_bad_fields_fail_at_validation(fields, shape, message):
  with pytest.raises(ConfigError, match=re.escape(message)):
    _model(**fields).validate_input(shape)


def test_loss_falls_in_a_short_training(tmp_path, monkeypatch):
  # One block shows learning as well as four and compiles 4× faster.
  monkeypatch.setattr(short_training, "tiny_config",
                      functools.partial(tiny_config, num_layers=1))
  losses = short_training.short_training_losses("timesformer", tmp_path)
  assert np.mean(losses[-2:]) < np.mean(losses[:2])
