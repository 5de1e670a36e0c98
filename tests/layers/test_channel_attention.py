"""SE and STC channel attention: a per-(clip, channel) gate in (0, 1)."""

import jax
import numpy as np
import pytest

from vst.layers import channel_attention

X = jax.random.normal(jax.random.key(0), (2, 4, 5, 5, 16))


@pytest.mark.parametrize("cls", [channel_attention.SqueezeExcitation,
                                 channel_attention.SpatioTemporalChannelCorrelation])
def test_attention_rescales_each_channel_by_a_gate(cls):
  y, variables = cls(reduction=4).init_with_output(jax.random.key(1), X)
  gate = np.asarray(y / X)
  assert y.shape == X.shape
  assert ((gate > 0) & (gate < 1)).all()
  # One gate per clip and channel: constant over T, H, W.
  np.testing.assert_allclose(gate, np.broadcast_to(gate[:, :1, :1, :1],
                                                   gate.shape), rtol=1e-4)
  assert variables["params"]


def test_stc_sees_temporal_order_and_se_does_not():
  """SE pools T away; STC's temporal branch sees how channels evolve."""
  reversed_x = X[:, ::-1]
  for cls, sees_order in ((channel_attention.SqueezeExcitation, False),
                          (channel_attention.SpatioTemporalChannelCorrelation,
                           True)):
    layer = cls(reduction=4)
    variables = layer.init(jax.random.key(1), X)
    gate = layer.apply(variables, X) / X
    gate_reversed = layer.apply(variables, reversed_x) / reversed_x
    same = np.allclose(gate[:, 0, 0, 0], gate_reversed[:, 0, 0, 0], atol=1e-6)
    assert same != sees_order
