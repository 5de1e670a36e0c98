"""UniFormer's relation aggregators: local ones are local, global ones not."""

import jax
import jax.numpy as jnp
import numpy as np

from vst.layers import mhra

GRID = (6, 9, 9)
CENTRE = (3, 4, 4)


def _support(module, train=False):
  x = jax.random.normal(jax.random.key(0), (1,) + GRID + (8,))
  variables = module.init(jax.random.key(1), x, train)
  grad = jax.grad(lambda x: module.apply(variables, x, train)[
      (0,) + CENTRE].sum())(x)
  return np.abs(np.asarray(grad[0])).sum(-1) > 0


def _cube(radii):
  mask = np.zeros(GRID, bool)
  mask[tuple(slice(c - r, c + r + 1) for c, r in zip(CENTRE, radii))] = True
  return mask


class _Dpe(mhra.DynamicPositionEmbedding):
  def __call__(self, x, train):  # The signature _support calls.
    return super().__call__(x)


def test_dynamic_position_embedding_sees_a_3x3x3_neighbourhood():
  assert (_support(_Dpe()) == _cube((1, 1, 1))).all()


def test_local_block_aggregates_only_nearby_tokens():
  # DPE (3×3×3) then the 5×5×5 affinity: radius 1 + 2 = 3 in every axis.
  support = _support(mhra.LocalBlock())
  assert (support == _cube((3, 3, 3))).all()


def test_global_block_aggregates_every_token():
  assert _support(mhra.GlobalBlock(num_heads=2)).all()


def test_dpe_keeps_any_grid_shape():
  x = jnp.ones((2, 1, 3, 5, 4))
  out, _ = mhra.DynamicPositionEmbedding().init_with_output(
      jax.random.key(0), x)
  assert out.shape == x.shape
