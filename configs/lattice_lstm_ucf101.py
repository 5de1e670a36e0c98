"""Lattice-LSTM on UCF101 (split 1), Sun et al. 2017, two-stream.

Needs a dataset giving {"rgb", "flow"} inputs; the paper samples TSN-style
segments. Frames, crop and optimiser here are not from the paper (it
publishes neither sizes nor FLOPs): 25 frames of 227² crops, SGD momentum
0.9 at 1e-3.

  python -m vst.main --config=configs/lattice_lstm_ucf101.py --workdir=DIR \
      --config.dataset.data_dir=/path/to/ucf101
"""

from vst import config_recipes as recipes


def get_config():
  c = recipes.ucf101_config("lattice_lstm", "alexnet_two_stream",
                            num_frames=25, frame_stride=5, crop_size=227,
                            min_resize=256)
  recipes.sgd(c, learning_rate=1e-3, batch_size=16,
              num_steps=recipes.ucf101_steps(30, 16))
  return c
