"""One spatio-temporal convolution whose factorisation is a parameter.

Every 3D CNN in vst (C3D, I3D/S3D, ResNet3D, MC3, R(2+1)D, P3D, CSN) builds its
t×k×k convolutions from `SpaceTimeConv`, which is "conv → norm (→ ReLU)" with
the conv factored as `factorization` says. Inputs are [B, T, H, W, C].

  full       one t×k×k conv (`groups` > 1 gives ResNeXt's group conv).
  r2plus1d   1×k×k spatial conv to M channels → norm → ReLU → t×1×1 temporal
             conv (Tran et al. 2018). M is the paper's rule (below), which
             keeps the parameter count of the full conv; `mid_features`
             overrides it (torchvision's per-block M, S3D's M = out).
  p3d_a      P3D-A (Qiu et al. 2017): the same cascade S → T, with M = out.
  p3d_b      P3D-B: S and T in parallel on the input, their outputs summed.
  p3d_c      P3D-C: S, then T on S's output, the two summed (S + T(S)).
  csn_ip     interaction-preserved CSN (Tran et al. 2019): a 1×1×1 conv →
             norm, then a depthwise t×k×k conv.
  csn_ir     interaction-reduced CSN: the depthwise t×k×k conv alone.
  depthwise  a depthwise t×k×k conv with channel multiplier features / C_in
             (csn_ir is the multiplier-1 case, kept as the paper's name).

In P3D-B/C each of S and T ends in its own norm and ReLU before the sum, as in
the authors' code. Strides: the spatial stride goes to the spatial conv and the
temporal stride to the temporal conv (r2plus1d, p3d_a), except where both
branches must meet on one grid (p3d_b: both take the full stride; p3d_c: S
takes it).

Padding is symmetric, k//2 per side (PyTorch's, so converted weights match).
`temporal_padding="replicate"` repeats the edge frames instead of padding with
zeros: then a mean-inflated network maps a video of identical frames exactly
to its 2D network's output, edges included (I3D's "boring video" fixed point).

Lowering. XLA's CPU backend runs 3D convolutions several times slower than
the same work as 2D convolutions, and grouped / depthwise ones (CSN) ~100×
slower (measured on 2 cores, [32, 8, 16, 16, 16] → 16 channels, forward /
gradient ms: 3×3×3 native 92 / 193, as a sum of three 2D convs over shifted
frames 19 / 51, as one 2D conv on time folded into channels 45 / 84; 3×1×1
native 12 / 26, as a 2D conv over (T, H·W) 3 / 8; depthwise 3×3×3 native
552 / 705, as 2D depthwise convs 164 / 220, as 27 shifted multiply-adds
2.5 / 72). So `lowering="frames"` (the default on CPU) computes the same conv
from 2D convs per temporal tap, temporal-only convs as 2D convs over
(T, H·W), and depthwise convs as per-tap products written as `dot_general`s
without contraction (XLA turns them into multiplies, and the MAC counter
still sees a depthwise conv's MACs), patch embeddings (stride = kernel, no
padding) as one matmul over the cut patches (`patchify_conv`), and depthwise
convs with a hand-written gradient: autodiff's
(a pad of the output gradient per tap, interior where strided, summed) made
the train steps of the models built on depthwise convs several times slower
than their forward suggests; written as one more depthwise conv it trains
MViT tiny at 164 clips/s instead of 63, UniFormer tiny at 307 instead of 207
(111 instead of 36 with its 5×5×5 kernel), CSN tiny unchanged (2026-12-05,
`vst.bench`, old and new back to back in one process). "native" is one `conv_general_dilated`
(cuDNN's 3D kernels on GPU). Both give the same numbers and parameters.
"""

import functools
import os
from typing import Callable

from jax import lax

import flax.linen as nn
import jax
import jax.numpy as jnp

from vst.errors import ConfigError, check_choice
from vst.layers import loop_conv

FACTORIZATIONS = ("full", "r2plus1d", "p3d_a", "p3d_b", "p3d_c", "csn_ip",
                  "csn_ir", "depthwise")
NORMS = ("batch", "none")
LOWERINGS = ("auto", "native", "frames")
TEMPORAL_PADDINGS = ("zeros", "replicate")

# He (fan-out) initialisation, as torchvision's video ResNets use.
conv_kernel_init = nn.initializers.variance_scaling(2.0, "fan_out", "normal")


def r2plus1d_mid_features(in_features: int, out_features: int,
                          kernel_size=(3, 3, 3)) -> int:
  """The (2+1)D intermediate width M_i of Tran et al. 2018, Sec. 3.5.

  M = ⌊t·d²·N_in·N_out / (d²·N_in + t·N_out)⌋ makes the (2+1)D block's
  parameters (d²·N_in·M + t·M·N_out) equal the full t×d×d conv's.
  """
  t, h, w = kernel_size
  return (t * h * w * in_features * out_features) // (
      h * w * in_features + t * out_features)


def same_padding(kernel_size) -> list[tuple[int, int]]:
  """PyTorch-style symmetric padding: k//2 each side for odd k."""
  return [((k - 1) // 2, k // 2) for k in kernel_size]


def pool_padding(window) -> list[tuple[int, int]]:
  """PyTorch's pool padding, (k-1)//2 each side: a 2×2×2 pool pads nothing.

  (TF's "SAME", as in DeepMind's I3D, would pad 7 → 4 where this gives 3;
  the two agree on the even sizes of 224² clips.)
  """
  return [((k - 1) // 2, (k - 1) // 2) for k in window]


def max_pool3d(x: jax.Array, window, strides) -> jax.Array:
  """Max pool of [B, T, H, W, C] with PyTorch's padding.

  A window larger than the input is clipped to it, so that clips smaller
  than a network was designed for (8×32² synthetic ones) still pass through;
  at the published sizes nothing is clipped.
  """
  window = tuple(min(k, size) for k, size in zip(window, x.shape[1:4]))
  return nn.max_pool(x, window, tuple(strides), pool_padding(window))


def auto_lowering() -> str:
  """What "auto" means here: "frames" on CPU, "native" on accelerators, unless
  the environment variable VST_CONV_LOWERING says "native" or "frames" (so a
  CPU host can compile what an accelerator would run, e.g. to measure its
  memory: `vst.tools.model_table --memory`). Read at trace time."""
  forced = os.environ.get("VST_CONV_LOWERING", "")
  if forced:
    check_choice("VST_CONV_LOWERING", forced, ("native", "frames"))
    return forced
  return "frames" if jax.default_backend() == "cpu" else "native"


def spacetime_conv(x: jax.Array, kernel: jax.Array, strides, padding,
                   groups: int = 1, lowering: str = "auto") -> jax.Array:
  """`lax.conv_general_dilated` of [B, T, H, W, C] by [t, h, w, C/g, D].

  Args:
    x: input clips.
    kernel: flax layout, [t, h, w, C / groups, D].
    strides: (s_t, s_h, s_w).
    padding: three (low, high) pairs.
    groups: feature groups (C for depthwise).
    lowering: "native", "frames" or "auto" (frames on CPU); see the module
      docstring.
  """
  check_choice("lowering", lowering, LOWERINGS)
  if lowering == "auto":
    lowering = auto_lowering()
  if lowering == "native":
    return lax.conv_general_dilated(
        x, kernel, tuple(strides), padding, feature_group_count=groups,
        dimension_numbers=("NDHWC", "DHWIO", "NDHWC"))
  kt, kh, kw, _, features = kernel.shape
  (p_t, p_h, p_w), (s_t, s_h, s_w) = padding, strides
  if groups > 1 and groups == x.shape[-1]:
    return _depthwise_by_taps(x, kernel, strides, padding)
  if is_patchify(kernel.shape, strides, padding, groups):
    return patchify_conv(x, kernel)
  two_d = ("NHWC", "HWIO", "NHWC")
  if kh == kw == 1 and kt > 1:  # Temporal conv: 2D over (T, H·W).
    x = x[:, :, ::s_h, ::s_w]
    b, t, h, w, c = x.shape
    y = lax.conv_general_dilated(
        x.reshape(b, t, h * w, c), kernel[:, 0], (s_t, 1), (p_t, (0, 0)),
        feature_group_count=groups, dimension_numbers=two_d)
    return y.reshape(b, y.shape[1], h, w, features)
  x = jnp.pad(x, ((0, 0), p_t, (0, 0), (0, 0), (0, 0)))
  b, t, h, w, c = x.shape
  t_out = (t - kt) // s_t + 1
  y = 0.0
  for dt in range(kt):  # Each temporal tap: one 2D conv over all frames.
    frames = x[:, dt:dt + (t_out - 1) * s_t + 1:s_t]
    y = y + lax.conv_general_dilated(
        frames.reshape(b * t_out, h, w, c), kernel[dt], (s_h, s_w),
        (p_h, p_w), feature_group_count=groups, dimension_numbers=two_d)
  return y.reshape((b, t_out) + y.shape[1:])


def is_patchify(kernel_shape, strides, padding, groups: int = 1) -> bool:
  """Whether a conv cuts its input into disjoint patches: stride = kernel,
  no padding, one group (patch and tubelet embeddings)."""
  return (groups == 1 and tuple(strides) == tuple(kernel_shape[:3])
          and all(tuple(p) == (0, 0) for p in padding))


def patchify_conv(x: jax.Array, kernel: jax.Array) -> jax.Array:
  """A stride = kernel conv ("VALID") of [B, T, H, W, C] as one matmul.

  The clip is cut into [B, T', H', W', t·h·w·C] patches (a reshape and a
  transpose) and contracted with the kernel. Same values and multiply-adds
  as the conv; on CPU the Video Swin tiny patch embedding's forward and
  kernel gradient took 1.2 and 2.2 ms instead of 2.9 and 6.8 ms as 2D convs
  per temporal tap ([32, 8, 32, 32, 3] clips, 2×4×4 → 32, 2026-12-05).
  """
  kt, kh, kw, c, _ = kernel.shape
  b, t, h, w, _ = x.shape
  to, ho, wo = t // kt, h // kh, w // kw
  x = x[:, :to * kt, :ho * kh, :wo * kw]
  patches = x.reshape(b, to, kt, ho, kh, wo, kw, c).transpose(
      0, 1, 3, 5, 2, 4, 6, 7)
  return lax.dot_general(patches, kernel, (((4, 5, 6, 7), (0, 1, 2, 3)),
                                           ((), ())))


def patchify_conv_general_dilated(lhs, rhs, window_strides, padding,
                                  lhs_dilation=None, rhs_dilation=None,
                                  dimension_numbers=None,
                                  feature_group_count=1, batch_group_count=1,
                                  precision=None,
                                  preferred_element_type=None):
  """`lax.conv_general_dilated` for `nn.Conv(conv_general_dilated=...)`:
  where the lowering is "frames" (CPU) and the conv is a 3D patch embedding
  in nn.Conv's channel-last layout, `patchify_conv`; otherwise the native
  conv, so accelerators run what they always ran."""
  dilated = any(d != 1 for d in (lhs_dilation or ()) + (rhs_dilation or ()))
  if (lhs.ndim == 5 and not dilated and batch_group_count == 1
      and loop_conv.channel_last(dimension_numbers, 5)
      and is_patchify(rhs.shape, window_strides,
                      loop_conv.explicit_pads(padding, lhs.shape, rhs.shape,
                                              window_strides),
                      feature_group_count)
      and auto_lowering() == "frames"):
    return patchify_conv(lhs, rhs).astype(preferred_element_type or lhs.dtype)
  return lax.conv_general_dilated(
      lhs, rhs, window_strides, padding, lhs_dilation, rhs_dilation,
      dimension_numbers, feature_group_count, batch_group_count, precision,
      preferred_element_type)


def _depthwise_by_taps(x, kernel, strides, padding):
  """A depthwise conv as a sum over its taps of shifted x times a [C] vector.

  Each product is a `dot_general` with C as batch dimension and nothing
  contracted, which XLA rewrites to a multiply; channel multipliers > 1 repeat
  each input channel, as grouped convs order their outputs. The gradient is
  written out (`_depthwise_taps`), not left to autodiff.
  """
  multiplier = kernel.shape[-1] // x.shape[-1]
  if multiplier > 1:
    x = jnp.repeat(x, multiplier, axis=-1)
  return _depthwise_taps(x, kernel, tuple(strides),
                         tuple(tuple(p) for p in padding))


def _pad_space_time(x, padding):
  return jnp.pad(x, ((0, 0),) + tuple(padding) + ((0, 0),))


def _taps_product(x, kernel, strides):
  """Padded [B, T, H, W, C] by [t, h, w, 1, C], channel for channel."""
  kt, kh, kw = kernel.shape[:3]
  out = [(size - k) // s + 1
         for size, k, s in zip(x.shape[1:4], (kt, kh, kw), strides)]
  y = 0.0
  for i in range(kt):
    for j in range(kh):
      for l in range(kw):
        y = y + lax.dot_general(_tap(x, (i, j, l), out, strides),
                                kernel[i, j, l, 0],
                                (((), ()), ((4,), (0,))))  # [C, B, T, H, W]
  return jnp.moveaxis(y, 0, -1)


def _tap(padded, offsets, out, strides):
  """The (strided) window of `padded` that one kernel tap multiplies."""
  return padded[(slice(None),) + tuple(
      slice(o, o + (n - 1) * s + 1, s)
      for o, n, s in zip(offsets, out, strides))]


@functools.partial(jax.custom_vjp, nondiff_argnums=(2, 3))
def _depthwise_taps(x, kernel, strides, padding):
  return _taps_product(_pad_space_time(x, padding), kernel, strides)


def _depthwise_taps_fwd(x, kernel, strides, padding):
  padded = _pad_space_time(x, padding)
  return _taps_product(padded, kernel, strides), (padded, kernel)


def _depthwise_taps_bwd(strides, padding, residuals, dy):
  """The input gradient as one more depthwise conv (of the stride-dilated
  dy by the flipped kernel), the kernel gradient as one reduction per tap.

  Autodiff's transpose of the forward is a pad (interior padding where
  strided) of dy per tap, summed: on XLA:CPU that made MViT tiny's train
  step 5× slower than with 1×1×1 pooling kernels (62 against 314 clips/s);
  written this way it runs at 164 (see the module docstring).
  """
  padded, kernel = residuals
  ks = kernel.shape[:3]
  out = dy.shape[1:4]
  dilated = lax.pad(dy, jnp.zeros((), dy.dtype),
                    ((0, 0, 0),) + tuple((0, 0, s - 1) for s in strides) +
                    ((0, 0, 0),))
  full = _taps_product(
      _pad_space_time(dilated, tuple((k - 1, k - 1) for k in ks)),
      kernel[::-1, ::-1, ::-1], (1, 1, 1))
  # `full` spans padded positions 0 .. (out - 1)·s + k - 1; positions past
  # it (left over by a stride) feed no output.
  full = _pad_space_time(full, tuple(
      (0, p - f) for p, f in zip(padded.shape[1:4], full.shape[1:4])))
  dx = full[(slice(None),) + tuple(
      slice(lo, n - hi) for n, (lo, hi) in zip(padded.shape[1:4], padding))]
  taps = [lax.dot_general(_tap(padded, (i, j, l), out, strides), dy,
                          (((0, 1, 2, 3), (0, 1, 2, 3)), ((4,), (4,))))
          for i in range(ks[0]) for j in range(ks[1]) for l in range(ks[2])]
  return dx, jnp.stack(taps).reshape(kernel.shape).astype(kernel.dtype)


_depthwise_taps.defvjp(_depthwise_taps_fwd, _depthwise_taps_bwd)


class Conv3D(nn.Module):
  """A t×h×w conv with flax nn.Conv's parameters, lowered by `spacetime_conv`.

  Params: "kernel" [t, h, w, C / groups, features] and "bias" [features].
  `kernel_init` defaults to the ResNets' fan-out He normal.
  """
  features: int
  kernel_size: tuple[int, int, int]
  strides: tuple[int, int, int] = (1, 1, 1)
  padding: tuple[tuple[int, int], ...] = ((0, 0),) * 3
  groups: int = 1
  use_bias: bool = True
  lowering: str = "auto"
  dtype: str = "float32"
  kernel_init: Callable = conv_kernel_init

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    dtype = jnp.dtype(self.dtype)
    kernel = self.param("kernel", self.kernel_init, tuple(self.kernel_size) + (
        x.shape[-1] // self.groups, self.features), jnp.float32)
    y = spacetime_conv(x.astype(dtype), kernel.astype(dtype), self.strides,
                       self.padding, self.groups, self.lowering)
    if self.use_bias:
      bias = self.param("bias", nn.initializers.zeros, (self.features,),
                        jnp.float32)
      y = y + bias.astype(dtype)
    return y


def check_factorization(field: str, factorization: str) -> None:
  check_choice(field, factorization, FACTORIZATIONS)


class SpaceTimeConv(nn.Module):
  """conv → norm (→ ReLU) on [B, T, H, W, C], the conv factored by name.

  Attributes:
    features: output channels.
    kernel_size: (t, k_h, k_w).
    strides: (s_t, s_h, s_w).
    factorization: a name in `FACTORIZATIONS`.
    mid_features: width between the spatial and temporal convs of r2plus1d,
      p3d_a|b|c (None: r2plus1d's paper rule, `features` for P3D).
    groups: feature groups of a `full` conv (ResNeXt cardinality).
    activate: ReLU at the end (off for the last conv of a residual branch).
    norm: "batch" (BatchNorm, conv without bias) or "none" (conv with bias).
    bn_momentum, bn_epsilon, bn_scale: of every BatchNorm (flax momentum, i.e.
      1 - PyTorch's); `bn_scale=False` is Sonnet's BatchNorm (I3D).
    temporal_padding: "zeros" or "replicate" (see the module docstring).
    lowering: "auto", "native" or "frames" (see the module docstring).
    dtype: compute dtype; params stay float32.
  """
  features: int
  kernel_size: tuple[int, int, int] = (3, 3, 3)
  strides: tuple[int, int, int] = (1, 1, 1)
  factorization: str = "full"
  mid_features: int | None = None
  groups: int = 1
  activate: bool = True
  norm: str = "batch"
  bn_momentum: float = 0.9
  bn_epsilon: float = 1e-5
  bn_scale: bool = True
  temporal_padding: str = "zeros"
  lowering: str = "auto"
  dtype: str = "float32"

  @nn.compact
  def __call__(self, x: jax.Array, *, train: bool) -> jax.Array:
    check_factorization("factorization", self.factorization)
    check_choice("norm", self.norm, NORMS)
    check_choice("temporal_padding", self.temporal_padding, TEMPORAL_PADDINGS)
    t, h, w = self.kernel_size
    s_t, s_h, s_w = self.strides
    f = self.factorization
    if f == "full":
      return self._finish(self._conv(x, self.features, self.kernel_size,
                                     self.strides, self.groups, "conv"),
                          "norm", train)
    if f in ("csn_ip", "csn_ir", "depthwise"):
      if f == "csn_ip":
        x = self._conv(x, self.features, (1, 1, 1), (1, 1, 1), 1,
                       "pointwise_conv")
        x = self._norm(x, "pointwise_norm", train)
      in_features = x.shape[-1]
      if self.features % in_features or (f != "depthwise"
                                         and self.features != in_features):
        raise ConfigError(
            f"a {f} conv maps {in_features} channels to {self.features}; "
            "it needs output = input channels (csn) or a multiple (depthwise)")
      return self._finish(self._conv(x, self.features, self.kernel_size,
                                     self.strides, in_features, "conv"),
                          "norm", train)
    # Spatial (1×k×k) and temporal (t×1×1) convs: r2plus1d and P3D.
    mid = self.mid_features
    if mid is None:
      mid = (r2plus1d_mid_features(x.shape[-1], self.features,
                                   self.kernel_size)
             if f == "r2plus1d" else self.features)
    if f in ("r2plus1d", "p3d_a"):
      s = self._conv(x, mid, (1, h, w), (1, s_h, s_w), 1, "spatial_conv")
      s = nn.relu(self._norm(s, "spatial_norm", train))
      return self._finish(self._conv(s, self.features, (t, 1, 1),
                                     (s_t, 1, 1), 1, "temporal_conv"),
                          "norm", train)
    if mid != self.features:
      raise ConfigError(f"{f} sums its spatial and temporal branches, so "
                        f"mid_features={mid} must equal features="
                        f"{self.features}")
    if f == "p3d_b":
      s = self._conv(x, mid, (1, h, w), self.strides, 1, "spatial_conv")
      temporal = self._conv(x, self.features, (t, 1, 1), self.strides, 1,
                            "temporal_conv")
    else:  # p3d_c
      s = self._conv(x, mid, (1, h, w), self.strides, 1, "spatial_conv")
      s = nn.relu(self._norm(s, "spatial_norm", train))
      temporal = self._conv(s, self.features, (t, 1, 1), (1, 1, 1), 1,
                            "temporal_conv")
      return s + self._finish(temporal, "norm", train)
    return (self._finish(s, "spatial_norm", train)
            + self._finish(temporal, "norm", train))

  def _conv(self, x, features, kernel_size, strides, groups, name):
    padding = same_padding(kernel_size)
    if self.temporal_padding == "replicate" and kernel_size[0] > 1:
      x = jnp.pad(x, ((0, 0), padding[0], (0, 0), (0, 0), (0, 0)),
                  mode="edge")
      padding[0] = (0, 0)
    return Conv3D(features, tuple(kernel_size), tuple(strides),
                  tuple(padding), groups, use_bias=self.norm == "none",
                  lowering=self.lowering, dtype=self.dtype, name=name)(x)

  def _norm(self, x, name, train):
    if self.norm == "none":
      return x
    return nn.BatchNorm(use_running_average=not train,
                        momentum=self.bn_momentum, epsilon=self.bn_epsilon,
                        use_scale=self.bn_scale, dtype=jnp.dtype(self.dtype),
                        name=name)(x)

  def _finish(self, x, norm_name, train):
    x = self._norm(x, norm_name, train)
    return nn.relu(x) if self.activate else x
