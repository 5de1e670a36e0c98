"""grid_pooling: mean and max over the (T, H, W) grid, and a bad name."""

import re

import jax.numpy as jnp
import numpy as np
import pytest

from vst.errors import ConfigError
from vst.layers.grid_pooling import pool_grid


def test_max_keeps_one_token_that_mean_dilutes():
  grid = jnp.zeros((2, 2, 4, 4, 3)).at[0, 1, 2, 3, 1].set(32.0)
  np.testing.assert_allclose(pool_grid(grid, "max")[0], [0.0, 32.0, 0.0])
  np.testing.assert_allclose(pool_grid(grid, "mean")[0], [0.0, 1.0, 0.0])
  np.testing.assert_allclose(pool_grid(grid, "mean")[1], [0.0, 0.0, 0.0])


def test_unknown_pooling_names_the_field_and_choices():
  with pytest.raises(ConfigError, match=re.escape(
      "model.pooling='sum' is not valid; allowed: mean, max")):
    pool_grid(jnp.zeros((1, 1, 1, 1, 1)), "sum")
