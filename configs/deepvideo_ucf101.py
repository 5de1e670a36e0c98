"""DeepVideo slow fusion on UCF101 (split 1), the paper's transfer setting.

Karpathy et al. 2014 train on Sports-1M with Downpour SGD: mini-batches of 32,
learning rate 1e-3, momentum 0.9, weight decay 5e-4, 170×170 crops of frames
resized to 200×200, dropout 0.5 on the FC layers; on UCF101 the best transfer
(65.4%) retrains the top three layers of the Sports-1M slow-fusion network.
Predictions average many clips per video. The paper states no epoch count;
30 epochs here is our choice. Use `--config.model.variant=early|late|single|
multires` (multires wants --config.dataset.crop_size=178) for the others.

  python -m vst.main --config=configs/deepvideo_ucf101.py --workdir=DIR \
      --config.dataset.data_dir=/path/to/ucf101
"""

from vst import config_recipes as recipes


def get_config():
  c = recipes.ucf101_config("deepvideo", "slow", num_frames=10, crop_size=170,
                            min_resize=200)
  epoch = recipes.ucf101_steps(1, 32)
  recipes.sgd(c, learning_rate=1e-3, batch_size=32, num_steps=30 * epoch,
              boundaries=(2 / 3,), decay_all=True)
  recipes.multi_view_test(c, num_clips=10, num_crops=1, batch_size=32)
  recipes.periodic(c, eval_every=5 * epoch)
  return c
