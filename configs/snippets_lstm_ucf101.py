"""Beyond Short Snippets on UCF101 (split 1), Ng et al. 2015.

The deep LSTM (5 × 512) unrolled over 30 frames sampled at about 1 fps, on
AlexNet frame features of 220×220 crops; conv pooling over 120 frames by
--config.model.variant=conv_pooling --config.dataset.num_frames=120.
UCF101 clips run at 25 fps, so a stride of 25 frames gives ~1 fps. The
optimiser is not from the paper (it trains with asynchronous SGD on many
machines): SGD momentum 0.9, learning rate 1e-3 with steps at 50% and 80%.

  python -m vst.main --config=configs/snippets_lstm_ucf101.py --workdir=DIR \
      --config.dataset.data_dir=/path/to/ucf101
"""

from vst import config_recipes as recipes


def get_config():
  c = recipes.ucf101_config("snippets_lstm", "lstm", num_frames=30,
                            frame_stride=25, crop_size=220, min_resize=256)
  recipes.sgd(c, learning_rate=1e-3, batch_size=16,
              num_steps=recipes.ucf101_steps(30, 16), boundaries=(0.5, 0.8))
  return c
