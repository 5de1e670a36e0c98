"""LRCN-fc6 on UCF101 (split 1), Donahue et al. 2015.

16-frame clips (stride 8 between clips at test time, predictions averaged)
of 227×227 crops; CaffeNet to fc6, one 256-unit LSTM. The paper fine-tunes
from ImageNet with Caffe's SGD; its optimiser settings are not reproduced
here from the paper (REFERENCE.md gives none): SGD momentum 0.9, learning
rate 1e-3 with steps at 50% and 80%, batch 24 clips, are a standard
fine-tuning recipe. Flow: --config.model.variant=fc6_two_stream on a dataset
giving {"rgb", "flow"} (flow weighted 2:1, the paper's late fusion).

  python -m vst.main --config=configs/lrcn_ucf101.py --workdir=DIR \
      --config.dataset.data_dir=/path/to/ucf101
"""

from vst import config_recipes as recipes


def get_config():
  c = recipes.ucf101_config("lrcn", "fc6", num_frames=16, crop_size=227,
                            min_resize=256)
  recipes.sgd(c, learning_rate=1e-3, batch_size=24,
              num_steps=recipes.ucf101_steps(30, 24), boundaries=(0.5, 0.8))
  recipes.multi_view_test(c, num_clips=10, num_crops=1)
  return c
