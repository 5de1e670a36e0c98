"""2D → 3D kernel inflation: centre, mean, repeat, and whole-tree surgery."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from vst.layers import inflate

KERNEL_2D = jax.random.normal(jax.random.key(0), (3, 3, 4, 8))


def test_mean_inflation_sums_back_to_the_2d_kernel():
  k = inflate.inflate_kernel(KERNEL_2D, 5, "mean")
  assert k.shape == (5, 3, 3, 4, 8)
  np.testing.assert_allclose(k.sum(0), KERNEL_2D, atol=1e-6)


def test_centre_inflation_is_the_2d_kernel_at_the_middle_frame():
  k = inflate.inflate_kernel(KERNEL_2D[None], 3, "centre")
  np.testing.assert_array_equal(k[1], KERNEL_2D)
  assert not np.any(k[0]) and not np.any(k[2])


def test_repeat_inflation_copies_the_kernel():
  k = inflate.inflate_kernel(KERNEL_2D, 2, "repeat")
  np.testing.assert_array_equal(k[0], KERNEL_2D)
  np.testing.assert_array_equal(k[1], KERNEL_2D)


def test_tree_inflation_copies_other_leaves_and_names_mismatches():
  params_2d = {"conv": {"kernel": KERNEL_2D, "bias": jnp.ones(8)},
               "head": {"kernel": jnp.ones((8, 2))}}
  target = {"conv": {"kernel": jax.ShapeDtypeStruct((3, 3, 3, 4, 8),
                                                    jnp.float32),
                     "bias": jax.ShapeDtypeStruct((8,), jnp.float32)},
            "head": {"kernel": jax.ShapeDtypeStruct((8, 2), jnp.float32)}}
  out = inflate.inflate_params(params_2d, target, "mean")
  assert jax.tree.map(jnp.shape, out) == jax.tree.map(lambda x: x.shape,
                                                      target)
  np.testing.assert_array_equal(out["conv"]["bias"], 1.0)
  bad = dict(target, head={"kernel": jax.ShapeDtypeStruct((8, 3),
                                                          jnp.float32)})
  with pytest.raises(ValueError, match="head/kernel"):
    inflate.inflate_params(params_2d, bad)
  with pytest.raises(ValueError, match="missing in 2D"):
    inflate.inflate_params({"conv": params_2d["conv"]}, target)
