"""Trajectory attention and Orthoformer: the official maths, and their costs."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import torch

from vst import flops
from vst.layers import attention
from vst.layers import patterns_trajectory as traj_lib
from vst.layers.attention import Tokens

HEADS, HEAD_DIM = 2, 4
WIDTH = HEADS * HEAD_DIM


def _tokens(grid=(2, 2, 3), batch=2, seed=0, cls=True):
  k_grid, k_cls = jax.random.split(jax.random.key(seed))
  return Tokens(jax.random.normal(k_grid, (batch,) + grid + (WIDTH,)),
                jax.random.normal(k_cls, (batch, WIDTH)) if cls else None)


def _layer(pattern):
  ((_, mix),) = attention.get_pattern(pattern)
  return attention.MultiHeadAttention(HEADS, mix)


@functools.cache
def _apply(pattern):
  return jax.jit(_layer(pattern).apply)


@functools.cache
def _variables(pattern, grid=(2, 2, 3)):
  tokens = _tokens(grid)
  variables = _layer(pattern).init(jax.random.key(1), tokens)
  # Random biases too, so that parity checks every term.
  leaves, treedef = jax.tree.flatten(variables)
  keys = jax.random.split(jax.random.key(2), len(leaves))
  return treedef.unflatten(
      [x + 0.1 * jax.random.normal(k, x.shape) for x, k in zip(leaves, keys)])


# --- The official computation, written with torch from the paper's maths -----


def _torch_weights(params):
  """Our DenseGeneral kernels as torch Linear (weight [out, in], bias)."""
  t = lambda x: torch.tensor(np.asarray(x), dtype=torch.float64)
  linear = lambda p, fan_in: (t(p["kernel"]).reshape(fan_in, -1).T,
                              t(p["bias"]).reshape(-1))
  qkv = [linear(params[n], WIDTH) for n in ("query", "key", "value")]
  return dict(
      qkv=(torch.cat([w for w, _ in qkv]), torch.cat([b for _, b in qkv])),
      proj_q=linear(params["proj_q"], WIDTH),
      proj_kv=linear(params["proj_kv"], WIDTH),
      proj=linear(params["out"], WIDTH))


def _torch_trajectory(x, weights, frames, spatial, approx=None):
  """The official TrajectoryAttention forward on [B, 1 + S, C] (CLS first)."""
  batch, _, width = x.shape
  h, d = HEADS, width // HEADS
  scale = d ** -0.5
  lin = lambda y, name: y @ weights[name][0].T + weights[name][1]
  heads = lambda y: y.reshape(batch, -1, h, d).transpose(1, 2)  # [B, h, n, d]
  q, k, v = map(heads, lin(x, "qkv").chunk(3, dim=-1))
  cls_out = torch.softmax(q[:, :, :1] @ k.transpose(-1, -2) * scale, -1) @ v
  q, k, v = q[:, :, 1:], k[:, :, 1:], v[:, :, 1:]
  tokens = frames * spatial
  v_frames = v.reshape(batch, h, frames, spatial, d)
  if approx is None:
    logits = (q @ k.transpose(-1, -2) * scale).reshape(
        batch, h, tokens, frames, spatial)
    traj = torch.einsum("bhsfp,bhfpd->bhsfd", logits.softmax(-1), v_frames)
  else:
    traj = approx(q, k, v_frames)
  traj = traj.permute(0, 2, 3, 1, 4).reshape(batch, tokens, frames, width)
  own = traj[:, torch.arange(tokens), torch.arange(tokens) // spatial]
  q2 = lin(own, "proj_q").reshape(batch, tokens, h, d) * scale
  k2 = lin(traj, "proj_kv").chunk(2, dim=-1)[0].reshape(
      batch, tokens, frames, h, d)
  weights_t = torch.einsum("bshd,bsfhd->bshf", q2, k2).softmax(-1)
  out = torch.einsum("bshf,bsfhd->bshd", weights_t,
                     traj.reshape(batch, tokens, frames, h, d))
  cls_out = cls_out.transpose(1, 2).reshape(batch, 1, width)
  out = torch.cat([cls_out, out.reshape(batch, tokens, width)], dim=1)
  return lin(out, "proj")


def _torch_orthoformer(q, k, v_frames, num_landmarks):
  """The official shared-landmark orthoformer, first landmark = query 0."""
  batch, h, tokens, d = q.shape
  frames = v_frames.shape[2]
  q, k = q * d ** -0.25, k * d ** -0.25
  unit = torch.nn.functional.normalize(q, dim=-1)
  chosen = [torch.zeros(batch, h, dtype=torch.long)]
  worst = torch.zeros(batch, h, tokens, dtype=q.dtype)
  for _ in range(1, num_landmarks):
    last = torch.gather(unit, 2, chosen[-1][..., None, None].expand(
        batch, h, 1, d))
    worst = torch.maximum(worst, (unit @ last.transpose(-1, -2))[..., 0].abs())
    score = worst.clone()
    for c in chosen:
      score.scatter_(2, c[..., None], 10.0)
    chosen.append(score.argmin(-1))
  idx = torch.stack(chosen, -1)
  landmarks = torch.gather(q, 2, idx[..., None].expand(-1, -1, -1, d))
  kernel_1 = torch.softmax(q @ landmarks.transpose(-1, -2), -1)
  kernel_2 = torch.softmax((landmarks @ k.transpose(-1, -2)).reshape(
      batch, h, num_landmarks, frames, -1), -1)
  x = torch.einsum("bhlfp,bhfpd->bhlfd", kernel_2, v_frames)
  return torch.einsum("bhsl,bhlfd->bhsfd", kernel_1, x)


def _compare(pattern, approx=None, grid=(2, 2, 3)):
  variables = _variables(pattern, grid)
  tokens = _tokens(grid)
  ours = _apply(pattern)(variables, tokens)
  frames, height, width = grid
  x = np.concatenate([np.asarray(tokens.cls)[:, None],
                      np.asarray(tokens.grid).reshape(2, -1, WIDTH)], axis=1)
  weights = _torch_weights(variables["params"])
  theirs = _torch_trajectory(torch.tensor(x, dtype=torch.float64), weights,
                             frames, height * width, approx).numpy()
  ours = np.concatenate([np.asarray(ours.cls)[:, None],
                         np.asarray(ours.grid).reshape(2, -1, WIDTH)], axis=1)
  return np.abs(ours - theirs).max()


def test_trajectory_attention_matches_the_official_computation():
  assert _compare("trajectory") < 1e-5  # Measured 3.3e-7 (float32 vs 64).


def test_orthoformer_matches_the_official_landmark_attention():
  # 12 tokens, so 128 landmarks cap at 12: every query is a landmark.
  approx = functools.partial(_torch_orthoformer, num_landmarks=12)
  assert _compare("orthoformer", approx) < 1e-5


def test_orthoformer_with_few_landmarks_matches_the_official_one():
  grid = (2, 3, 3)
  mix = functools.partial(traj_lib.orthoformer_attention, num_landmarks=5)
  layer = attention.MultiHeadAttention(HEADS, mix)
  tokens = _tokens(grid)
  variables = _variables("orthoformer", grid)
  ours = jax.jit(layer.apply)(variables, tokens)
  weights = _torch_weights(variables["params"])
  x = np.concatenate([np.asarray(tokens.cls)[:, None],
                      np.asarray(tokens.grid).reshape(2, -1, WIDTH)], axis=1)
  theirs = _torch_trajectory(
      torch.tensor(x, dtype=torch.float64), weights, 2, 9,
      functools.partial(_torch_orthoformer, num_landmarks=5)).numpy()
  np.testing.assert_allclose(np.asarray(ours.grid).reshape(2, -1, WIDTH),
                             theirs[:, 1:], atol=1e-5)


# --- Who sees whom -----------------------------------------------------------


def test_grid_tokens_ignore_the_class_token_which_sees_everything():
  variables = _variables("trajectory")
  tokens = _tokens()
  moved = Tokens(tokens.grid, tokens.cls + 1.0)
  apply = _apply("trajectory")
  a, b = apply(variables, tokens), apply(variables, moved)
  np.testing.assert_allclose(a.grid, b.grid, atol=1e-6)
  assert not np.allclose(a.cls, b.cls)


def test_landmarks_are_the_most_orthogonal_queries():
  # Query 0 starts; the axis-aligned queries 3, 5, 6 are orthogonal to it and
  # to each other; the others lie between axes.
  basis = np.eye(4)
  rows = [basis[0], basis[0] + basis[1], basis[0] + 0.1 * basis[2], basis[1],
          basis[1] + basis[2], basis[2], basis[3], basis[2] + basis[3]]
  query = jnp.asarray(np.stack(rows), jnp.float32)[None, :, None]
  landmarks = traj_lib.orthogonal_landmarks(query, 4)[0, :, 0]
  chosen = {int(np.argmin(np.abs(np.asarray(query[0, :, 0]) - l).sum(-1)))
            for l in np.asarray(landmarks)}
  assert chosen == {0, 3, 5, 6}


# --- Cost as the grid grows (XLA's cost analysis) ----------------------------


def _attention_flops(pattern, grid):
  """XLA FLOPs of the pattern's mixing alone on a [1, *grid] token grid."""
  ((_, mix),) = attention.get_pattern(pattern)
  layer = attention.MultiHeadAttention(1, mix)
  tokens = Tokens(jnp.zeros((1,) + grid + (16,)), None)
  variables = jax.eval_shape(layer.init, jax.random.key(0), tokens)
  return flops.xla_flops(lambda v, t: layer.apply(v, t).grid, variables,
                         tokens)


def _growth(pattern, grids):
  """Exponent of cost in the number of tokens between successive grids."""
  costs = [_attention_flops(pattern, g) for g in grids]
  sizes = [np.prod(g) for g in grids]
  return [np.log(c1 / c0) / np.log(s1 / s0)
          for c0, c1, s0, s1 in zip(costs, costs[1:], sizes, sizes[1:])]


def test_trajectory_attention_is_quadratic_in_time_not_linear():
  """The paper's temporal step is 1D, but all T·H·W queries meet all keys."""
  exponents = _growth("trajectory", [(4, 4, 4), (8, 4, 4), (16, 4, 4)])
  assert all(1.7 < e < 2.1 for e in exponents), exponents


def test_orthoformer_is_linear_in_tokens_at_fixed_time():
  exponents = _growth("orthoformer", [(2, 8, 8), (2, 16, 16), (2, 32, 32)])
  assert all(0.85 < e < 1.2 for e in exponents), exponents
  full = _growth("trajectory", [(2, 8, 8), (2, 16, 16)])
  assert full[0] > 1.7, full


def test_orthoformer_is_not_linear_in_time():
  """Every query still gets one trajectory token per frame: S×T outputs."""
  exponents = _growth("orthoformer", [(4, 8, 8), (8, 8, 8), (16, 8, 8)])
  assert all(e > 1.5 for e in exponents), exponents
