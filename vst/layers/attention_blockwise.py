"""Blockwise attention: FlashAttention-2's online softmax in pure JAX.

XLA's attention materialises the logits and the probabilities, [B, N, L, S]
each, and the backward pass keeps the probabilities: at ViViT-B's 3,136
joint tokens that is 0.47 GB per clip and layer in float32. Here the keys are
visited in blocks; per query block a running maximum `m`, a running
denominator `l` and an unnormalised output `o` are rescaled as each key block
arrives (Dao 2023, "FlashAttention-2", Algorithm 1), and `o / l` is taken
once at the end. Only the output and the per-row statistics `m` and `1/l`
(the logsumexp `m + log l`, kept in two parts: a fully masked row has
m ≈ -2.4e38, where adding log l would round away) are kept for the backward
pass, which recomputes each block's probabilities as `exp(s - m) / l`
(Algorithm 2) while it accumulates dQ, dK, dV and the bias's
gradient. Memory is O(L + S) per head instead of O(L·S); the work is one
extra Q·Kᵀ per block.

Semantics are those of `jax.nn.dot_product_attention` (layout [B, L, N, Dh],
scale 1/√Dh, bias added to the logits, masked logits replaced by the same
large negative number, so a fully masked row averages all values as there).
Lengths need not be multiples of the blocks: L and S are padded up, padded
keys get probability exactly 0 and padded queries are dropped.
"""

import functools
import math

import jax
import jax.numpy as jnp
from jax import lax

# Largest blocks, in tokens. The blocks actually used split a length into
# equal parts no longer than these (`balanced_block`), so 1,568 keys run as
# 7 blocks of 224, not 7 of 256 with 224 padded. On the 2-core CPU at
# ViViT-B shapes (N=12, Dh=64, L=S=512..3136) blocks of 256 ran fwd+bwd
# within the noise of 128 and 512, with the least or nearly the least temp
# memory (512 needs 48 MiB at L=512 where 256 needs 18); the table is in the
# commit that set it.
BLOCK_Q = 256
BLOCK_K = 256


def balanced_block(length: int, block: int) -> int:
  """Largest part when `length` is cut into ceil(length/block) equal parts."""
  if block < 1:
    raise ValueError(f"attention block size {block} must be at least 1")
  return -(-length // -(-length // block))


def _masked_value(dtype) -> jax.Array:
  """jax.nn.dot_product_attention's value for a masked logit."""
  return jnp.asarray(-0.7 * jnp.finfo(jnp.float32).max, dtype)


def blockwise_attention(query: jax.Array, key: jax.Array, value: jax.Array,
                        bias: jax.Array | None = None,
                        mask: jax.Array | None = None, *,
                        block_q: int = BLOCK_Q,
                        block_k: int = BLOCK_K) -> jax.Array:
  """softmax(q kᵀ / √Dh + bias, masked) v without [L, S] matrices.

  Args:
    query: [B, L, N, Dh].
    key: [B, S, N, Dh].
    value: [B, S, N, Dh].
    bias: 4-D, broadcastable to [B, N, L, S] (each axis 1 or full), or None.
      Its gradient is computed; a broadcast axis is summed over.
    mask: bool, 4-D, broadcastable to [B, N, L, S]; False drops the logit.
    block_q: largest query block.
    block_k: largest key block.

  Returns:
    [B, L, N, Dh] in the query's dtype.
  """
  batch, length, heads, head_dim = query.shape
  kv_length = key.shape[1]
  full = (batch, heads, length, kv_length)
  for name, x in (("bias", bias), ("mask", mask)):
    if x is not None and (x.ndim != 4 or any(
        n not in (1, f) for n, f in zip(x.shape, full))):
      raise ValueError(f"attention {name} of shape {x.shape} does not "
                       f"broadcast to [B, N, L, S] = {list(full)}")
  bq = balanced_block(length, block_q)
  bk = balanced_block(kv_length, block_k)
  pad_q = -length % bq
  pad_k = -kv_length % bk

  def heads_first(x, pad):  # [B, L, N, Dh] -> [B, N, L + pad, Dh]
    return jnp.pad(jnp.swapaxes(x, 1, 2), ((0, 0), (0, 0), (0, pad), (0, 0)))

  def pad_lengths(x, fill):  # Only the axes that are not broadcast.
    widths = [(0, 0), (0, 0), (0, pad_q * (x.shape[2] > 1)),
              (0, pad_k * (x.shape[3] > 1))]
    return jnp.pad(x, widths, constant_values=fill)

  # Scaling q once instead of every logit; exact when Dh is a power of 4.
  q = heads_first(query * jnp.asarray(1 / math.sqrt(head_dim), query.dtype),
                  pad_q)
  k, v = heads_first(key, pad_k), heads_first(value, pad_k)
  if bias is not None:
    bias = pad_lengths(bias.astype(jnp.float32), 0.0)
  if mask is not None:
    mask = pad_lengths(mask.astype(bool), True)
  out = _flash(q, k, v, bias, mask, kv_length, bq, bk)
  return jnp.swapaxes(out[:, :, :length], 1, 2)


# Loops over blocks; one block runs as straight-line code, which compiles
# and runs faster than a one-trip XLA loop (most patterns' groups are short).


def _fori(n: int, body, init):
  return body(0, init) if n == 1 else lax.fori_loop(0, n, body, init)


def _map(f, n: int):
  if n == 1:
    return jax.tree.map(lambda x: x[None], f(0))
  return lax.map(f, jnp.arange(n))


def _scan(body, n: int, init):
  """(carry, stacked ys) of body(i, carry) -> (carry, y) for i < n."""
  if n == 1:
    carry, y = body(0, init)
    return carry, jax.tree.map(lambda x: x[None], y)
  return lax.scan(lambda carry, i: body(i, carry), init, jnp.arange(n))


def _block(x: jax.Array | None, i, size: int, axis: int) -> jax.Array | None:
  """Block `i` of `size` along `axis`, or all of a broadcast (size-1) axis."""
  if x is None or x.shape[axis] == 1:
    return x
  return lax.dynamic_slice_in_dim(x, i * size, size, axis)


def _logits(q_i, k_j, bias_ij, mask_ij, j, bk: int, kv_length: int):
  """[B, N, bq, bk] float32 logits of one block, bias added, masks applied."""
  s = jnp.einsum("bnqd,bnkd->bnqk", q_i, k_j,
                 preferred_element_type=jnp.float32)
  if bias_ij is not None:
    s = s + bias_ij
  if mask_ij is not None:
    s = jnp.where(mask_ij, s, _masked_value(s.dtype))
  if kv_length % bk:  # Padded keys: probability exactly 0.
    index = j * bk + lax.broadcasted_iota(jnp.int32, (1, 1, 1, bk), 3)
    s = jnp.where(index < kv_length, s, -jnp.inf)
  return s


def _forward(q, k, v, bias, mask, kv_length: int, bq: int, bk: int):
  """(out [B, N, Lp, Dh] in q's dtype, (m, 1/l) each [B, N, Lp] float32)."""
  num_q, num_k = q.shape[2] // bq, k.shape[2] // bk

  def query_block(i):
    q_i = _block(q, i, bq, 2)
    bias_i, mask_i = _block(bias, i, bq, 2), _block(mask, i, bq, 2)

    def key_block(j, carry):
      o, m, l = carry
      s = _logits(q_i, _block(k, j, bk, 2), _block(bias_i, j, bk, 3),
                  _block(mask_i, j, bk, 3), j, bk, kv_length)
      m_new = jnp.maximum(m, s.max(axis=-1))
      p = jnp.exp(s - m_new[..., None])
      correction = jnp.exp(m - m_new)
      l = l * correction + p.sum(axis=-1)
      v_j = _block(v, j, bk, 2)
      o = o * correction[..., None] + jnp.einsum(
          "bnqk,bnkd->bnqd", p.astype(v.dtype), v_j,
          preferred_element_type=jnp.float32)
      return o, m_new, l

    rows = q_i.shape[:3]
    init = (jnp.zeros(rows + (v.shape[-1],), jnp.float32),
            jnp.full(rows, -jnp.inf, jnp.float32),
            jnp.zeros(rows, jnp.float32))
    o, m, l = _fori(num_k, key_block, init)
    inv_l = 1 / l
    return (o * inv_l[..., None]).astype(q.dtype), m, inv_l

  out, m, inv_l = _map(query_block, num_q)  # [nq, B, N, bq, ...]
  merge = lambda x: jnp.moveaxis(x, 0, 2).reshape(
      x.shape[1:3] + (num_q * bq,) + x.shape[4:])
  return merge(out), (merge(m), merge(inv_l))


@functools.partial(jax.custom_vjp, nondiff_argnums=(5, 6, 7))
def _flash(q, k, v, bias, mask, kv_length, bq, bk):
  """Attention over padded [B, N, Lp, Dh] q (pre-scaled), k, v."""
  return _forward(q, k, v, bias, mask, kv_length, bq, bk)[0]


def _flash_fwd(q, k, v, bias, mask, kv_length, bq, bk):
  out, stats = _forward(q, k, v, bias, mask, kv_length, bq, bk)
  return out, (q, k, v, bias, mask, out, stats)


def _flash_bwd(kv_length, bq, bk, residuals, d_out):
  """FlashAttention-2's backward: key blocks outside, query blocks inside.

  Each key block accumulates its dK, dV over the query blocks; dQ and the
  bias gradient are carried whole and updated block by block.
  """
  q, k, v, bias, mask, out, (m, inv_l) = residuals
  num_q, num_k = q.shape[2] // bq, k.shape[2] // bk
  d_out = d_out.astype(jnp.float32)
  # D_i = rowsum(dO ∘ O): the softmax backward's per-row term.
  delta = jnp.sum(d_out * out.astype(jnp.float32), axis=-1)

  def key_block(j, carry):
    dq, d_bias = carry
    k_j, v_j = _block(k, j, bk, 2), _block(v, j, bk, 2)
    bias_j, mask_j = _block(bias, j, bk, 3), _block(mask, j, bk, 3)

    def query_block(i, carry):
      dk_j, dv_j, dq, d_bias = carry
      q_i, do_i = _block(q, i, bq, 2), _block(d_out, i, bq, 2)
      mask_ij = _block(mask_j, i, bq, 2)
      s = _logits(q_i, k_j, _block(bias_j, i, bq, 2), mask_ij, j, bk,
                  kv_length)
      p = (jnp.exp(s - _block(m, i, bq, 2)[..., None])
           * _block(inv_l, i, bq, 2)[..., None])
      dv_j = dv_j + jnp.einsum("bnqk,bnqd->bnkd", p, do_i)
      dp = jnp.einsum("bnqd,bnkd->bnqk", do_i, v_j,
                      preferred_element_type=jnp.float32)
      ds = p * (dp - _block(delta, i, bq, 2)[..., None])
      if mask_ij is not None:  # A masked logit is a constant: no gradient
        ds = jnp.where(mask_ij, ds, 0.0)  # (p of a fully masked row is 1/S).
      dk_j = dk_j + jnp.einsum("bnqk,bnqd->bnkd", ds, q_i,
                               preferred_element_type=jnp.float32)
      dq_i = _block(dq, i, bq, 2) + jnp.einsum(
          "bnqk,bnkd->bnqd", ds, k_j, preferred_element_type=jnp.float32)
      dq = lax.dynamic_update_slice_in_dim(dq, dq_i, i * bq, 2)
      if d_bias is not None:
        d_bias = _add_bias_block(d_bias, ds, i, j, bq, bk)
      return dk_j, dv_j, dq, d_bias

    zeros = jnp.zeros(k_j.shape, jnp.float32)
    dk_j, dv_j, dq, d_bias = _fori(num_q, query_block,
                                   (zeros, zeros, dq, d_bias))
    return (dq, d_bias), (dk_j, dv_j)

  d_bias = None if bias is None else jnp.zeros(bias.shape, jnp.float32)
  (dq, d_bias), (dk, dv) = _scan(key_block, num_k,
                                 (jnp.zeros(q.shape, jnp.float32), d_bias))
  merge = lambda x: jnp.moveaxis(x, 0, 2).reshape(k.shape)
  # q was scaled before it came in: this is d(q·scale), as the caller wants.
  return (dq.astype(q.dtype), merge(dk).astype(k.dtype),
          merge(dv).astype(v.dtype),
          None if bias is None else d_bias.astype(bias.dtype), None)


def _add_bias_block(d_bias, ds, i, j, bq: int, bk: int):
  """d_bias[block i, j] += ds, summed over the axes the bias broadcasts."""
  axes = tuple(a for a in range(4) if d_bias.shape[a] == 1 and ds.shape[a] > 1)
  ds = ds.sum(axis=axes, keepdims=True)
  q_start = i * bq if d_bias.shape[2] > 1 else 0
  k_start = j * bk if d_bias.shape[3] > 1 else 0
  start = (0, 0, q_start, k_start)
  current = lax.dynamic_slice(d_bias, start, ds.shape)
  return lax.dynamic_update_slice(d_bias, current + ds, start)


_flash.defvjp(_flash_fwd, _flash_bwd)
