"""The factorised 3D conv: shapes, the (2+1)D width rule, each factorisation's
structure and parameter count, replicate padding."""

import functools

import jax
import jax.numpy as jnp
from jax import lax
import numpy as np
import pytest

from vst import flops
from vst.errors import ConfigError
from vst.layers import conv3d
from vst.layers import embed

X = jax.random.normal(jax.random.key(0), (2, 4, 8, 8, 16))


@functools.cache
def _run(features=16, strides=(1, 1, 1), **fields):
  layer = conv3d.SpaceTimeConv(features, strides=strides, **fields)
  y, variables = layer.init_with_output(jax.random.key(1), X, train=False)
  return y, variables


def _kernels(variables):
  return {"/".join(k.key for k in path[:-1]): leaf.shape
          for path, leaf in jax.tree_util.tree_leaves_with_path(
              variables["params"]) if path[-1].key == "kernel"}


@pytest.mark.parametrize("factorization", conv3d.FACTORIZATIONS)
@pytest.mark.parametrize("strides", [(1, 1, 1), (2, 2, 2)])
def test_every_factorization_keeps_the_strided_grid(factorization, strides):
  y, _ = _run(strides=strides, factorization=factorization)
  assert y.shape == (2, 4 // strides[0], 8 // strides[1], 8 // strides[2], 16)
  assert (np.asarray(y) >= 0).all()  # ends in ReLU


def test_kernels_of_each_factorization():
  assert _kernels(_run(factorization="full")[1]) == {"conv": (3, 3, 3, 16, 16)}
  mid = conv3d.r2plus1d_mid_features(16, 16)
  assert _kernels(_run(factorization="r2plus1d")[1]) == {
      "spatial_conv": (1, 3, 3, 16, mid), "temporal_conv": (3, 1, 1, mid, 16)}
  for f in ("p3d_a", "p3d_b", "p3d_c"):
    assert _kernels(_run(factorization=f)[1]) == {
        "spatial_conv": (1, 3, 3, 16, 16), "temporal_conv": (3, 1, 1, 16, 16)}
  assert _kernels(_run(factorization="csn_ip")[1]) == {
      "pointwise_conv": (1, 1, 1, 16, 16), "conv": (3, 3, 3, 1, 16)}
  assert _kernels(_run(factorization="csn_ir")[1]) == {
      "conv": (3, 3, 3, 1, 16)}
  assert _kernels(_run(features=32, factorization="depthwise")[1]) == {
      "conv": (3, 3, 3, 1, 32)}
  assert _kernels(_run(factorization="full", groups=4)[1]) == {
      "conv": (3, 3, 3, 4, 16)}


@pytest.mark.parametrize("n_in,n_out", [(64, 64), (64, 128), (128, 256),
                                        (256, 512), (3, 64)])
def test_r2plus1d_width_keeps_the_full_conv_parameter_count(n_in, n_out):
  """Tran et al. Sec. 3.5: M_i makes (2+1)D as big as the t×d×d conv."""
  mid = conv3d.r2plus1d_mid_features(n_in, n_out)
  full, factored = 27 * n_in * n_out, 9 * n_in * mid + 3 * mid * n_out
  assert factored <= full < factored + 9 * n_in + 3 * n_out
  assert conv3d.r2plus1d_mid_features(64, 64) == 144  # = 27·64² / (12·64)


def test_p3d_b_sums_parallel_branches_and_c_cascades():
  """B: S(x) + T(x). C: S(x) + T(S(x)). Checked by zeroing T's kernel."""
  for f in ("p3d_b", "p3d_c"):
    layer = conv3d.SpaceTimeConv(16, factorization=f)
    _, variables = _run(factorization=f)
    params = jax.tree.map(jnp.asarray, variables["params"])
    params["temporal_conv"]["kernel"] = jnp.zeros_like(
        params["temporal_conv"]["kernel"])
    y = layer.apply({**variables, "params": params}, X, train=False)
    spatial_only = conv3d.SpaceTimeConv(16, (1, 3, 3)).apply(
        {"params": {"conv": params["spatial_conv"],
                    "norm": params["spatial_norm"]},
         "batch_stats": {"norm": variables["batch_stats"]["spatial_norm"]}},
        X, train=False)
    # T's branch is then relu(norm(0)): constant over the clip.
    t_branch = np.asarray(y - spatial_only)
    np.testing.assert_allclose(
        t_branch, np.broadcast_to(t_branch[:1, :1, :1, :1], t_branch.shape),
        atol=1e-5)


def test_csn_and_p3d_sums_reject_width_changes():
  with pytest.raises(ConfigError, match="csn_ir"):
    conv3d.SpaceTimeConv(32, factorization="csn_ir").init(
        jax.random.key(0), X, train=False)
  with pytest.raises(ConfigError, match="mid_features"):
    conv3d.SpaceTimeConv(16, factorization="p3d_b", mid_features=8).init(
        jax.random.key(0), X, train=False)


def test_csn_costs_less_than_full_by_the_paper_ratio():
  """A depthwise 3×3×3 costs 1/C of the full conv's MACs (Tran et al. 2019)."""
  def macs(f):
    layer = conv3d.SpaceTimeConv(16, factorization=f)
    variables = jax.eval_shape(lambda: layer.init(jax.random.key(0), X,
                                                  train=False))
    return flops.count_macs(lambda v, x: layer.apply(v, x, train=False),
                            variables, X)
  assert macs("full") == 16 * macs("csn_ir")
  assert macs("csn_ip") == macs("csn_ir") + macs("full") // 27


def test_replicate_padding_keeps_a_constant_video_constant():
  """Zero padding darkens the edge frames; replicate padding does not."""
  video = jnp.broadcast_to(X[:, :1], X.shape)
  for padding, constant in (("zeros", False), ("replicate", True)):
    layer = conv3d.SpaceTimeConv(8, norm="none", activate=False,
                                 temporal_padding=padding)
    y = layer.init_with_output(jax.random.key(0), video, train=False)[0]
    same = np.allclose(y, y[:, :1], atol=1e-5)
    assert same == constant, padding


def test_pools_clip_windows_larger_than_the_input():
  x = jnp.ones((1, 1, 5, 5, 2))
  assert conv3d.max_pool3d(x, (2, 3, 3), (2, 2, 2)).shape == (1, 1, 3, 3, 2)
  assert conv3d.pool_padding((2, 3, 3)) == [(0, 0), (1, 1), (1, 1)]


@pytest.mark.parametrize("kernel_shape,strides,groups", [
    ((3, 3, 3, 16, 8), (1, 1, 1), 1),
    ((3, 3, 3, 16, 8), (2, 2, 2), 1),
    ((3, 1, 1, 16, 8), (2, 2, 2), 1),
    ((1, 3, 3, 16, 8), (1, 2, 2), 1),
    ((1, 1, 1, 16, 8), (2, 2, 2), 1),
    ((3, 3, 3, 4, 8), (1, 2, 2), 4),
    ((3, 3, 3, 1, 16), (2, 2, 2), 16),
    ((3, 3, 3, 1, 32), (1, 1, 1), 16),
    ((7, 7, 7, 16, 8), (2, 2, 2), 1),
])
def test_frames_lowering_computes_the_native_conv(kernel_shape, strides,
                                                  groups):
  kernel = jax.random.normal(jax.random.key(3), kernel_shape)
  padding = conv3d.same_padding(kernel_shape[:3])
  native, frames = (conv3d.spacetime_conv(X, kernel, strides, padding, groups,
                                          lowering)
                    for lowering in ("native", "frames"))
  np.testing.assert_allclose(frames, native, rtol=1e-4, atol=1e-3)
  macs = [flops.count_macs(
      lambda x, k: conv3d.spacetime_conv(x, k, strides, padding, groups, l),
      X, kernel) for l in ("native", "frames")]
  assert macs[0] == macs[1]


@pytest.mark.parametrize("kernel_shape,strides,padding", [
    ((3, 3, 3, 1, 16), (1, 1, 1), None),
    ((3, 3, 3, 1, 16), (1, 4, 4), None),  # MViT's K/V pooling
    ((1, 3, 3, 1, 16), (2, 2, 2), None),
    # Channel multiplier 2, uneven padding, a stride that leaves a remainder.
    ((3, 5, 5, 1, 32), (2, 3, 1), ((0, 1), (2, 0), (1, 1))),
])
def test_depthwise_gradient_written_out_matches_native(kernel_shape, strides,
                                                       padding):
  """The frames lowering's depthwise conv has a hand-written VJP."""
  kernel = jax.random.normal(jax.random.key(3), kernel_shape)
  padding = padding or conv3d.same_padding(kernel_shape[:3])
  groups = X.shape[-1]

  def gradients(lowering):
    loss = lambda x, k: jnp.sum(jnp.sin(conv3d.spacetime_conv(
        x, k, strides, padding, groups, lowering)))
    return jax.grad(loss, (0, 1))(X, kernel)

  for frames, native in zip(gradients("frames"), gradients("native")):
    np.testing.assert_allclose(frames, native, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("kernel_shape", [(2, 4, 4, 16, 8), (1, 3, 3, 16, 8)])
def test_patch_embeddings_run_as_one_matmul_with_the_native_values(
    kernel_shape):
  """Stride = kernel without padding (a patch embedding) is a patchify
  matmul in the frames lowering and in `tubelet_embedding`'s nn.Conv: same
  values, gradients and MACs as the native conv; a remainder is dropped as
  "VALID" drops it (X is 4×8×8: 1×3×3 patches leave two rows)."""
  kernel = jax.random.normal(jax.random.key(3), kernel_shape)
  strides, padding = kernel_shape[:3], ((0, 0),) * 3
  assert conv3d.is_patchify(kernel.shape, strides, padding)

  def loss(lowering):
    return lambda x, k: jnp.sum(jnp.sin(conv3d.spacetime_conv(
        x, k, strides, padding, 1, lowering)))

  def primitives(lowering):
    jaxpr = jax.make_jaxpr(lambda x: conv3d.spacetime_conv(
        x, kernel, strides, padding, 1, lowering))(X)
    return {e.primitive.name for e in jaxpr.eqns}

  assert "conv_general_dilated" not in primitives("frames")
  assert "dot_general" in primitives("frames")
  np.testing.assert_allclose(
      conv3d.spacetime_conv(X, kernel, strides, padding, 1, "frames"),
      conv3d.spacetime_conv(X, kernel, strides, padding, 1, "native"),
      rtol=1e-4, atol=1e-4)
  for got, want in zip(jax.grad(loss("frames"), (0, 1))(X, kernel),
                       jax.grad(loss("native"), (0, 1))(X, kernel)):
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
  macs = [flops.count_macs(
      lambda x, k: conv3d.spacetime_conv(x, k, strides, padding, 1, l),
      X, kernel) for l in ("native", "frames")]
  assert macs[0] == macs[1]
  layer = embed.tubelet_embedding(8, kernel_shape[:3])
  variables = layer.init(jax.random.key(0), X)
  assert "conv_general_dilated" not in {
      e.primitive.name for e in jax.make_jaxpr(
          lambda x: layer.apply(variables, x))(X).eqns}
  np.testing.assert_allclose(
      layer.apply(variables, X),
      lax.conv_general_dilated(
          X, variables["params"]["kernel"], strides, "VALID",
          dimension_numbers=("NDHWC", "DHWIO", "NDHWC"))
      + variables["params"]["bias"], rtol=1e-4, atol=1e-4)


def test_environment_forces_the_auto_lowering(monkeypatch):
  """VST_CONV_LOWERING makes "auto" compile what an accelerator would run
  (used to measure accelerator memory on a CPU host); a bad value names
  itself."""
  monkeypatch.setenv("VST_CONV_LOWERING", "native")
  assert conv3d.auto_lowering() == "native"
  monkeypatch.setenv("VST_CONV_LOWERING", "fast")
  with pytest.raises(ConfigError, match="VST_CONV_LOWERING='fast'"):
    conv3d.auto_lowering()
