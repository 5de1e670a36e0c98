"""C3D: variants build, published size (Tran et al. 2015; REFERENCE.md N10)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from vst import flops
from vst.errors import ConfigError
from vst.models import registry


def _build(variant, num_classes=5, **fields):
  return registry.build_model({"name": "c3d", "variant": variant, **fields},
                              num_classes)


def test_tiny_runs_on_synthetic_and_test_clips():
  for shape in ((2, 8, 32, 32, 3), (2, 4, 16, 16, 3)):
    model = _build("tiny")
    registry.check_input_shape(model, shape[1:])
    logits, _ = jax.jit(lambda x: model.init_with_output(
        jax.random.key(0), x, train=False))(jnp.ones(shape))
    assert logits.shape == (2, 5) and np.isfinite(logits).all()


# (variant, classes) -> (params M, GMACs) at 16×112²: REFERENCE.md's C3D row.
@pytest.mark.parametrize("variant,num_classes,params,gflops", [
    ("paper", 101, 78.4e6, 38.5),
    ("paper", 487, 80.0e6, 38.5),
    ("vmz", 400, 64.9e6, 38.5),
])
def test_published_parameters_and_gflops(variant, num_classes, params, gflops):
  measured_params, gmacs = flops.model_cost(_build(variant, num_classes),
                                            (1, 16, 112, 112, 3))
  assert measured_params == pytest.approx(params, rel=0.01)
  assert gmacs == pytest.approx(gflops, rel=0.05)


def test_paper_c3d_has_eight_3x3x3_convs_and_an_8192_d_fc6():
  params = flops.abstract_variables(_build("paper", 101),
                                    (1, 16, 112, 112, 3))["params"]
  convs = [k for k in params if k.startswith("conv")]
  assert len(convs) == 8
  assert all(params[k]["conv"]["kernel"].shape[:3] == (3, 3, 3) for k in convs)
  assert params["fc6"]["kernel"].shape == (8192, 4096)


def test_too_short_clips_name_the_dataset_field():
  with pytest.raises(ConfigError, match="dataset.num_frames"):
    registry.check_input_shape(_build("paper"), (8, 112, 112, 3))
