"""`model.attention_impl` reaches every attention of every transformer model.

Set in each synthetic config (the field is listed there, so
`--config.model.attention_impl=...` works) and traced abstractly (no
compile): under "blockwise" every kernel call runs blockwise, under the
default "auto" the tiny shapes run XLA, and "cudnn" on CPU stops at the
first attention with the one-line error naming the field.
"""

import jax
import pytest

from tests.conftest import synthetic_config_of
from vst import train as train_lib
from vst.errors import ConfigError
from vst.layers import attention

TRANSFORMERS = ("vivit", "timesformer", "xvit", "motionformer", "vtn",
                "swin3d", "mvit", "uniformer")


def _traced_choices(model_name: str, impl: str | None):
  config = synthetic_config_of(model_name, "tiny")
  assert config.model.attention_impl == "auto"  # Listed: overridable.
  if impl is not None:
    config.model.attention_impl = impl
  net, _, _ = train_lib.build(config)
  inputs = train_lib.input_spec(config, 2)
  with attention.attention_choices() as choices:
    jax.eval_shape(lambda x: net.init(
        {"params": jax.random.key(0), "dropout": jax.random.key(0)}, x,
        train=False), inputs)
  return net, choices


@pytest.mark.parametrize("model_name", TRANSFORMERS)
def test_attention_impl_reaches_every_kernel_call(model_name):
  net, choices = _traced_choices(model_name, None)
  assert net.attention_impl == "auto"
  assert choices and {c.chosen for c in choices} == {"xla"}
  _, choices = _traced_choices(model_name, "blockwise")
  assert choices and {(c.requested, c.chosen) for c in choices} == {
      ("blockwise", "blockwise")}
  with pytest.raises(ConfigError, match="model.attention_impl='cudnn'.*cpu"):
    _traced_choices(model_name, "cudnn")
