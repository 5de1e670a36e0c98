"""The implementations behind `attention.dot_product_attention`, and the switch.

  xla        `jax.nn.dot_product_attention` as XLA lowers it: logits and
             probabilities materialised, [B, N, L, S] each.
  blockwise  `attention_blockwise.blockwise_attention`: online softmax over
             key blocks, probabilities recomputed in the backward pass; pure
             JAX, so it runs on every backend.
  cudnn      `jax.nn.dot_product_attention(implementation="cudnn")`: cuDNN's
             fused flash attention; GPU, bfloat16/float16 only.
  splash     JAX's Pallas splash-attention kernel; TPU only, no bias or mask.
  auto       one of the above per call, by backend, dtype and shape
             (`choose_implementation`).

Patterns never name an implementation: the one in force is set around a
model's encoder with `attention_implementation(name)` (a context variable
read when the kernel is traced; `uses_attention_impl` sets it from a
model's field), so `model.attention_impl` reaches every pattern without
passing through them. `attention_choices()` collects what
each traced call chose, for the trainer to log at start-up.
"""

import contextlib
import contextvars
import functools
import math
from typing import Callable, Iterator, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from vst.errors import ConfigError, check_choice
from vst.layers.attention_blockwise import blockwise_attention

FIELD = "model.attention_impl"
IMPLEMENTATIONS = ("auto", "xla", "blockwise", "cudnn", "splash")
HALF_PRECISION = (jnp.dtype(jnp.bfloat16), jnp.dtype(jnp.float16))

# Without a fused kernel (CPU, or float32 on GPU/TPU), `auto` switches from
# XLA to blockwise when one head's logits, L·S, reach this many entries.
# Measured on the 2-core CPU (B=1, N=12, Dh=64, float32, fwd+bwd, blocks of
# 256; the table is in the commit that set it): blockwise took 0.79× XLA's
# time and half its temp memory at L=S=512, 0.64× and 1/5 at 784, 0.57× and
# 1/14 at 1,568, 0.41× and 1/18 at 3,136; at 392 and 196 the times tied
# within the shared machine's noise, and at 8 tokens in 196 groups
# (TimeSformer's time attention) XLA was faster and lighter. Below the
# threshold `auto` also keeps today's numerics bit for bit.
BLOCKWISE_MIN_LOGITS = 512 * 512
# Splash works on 128-token blocks: below one block, padding is most of the
# work and XLA's small matmuls do as well (a choice, not a TPU measurement).
SPLASH_MIN_LENGTH = 128
SPLASH_BLOCKS = (512, 256, 128)

_REQUESTED = contextvars.ContextVar("attention_implementation",
                                    default="auto")
_CHOICES = contextvars.ContextVar("attention_choices", default=None)


class AttentionChoice(NamedTuple):
  """What one traced kernel call asked for and got."""
  requested: str
  chosen: str
  query_shape: tuple[int, ...]  # [..., L, N, Dh]
  key_shape: tuple[int, ...]  # [..., S, N, Dh]
  dtype: str
  backend: str


def check_implementation(name: str, field: str = FIELD) -> str:
  """`name` if it is an implementation; else ConfigError naming `field`."""
  check_choice(field, name, IMPLEMENTATIONS)
  return name


@contextlib.contextmanager
def attention_implementation(name: str, field: str = FIELD) -> Iterator[None]:
  """Makes `name` the implementation of every kernel call traced inside."""
  token = _REQUESTED.set(check_implementation(name, field))
  try:
    yield
  finally:
    _REQUESTED.reset(token)


def uses_attention_impl(method: Callable) -> Callable:
  """A Module method traced under the Module's `attention_impl` field.

  Put it below `@nn.compact` on a transformer model's `__call__`: every
  attention inside, however deep, runs the implementation the config names.
  """
  @functools.wraps(method)
  def traced_under_field(module, *args, **kwargs):
    with attention_implementation(module.attention_impl):
      return method(module, *args, **kwargs)
  return traced_under_field


def requested_implementation() -> str:
  """The implementation in force: the innermost `attention_implementation`."""
  return _REQUESTED.get()


@contextlib.contextmanager
def attention_choices() -> Iterator[list[AttentionChoice]]:
  """Collects an `AttentionChoice` per kernel call traced inside.

  Tracing is enough (`jax.eval_shape` of the model's apply), so a trainer
  can log, before compiling, which implementation each attention runs.
  """
  choices = []
  token = _CHOICES.set(choices)
  try:
    yield choices
  finally:
    _CHOICES.reset(token)


def choose_implementation(requested: str, query_shape, key_shape, dtype, *,
                          backend: str | None = None, has_bias: bool = False,
                          has_mask: bool = False) -> str:
  """The implementation a kernel call runs; `auto` resolved.

  Args:
    requested: one of IMPLEMENTATIONS.
    query_shape: [..., L, N, Dh].
    key_shape: [..., S, N, Dh].
    dtype: the inputs' dtype.
    backend: "cpu", "gpu", "tpu"; None for `jax.default_backend()`.
    has_bias: whether an additive bias is passed.
    has_mask: whether a boolean mask is passed.

  Returns:
    "xla", "blockwise", "cudnn" or "splash".

  Raises:
    ConfigError: a request the backend, dtype or call cannot take, in one
      line naming `model.attention_impl`, the backend and the dtype.
  """
  check_implementation(requested)
  backend = backend or jax.default_backend()
  dtype = jnp.dtype(dtype)
  length, kv_length = query_shape[-3], key_shape[-3]
  if requested == "cudnn" and not _cudnn_applies(backend, dtype):
    raise ConfigError(
        f"{FIELD}='cudnn' needs a GPU and bfloat16 or float16 activations; "
        f"this is backend {backend} with {dtype.name} (use 'auto', 'xla' or "
        "'blockwise')")
  if requested == "splash":
    if backend != "tpu":
      raise ConfigError(
          f"{FIELD}='splash' needs a TPU; this is backend {backend} with "
          f"{dtype.name} (use 'auto', 'xla' or 'blockwise')")
    if has_bias or has_mask:
      raise ConfigError(
          f"{FIELD}='splash' takes no additive bias or mask, and this "
          f"pattern passes one (backend {backend}, {dtype.name}); use 'auto', "
          "which picks per call")
  if requested != "auto":
    return requested
  if _cudnn_applies(backend, dtype) and query_shape[-1] % 8 == 0 and (
      query_shape[-1] <= 128):
    return "cudnn"
  if (backend == "tpu" and not (has_bias or has_mask)
      and min(length, kv_length) >= SPLASH_MIN_LENGTH):
    return "splash"
  if length * kv_length >= BLOCKWISE_MIN_LOGITS:
    return "blockwise"
  return "xla"


def _cudnn_applies(backend: str, dtype) -> bool:
  return backend in ("gpu", "cuda") and jnp.dtype(dtype) in HALF_PRECISION


def attend(query: jax.Array, key: jax.Array, value: jax.Array, *,
           bias: jax.Array | None = None, mask: jax.Array | None = None,
           implementation: str | None = None) -> jax.Array:
  """softmax(q kᵀ / √Dh + bias, masked) v by the chosen implementation.

  Args:
    query: [..., L, N, Dh].
    key: [..., S, N, Dh].
    value: [..., S, N, Dh].
    bias: broadcastable to [..., N, L, S], or None.
    mask: bool, broadcastable to [..., N, L, S], or None.
    implementation: one of IMPLEMENTATIONS; None for the one in force.

  Returns:
    [..., L, N, Dh].
  """
  requested = implementation or requested_implementation()
  backend = jax.default_backend()
  chosen = choose_implementation(
      requested, query.shape, key.shape, query.dtype, backend=backend,
      has_bias=bias is not None, has_mask=mask is not None)
  choices = _CHOICES.get()
  if choices is not None:
    choices.append(AttentionChoice(requested, chosen, tuple(query.shape),
                                   tuple(key.shape), query.dtype.name,
                                   backend))
  return over_batch_axes(KERNELS[chosen], query, key, value, bias, mask)


# --- One batch axis ---------------------------------------------------------

Kernel = Callable[..., jax.Array]  # (q, k, v, bias, mask), jax.nn's layout.


def over_batch_axes(kernel: Kernel, query, key, value, bias, mask):
  """Runs a one-batch-axis kernel over any number of leading axes.

  Leading axes along which the bias and mask are constant fold into one
  batch axis (as `dot_product_attention` always did); an axis along which
  they vary (Swin's windows, Longformer's chunks) is mapped with `jax.vmap`,
  so a per-window bias is never broadcast over the batch in memory.

  Args:
    kernel: (q [B, L, N, Dh], k, v, bias, mask) -> [B, L, N, Dh], the bias
      and mask 4-D and broadcastable to [B, N, L, S] (or None).
    query: [..., L, N, Dh].
    key: [..., S, N, Dh].
    value: [..., S, N, Dh].
    bias: broadcastable to [..., N, L, S], or None.
    mask: broadcastable to [..., N, L, S], or None.

  Returns:
    [..., L, N, Dh].
  """
  full = query.shape[:-3] + (query.shape[-2], query.shape[-3],
                             key.shape[-3])
  extras = []
  for name, x in (("bias", bias), ("mask", mask)):
    if x is not None:
      if x.ndim > len(full) or any(
          n not in (1, f) for n, f in zip(x.shape[::-1], full[::-1])):
        raise ValueError(f"attention {name} of shape {x.shape} does not "
                         f"broadcast to [..., N, L, S] = {list(full)}")
      x = x.reshape((1,) * (len(full) - x.ndim) + x.shape)
    extras.append(x)
  return _over_leading(kernel, query, key, value, *extras)


def _over_leading(kernel, q, k, v, bias, mask):
  lead = q.ndim - 3
  extras = (bias, mask)
  if lead == 0:
    add = lambda x: None if x is None else x[None]
    return _over_leading(kernel, q[None], k[None], v[None],
                         *map(add, extras))[0]
  if lead == 1:
    return kernel(q, k, v, bias, mask)
  varying = [a for a in range(lead) if any(
      x is not None and x.shape[a] > 1 for x in extras)]
  if not varying:
    fold = lambda x: x.reshape((-1,) + x.shape[lead:])
    squeeze = lambda x: None if x is None else x.reshape(x.shape[lead:])[None]
    out = kernel(fold(q), fold(k), fold(v), *map(squeeze, extras))
    return out.reshape(q.shape[:lead] + out.shape[1:])
  axis = varying[0]
  axes, args = [], []
  for x in extras:
    maps = x is not None and x.shape[axis] > 1
    axes.append(axis if maps else None)
    args.append(x if maps or x is None else jnp.squeeze(x, axis))
  inner = lambda q, k, v, b, m: _over_leading(kernel, q, k, v, b, m)
  return jax.vmap(inner, in_axes=(axis, axis, axis, *axes),
                  out_axes=axis)(q, k, v, *args)


# --- The kernels --------------------------------------------------------------


def xla_attention(query, key, value, bias=None, mask=None):
  """jax.nn's attention as vst always ran it (`implementation=None`)."""
  return jax.nn.dot_product_attention(query, key, value, bias=bias,
                                      mask=mask, implementation=None)


def cudnn_attention(query, key, value, bias=None, mask=None):
  """cuDNN's fused flash attention through jax.nn (GPU, bf16/fp16)."""
  return jax.nn.dot_product_attention(query, key, value, bias=bias,
                                      mask=mask, implementation="cudnn")


def splash_attention(query, key, value, bias=None, mask=None, *,
                     interpret: bool = False):
  """JAX's Pallas TPU splash-attention kernel over [B, L, N, Dh] inputs.

  Splash takes [N, L, Dh] per example, unscaled logits and lengths in whole
  128-token blocks: q is scaled here, L and S are zero-padded up to a
  multiple of 128, and padded keys are cut off by a static mask (the only
  kind splash takes without per-block masks built at trace time).

  Args:
    query: [B, L, N, Dh].
    key: [B, S, N, Dh].
    value: [B, S, N, Dh].
    bias: must be None.
    mask: must be None.
    interpret: run the Pallas kernel in interpret mode (on CPU, for tests).

  Returns:
    [B, L, N, Dh].
  """
  from jax.experimental.pallas.ops.tpu import splash_attention as splash
  if bias is not None or mask is not None:
    raise ConfigError(f"{FIELD}='splash' takes no additive bias or mask")
  length, heads, head_dim = query.shape[1:]
  kv_length = key.shape[1]
  pad_q, pad_k = -length % 128, -kv_length % 128
  padded_q, padded_k = length + pad_q, kv_length + pad_k
  if pad_k:
    keys = np.broadcast_to(np.arange(padded_k) < kv_length,
                           (padded_q, padded_k))
    head_mask = splash.NumpyMask(keys)
  else:
    head_mask = splash.FullMask((padded_q, padded_k))
  block_q = next(b for b in SPLASH_BLOCKS if padded_q % b == 0)
  block_k = next(b for b in SPLASH_BLOCKS if padded_k % b == 0)
  blocks = splash.BlockSizes(
      block_q=block_q, block_kv=block_k, block_kv_compute=block_k,
      block_q_dkv=block_q, block_kv_dkv=block_k, block_kv_dkv_compute=block_k,
      block_q_dq=block_q, block_kv_dq=block_k)
  kernel = splash.make_splash_mha_single_device(
      splash.MultiHeadMask([head_mask] * heads), block_sizes=blocks,
      interpret=interpret)

  def heads_first(x, pad):  # [B, L, N, Dh] -> [B, N, L + pad, Dh]
    return jnp.pad(jnp.swapaxes(x, 1, 2), ((0, 0), (0, 0), (0, pad), (0, 0)))

  q = query * jnp.asarray(1 / math.sqrt(head_dim), query.dtype)
  out = jax.vmap(kernel)(heads_first(q, pad_q), heads_first(key, pad_k),
                         heads_first(value, pad_k))
  return jnp.swapaxes(out[:, :, :length], 1, 2)


KERNELS: dict[str, Kernel] = {
    "xla": xla_attention,
    "blockwise": blockwise_attention,
    "cudnn": cudnn_attention,
    "splash": splash_attention,
}
