"""Beyond Short Snippets (variant "tiny") on `synthetic_motion`.

  python -m vst.main --config=configs/snippets_lstm_synthetic.py \
      --workdir=workdirs/snippets_lstm

The tiny variant is the deep LSTM (two layers of 64 here, linear step
weights); the pooling models by override, e.g.
--config.model.aggregation=conv_pooling. Max pooling over time discards frame
order, so on motion-defined classes the pooling models are expected to trail
the LSTM and time_conv, which see order.
"""

from vst.config_base import synthetic_config


def get_config():
  return synthetic_config("snippets_lstm", "tiny")
