"""C3D on UCF101 (split 1), fine-tuned end to end from Sports-1M.

The paper trains C3D on Sports-1M (batch 30 clips of 16×112² crops from
128×171 frames, SGD, learning rate 0.003 halved every 150K iterations, 1.9M
iterations) and reports UCF101 from a linear SVM on its fc6 features (82.3%).
End-to-end fine-tuning on UCF101 follows mmaction2's C3D recipe (S): SGD
momentum 0.9, learning rate 0.001 divided by 10 at epochs 20 and 40 of 45,
weight decay 5e-4, dropout 0.5, batch 30; test 10 clips × 1 centre crop.

  python -m vst.main --config=configs/c3d_ucf101.py --workdir=DIR \
      --config.dataset.data_dir=/path/to/ucf101
"""

from vst import config_recipes as recipes


def get_config():
  c = recipes.ucf101_config("c3d", "paper", num_frames=16, crop_size=112,
                            min_resize=128)
  epoch = recipes.ucf101_steps(1, 30)
  recipes.sgd(c, learning_rate=0.001, batch_size=30, num_steps=45 * epoch,
              boundaries=(20 / 45, 40 / 45), decay_all=True)
  recipes.multi_view_test(c, num_clips=10, num_crops=1, batch_size=30)
  recipes.periodic(c, eval_every=5 * epoch)
  return c
