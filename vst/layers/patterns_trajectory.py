"""Trajectory attention and its Orthoformer approximation: Motionformer.

Patrick et al. 2021 pool information along implicit motion paths. For a query
token s (at frame f_s) and every frame t:

  spatial step   ỹ[s, t] = Σ_p softmax_p(q_s · k_tp / √Dh) v_tp
                 attention over frame t's H·W tokens only: a "trajectory
                 token", where s's content sits in frame t;
  temporal step  y_s = Σ_t softmax_t(q̃_s · k̃_st / √Dh) v'_st
                 1D attention along s's trajectory, with q̃_s = proj_q(ỹ[s, f_s])
                 (the trajectory token at the query's own frame) and
                 k̃, ṽ = proj_kv(ỹ[s, :]).

The class token attends to every token (and itself) as in joint attention;
grid tokens do not attend to it. `proj_q` and `proj_kv` are this pattern's
own DenseGeneral layers (D→D and D→2D, with bias), created inside the calling
`MultiHeadAttention`, so one Motionformer block is query/key/value/out plus
proj_q/proj_kv: exactly the official block's qkv/proj/proj_q/proj_kv.

The official code (and its released checkpoints) weighs the trajectory tokens
ỹ themselves in the temporal step, v' = ỹ, not ṽ = the projected values (a
typo it keeps, `USE_ORIGINAL_TRAJ_ATTN_CODE=True` in every config); the `v`
half of proj_kv is then unused but still allocated. `trajectory` does the
same; `project_values=True` gives the corrected variant.

Cost, which is not what the temporal step alone suggests: with S = T·H·W
tokens, the spatial step compares every query with every key (S·S·Dh MACs,
quadratic in the number of tokens and so in T at fixed H·W), and even the
temporal step is S queries × T keys, also quadratic in T. The paper's point
about the temporal step is that per query it is 1D, linear in T.

Orthoformer (Sec. 3.2) replaces the spatial step's S×S matrix by two small
ones through R landmarks chosen among the queries, greedily most orthogonal
to those already chosen:

  ỹ[s, t] = softmax_r(q_s · l_r) · (softmax_p(l_r · k_tp) v_tp)

which is S·R + R·S MACs per channel for the two matrices: linear in the
number of tokens at fixed T. Its trajectory output still has S×T entries, so
in T it is quadratic too, with R in place of H·W as the constant.

Attention maps (`vst.layers.attention.record_attention`): both record the
spatial step, the one that forms the trajectories, as the mean over all grid
queries of each frame's softmax, [B, N, T, H, W] with every frame summing to
1 (the class token does not take part in that step, so there is no class
row); Orthoformer's is (mean over queries of kernel_1) @ kernel_2. Neither
has one token-to-token matrix, so rollout is undefined.
"""

import functools
import math

import flax.linen as nn
import jax
import jax.numpy as jnp

from vst.errors import ConfigError
from vst.layers.attention import (Tokens, dot_product_attention,
                                  record_attention, register_pattern)

# APPROX_ATTN_DIM of the official configs: landmarks per (example, head).
NUM_LANDMARKS = 128


def _cls_attention(query: Tokens, key: Tokens, value: Tokens) -> jax.Array:
  """[B, N, Dh]: the class token attends to itself and every grid token."""
  batch, num_heads, head_dim = query.cls.shape
  flat = lambda t: jnp.concatenate(
      [t.cls[:, None], t.grid.reshape(batch, -1, num_heads, head_dim)], axis=1)
  return dot_product_attention(query.cls[:, None], flat(key), flat(value))[:, 0]


def _record_frames(received, frame_shape, pattern: str) -> None:
  """Records [B, N, T, P] per-frame received attention as [B, N, T, H, W]."""
  if frame_shape is None:
    return
  record_attention(lambda: (lambda x: x.reshape(x.shape[:3] + tuple(
      frame_shape)))(received()), pattern=pattern)


def full_trajectories(query: jax.Array, key: jax.Array, value: jax.Array,
                      frame_shape: tuple[int, int] | None = None
                      ) -> jax.Array:
  """The spatial step, exact: each query against each frame on its own.

  Args:
    query: [B, S, N, Dh], all S = T·H·W query tokens.
    key: [B, T, P, N, Dh], keys frame by frame (P = H·W).
    value: like `key`.
    frame_shape: (H, W) to record the step's attention map on (the mean over
      queries of each frame's softmax, [B, N, T, H, W]); None not to record.

  Returns:
    [B, S, T, N, Dh] trajectory tokens.
  """
  def received():  # [B, N, T, P]; each frame's keys sum to 1.
    logits = jnp.einsum("bsnd,btpnd->bntsp", query.astype(jnp.float32),
                        key.astype(jnp.float32)) / math.sqrt(query.shape[-1])
    return jax.nn.softmax(logits, axis=-1).mean(axis=3)

  _record_frames(received, frame_shape, "trajectory")
  # Mapping the one kernel over frames keeps each softmax within a frame.
  attend = lambda k, v: dot_product_attention(query, k, v)
  return jax.vmap(attend, in_axes=(1, 1), out_axes=2)(key, value)


def orthogonal_landmarks(query: jax.Array, num_landmarks: int) -> jax.Array:
  """R queries per (example, head), each the least aligned with those chosen.

  The official greedy rule: a candidate's score is its largest |cosine| to any
  landmark already chosen, and the lowest score joins next. The official code
  starts from a random query; here the first query of the clip starts, so the
  layer is a deterministic function (no rng inside attention). Selection
  costs R·S·Dh, linear in S; no gradient flows through the choice, as in the
  official `torch.no_grad()`.

  Args:
    query: [B, S, N, Dh].
    num_landmarks: R ≤ S.

  Returns:
    [B, R, N, Dh], the selected (unnormalised) queries.
  """
  q = jax.lax.stop_gradient(jnp.moveaxis(query, 2, 1))  # [B, N, S, Dh]
  norm = jnp.linalg.norm(q, axis=-1, keepdims=True)
  unit = q / jnp.maximum(norm, 1e-12)  # F.normalize's eps.
  batch, heads, tokens, _ = q.shape

  def choose(m, carry):
    chosen, worst_cos, last = carry
    cos = jnp.abs(jnp.einsum("bnsd,bnd->bns", unit, last))
    worst_cos = jnp.maximum(worst_cos, cos)
    taken = jnp.any(
        jnp.arange(tokens) == chosen[..., :, None], axis=-2)  # [B, N, S]
    pick = jnp.argmin(jnp.where(taken, jnp.inf, worst_cos), axis=-1)
    chosen = chosen.at[..., m].set(pick)
    last = jnp.take_along_axis(unit, pick[..., None, None], axis=2)[..., 0, :]
    return chosen, worst_cos, last

  chosen = jnp.zeros((batch, heads, num_landmarks), jnp.int32)
  init = (chosen, jnp.zeros((batch, heads, tokens), unit.dtype), unit[..., 0, :])
  chosen, _, _ = jax.lax.fori_loop(1, num_landmarks, choose, init)
  landmarks = jnp.take_along_axis(q, chosen[..., None], axis=2)
  return jnp.moveaxis(landmarks, 1, 2)


def orthoformer_trajectories(query: jax.Array, key: jax.Array,
                             value: jax.Array,
                             num_landmarks: int = NUM_LANDMARKS,
                             frame_shape: tuple[int, int] | None = None
                             ) -> jax.Array:
  """The spatial step through R landmarks; never forms the S×S matrix.

  As the official `orthoformer` with shared landmarks: q and k are each
  scaled by Dh^-1/4 (so q·k carries 1/√Dh), landmarks are taken from the
  scaled queries, kernel_1 = softmax_r(q lᵀ) [S, R] and kernel_2 =
  softmax_p(l kᵀ) within each frame [R, T, P].

  Args:
    query: [B, S, N, Dh].
    key: [B, T, P, N, Dh].
    value: like `key`.
    num_landmarks: R; capped at S (then every query is a landmark).
    frame_shape: (H, W) to record the step's attention map on, or None; it
      is (mean over queries of kernel_1) @ kernel_2, [B, N, T, H, W], so the
      S×S matrix is never formed here either.

  Returns:
    [B, S, T, N, Dh] approximate trajectory tokens.
  """
  head_dim = query.shape[-1]
  scale = head_dim ** -0.25
  q, k = query * scale, key * scale
  landmarks = orthogonal_landmarks(q, min(num_landmarks, q.shape[1]))
  kernel_1 = jax.nn.softmax(jnp.einsum("bsnd,brnd->bnsr", q, landmarks), -1)
  kernel_2 = jax.nn.softmax(
      jnp.einsum("brnd,btpnd->bnrtp", landmarks, k), -1)
  _record_frames(lambda: jnp.einsum(
      "bnr,bnrtp->bntp", kernel_1.astype(jnp.float32).mean(axis=2),
      kernel_2.astype(jnp.float32)), frame_shape, "orthoformer")
  per_landmark = jnp.einsum("bnrtp,btpnd->bnrtd", kernel_2, value)
  return jnp.einsum("bnsr,bnrtd->bstnd", kernel_1, per_landmark)


def trajectory_attention(query: Tokens, key: Tokens, value: Tokens, *,
                         trajectories=full_trajectories,
                         project_values: bool = False) -> Tokens:
  """Motionformer's attention: trajectory tokens, then time along each.

  Creates `proj_q` and `proj_kv` in the calling `MultiHeadAttention`.

  Args:
    query: Tokens with grid [B, T, H, W, N, Dh] and cls [B, N, Dh] or None.
    key: like `query`.
    value: like `query`.
    trajectories: the spatial step, `full_trajectories` or
      `orthoformer_trajectories`.
    project_values: weigh proj_kv's values in the temporal step (the paper's
      equation) instead of the trajectory tokens (the official code).

  Returns:
    Tokens shaped like `query`.
  """
  grid_shape = query.grid.shape
  batch, frames, height, width, heads, head_dim = grid_shape
  tokens = frames * height * width
  by_frame = lambda x: x.reshape(batch, frames, height * width, heads, head_dim)
  traj = trajectories(query.grid.reshape(batch, tokens, heads, head_dim),
                      by_frame(key.grid), by_frame(value.grid),
                      frame_shape=(height, width))

  # The trajectory token of each query at the query's own frame.
  own_frame = jnp.arange(tokens) // (height * width)
  own = jnp.take_along_axis(traj, own_frame[None, :, None, None, None],
                            axis=2)[:, :, 0]
  dense = lambda features, name: nn.DenseGeneral(
      features, axis=(-2, -1), dtype=traj.dtype,
      kernel_init=nn.initializers.xavier_uniform(), name=name)
  query_2 = dense((heads, head_dim), "proj_q")(own)
  key_2, value_2 = jnp.moveaxis(
      dense((2, heads, head_dim), "proj_kv")(traj), -3, 0)
  out = dot_product_attention(query_2[:, :, None], key_2,
                              value_2 if project_values else traj)
  grid = out[:, :, 0].reshape(grid_shape)
  cls = None if query.cls is None else _cls_attention(query, key, value)
  return Tokens(grid, cls)


def orthoformer_attention(query: Tokens, key: Tokens, value: Tokens, *,
                          num_landmarks: int = NUM_LANDMARKS,
                          project_values: bool = False) -> Tokens:
  """Trajectory attention with Orthoformer's spatial step (R landmarks)."""
  if num_landmarks < 1:
    raise ConfigError(f"orthoformer num_landmarks={num_landmarks} must be ≥ 1")
  return trajectory_attention(
      query, key, value,
      trajectories=functools.partial(orthoformer_trajectories,
                                     num_landmarks=num_landmarks),
      project_values=project_values)


register_pattern("trajectory", (("attention", trajectory_attention),))
register_pattern("orthoformer", (("attention", orthoformer_attention),))
