"""Convolutional recurrent cells: ConvLSTM, FAST-GRU and the lattice LSTM.

Every cell follows `vst.layers.recurrent`'s protocol, `cell(carry, x) ->
(carry, y)` with `initial_carry(x)`, on feature maps [B, H, W, C] (ConvLSTM,
lattice) or [B, T, H, W, C] (FAST-GRU), so `recurrent.TimeScan` runs any of
them with padding masks.

  ConvLSTMCell     Shi et al. 2015: every input-to-state and state-to-state
                   transform of the LSTM is a convolution, with optional
                   Hadamard peepholes W_c ∘ C whose weights are per position.
  FastGRUCell      Zhu et al. 2020 (FASTER): a GRU on 3D feature maps whose
                   gates are 1×1×1 convolutions inside a bottleneck: x and h
                   are first reduced by `reduction`, with a ReLU for extra
                   non-linearity, gates are computed in the reduced space and
                   expanded back.
  LatticeLSTMCell  Sun et al. 2017 (L²STM): the memory cell's recurrent
                   transitions use locally varying weights (an unshared,
                   locally connected conv: one kernel per spatial position),
                   and the input and forget gates are driven by both
                   modalities (the multi-modal gating of the two-stream
                   lattice).
"""

from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from vst.layers import loop_conv


def _conv(features: int, kernel: Sequence[int], dtype, name: str,
          use_bias: bool = True) -> nn.Conv:
  # The cells run inside `nn.scan`, where XLA:CPU's kernel-gradient
  # convolution is ~25× slow; `loop_conv` computes it as matmuls.
  return nn.Conv(features, tuple(kernel), padding="SAME", use_bias=use_bias,
                 dtype=jnp.dtype(dtype), name=name,
                 conv_general_dilated=loop_conv.conv_general_dilated)


class ConvLSTMCell(nn.Module):
  """ConvLSTM cell (Shi et al. 2015, eq. 3) on maps [B, H, W, C].

  i = σ(W_xi*X + W_hi*H + W_ci∘C + b_i), f likewise, C' = f∘C + i∘tanh(
  W_xc*X + W_hc*H + b_c), o = σ(W_xo*X + W_ho*H + W_co∘C' + b_o),
  H' = o∘tanh(C'). `*` is a convolution with "same" padding, so the state
  keeps the input's spatial size.

  Attributes:
    features: channels of H and C.
    kernel_size: (k_h, k_w) of the input and recurrent convolutions (the
      paper's Moving-MNIST model uses 5×5 for both).
    peephole: the Hadamard peepholes W_c∘C; their weights have the state's
      shape [H, W, features], so they are tied to the input's spatial size.
    forget_bias: added to f's pre-activation (0: the paper's).
    dtype: compute dtype; params and the carry stay float32.
  """
  features: int
  kernel_size: tuple[int, int] = (3, 3)
  peephole: bool = False
  forget_bias: float = 0.0
  dtype: str = "float32"

  def initial_carry(self, x: jax.Array) -> tuple[jax.Array, jax.Array]:
    shape = x.shape[:-1] + (self.features,)
    return jnp.zeros(shape, jnp.float32), jnp.zeros(shape, jnp.float32)

  @nn.compact
  def __call__(self, carry, x):
    c, h = carry
    z = (_conv(4 * self.features, self.kernel_size, self.dtype, "input")(x)
         + _conv(4 * self.features, self.kernel_size, self.dtype, "recurrent",
                 use_bias=False)(h.astype(x.dtype))).astype(jnp.float32)
    i, f, g, o = jnp.split(z, 4, axis=-1)
    if self.peephole:
      p = self.param("peephole", nn.initializers.zeros,
                     (3,) + c.shape[-3:])
      i, f = i + p[0] * c, f + p[1] * c
    c = (jax.nn.sigmoid(f + self.forget_bias) * c
         + jax.nn.sigmoid(i) * jnp.tanh(g))
    if self.peephole:
      o = o + p[2] * c
    h = jax.nn.sigmoid(o) * jnp.tanh(c)
    return (c, h), h


class FastGRUCell(nn.Module):
  """FAST-GRU (Zhu et al. 2020) on clip feature maps [B, T, H, W, C].

  With x̂ = ReLU(W_x x) and ĥ = ReLU(W_h h) the bottleneck reductions
  (1×1×1 convs to C/reduction channels):
    r = σ(U_r [x̂, ĥ]),  z = σ(E_z U_z [x̂, ĥ]),
    h̃ = tanh(E_h U_h [x̂, r∘ĥ]),  h' = (1 - z)∘h + z∘h̃,
  where U_* act in the reduced width and E_* expand back to `features`; all
  are 1×1×1 convolutions, so the hidden state keeps the clip features'
  spatio-temporal resolution, as the paper requires. The paper's BatchNorm
  after the reductions is left out: batch statistics inside a scan over clips
  would need per-step state, and the ReLU alone supplies the non-linearity
  the bottleneck was added for.

  Attributes:
    features: channels of h (the clip features' width).
    reduction: bottleneck ratio.
    dtype: compute dtype; params and the carry stay float32.
  """
  features: int
  reduction: int = 4
  dtype: str = "float32"

  def initial_carry(self, x: jax.Array) -> jax.Array:
    return jnp.zeros(x.shape[:-1] + (self.features,), jnp.float32)

  @nn.compact
  def __call__(self, h, x):
    width = max(self.features // self.reduction, 1)
    one = (1, 1, 1)
    dtype = jnp.dtype(self.dtype)
    x_hat = nn.relu(_conv(width, one, self.dtype, "reduce_input")(x))
    h_hat = nn.relu(_conv(width, one, self.dtype, "reduce_hidden")(
        h.astype(dtype)))
    both = jnp.concatenate([x_hat, h_hat], axis=-1)
    r = jax.nn.sigmoid(_conv(width, one, self.dtype, "reset")(both))
    z = _conv(width, one, self.dtype, "update")(both)
    z = jax.nn.sigmoid(
        _conv(self.features, one, self.dtype, "update_expand")(nn.relu(z))
        .astype(jnp.float32))
    candidate = _conv(width, one, self.dtype, "candidate")(
        jnp.concatenate([x_hat, r * h_hat], axis=-1))
    candidate = jnp.tanh(
        _conv(self.features, one, self.dtype, "candidate_expand")(
            nn.relu(candidate)).astype(jnp.float32))
    h = (1.0 - z) * h + z * candidate
    return h, h


class LatticeLSTMCell(nn.Module):
  """The L²STM cell (Sun et al. 2017) on maps [B, H, W, C].

  The step input is a pair (x, m): x the stream this cell models, m the
  other modality (x itself for a single stream). With ⊛ a locally connected
  convolution (a separate kernel at every position):
    i = σ(W_xi*x + W_mi*m + U_i⊛H),  f = σ(W_xf*x + W_mf*m + U_f⊛H),
    o = σ(W_xo*x + U_o*H),  C' = f∘C + i∘tanh(W_xc*x + U_c⊛H),
    H' = o∘tanh(C').
  The locally varying U_{i,f,c} are the lattice: memory transitions differ
  across positions, which lets each position follow its own non-stationary
  motion; i and f read both modalities, which is the paper's multi-modal
  gating of the two streams.

  Attributes:
    features: channels of H and C.
    kernel_size: (k_h, k_w) of every transform.
    dtype: compute dtype; params and the carry stay float32.
  """
  features: int
  kernel_size: tuple[int, int] = (3, 3)
  dtype: str = "float32"

  def initial_carry(self, xm) -> tuple[jax.Array, jax.Array]:
    x = xm[0]
    shape = x.shape[:-1] + (self.features,)
    return jnp.zeros(shape, jnp.float32), jnp.zeros(shape, jnp.float32)

  @nn.compact
  def __call__(self, carry, xm):
    c, h = carry
    x, m = xm
    n = self.features
    dtype = jnp.dtype(self.dtype)
    hd = h.astype(dtype)
    from_x = _conv(4 * n, self.kernel_size, self.dtype, "input")(x)
    from_m = _conv(2 * n, self.kernel_size, self.dtype, "gate_modality")(m)
    lattice = loop_conv.LocalConv(3 * n, tuple(self.kernel_size),
                                  dtype=self.dtype, name="lattice")(hd)
    output_gate = _conv(n, self.kernel_size, self.dtype, "output_recurrent",
                        use_bias=False)(hd)
    xi, xf, xo, xc = jnp.split(from_x.astype(jnp.float32), 4, axis=-1)
    mi, mf = jnp.split(from_m.astype(jnp.float32), 2, axis=-1)
    li, lf, lc = jnp.split(lattice.astype(jnp.float32), 3, axis=-1)
    i = jax.nn.sigmoid(xi + mi + li)
    f = jax.nn.sigmoid(xf + mf + lf)
    o = jax.nn.sigmoid(xo + output_gate.astype(jnp.float32))
    c = f * c + i * jnp.tanh(xc + lc)
    h = o * jnp.tanh(c)
    return (c, h), h
