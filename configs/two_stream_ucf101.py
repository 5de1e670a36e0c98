"""Two-stream CNN-M-2048 on UCF101 (split 1), Simonyan and Zisserman 2014.

The paper trains each stream on its own, then fuses their scores: SGD with
momentum 0.9, batch 256, weight decay 5e-4, 224×224 crops, one RGB frame or
a stack of L=10 TV-L1 x/y flows per sample. From scratch (the temporal net),
learning rate 1e-2, divided by 10 after 50K and 70K iterations, stopping at
80K; the fine-tuned spatial net uses 1e-3, divided at 14K, stopping at 20K.
Dropout on fc6 and fc7. Test: 25 frames × 10 crops, scores averaged.

This config trains both streams jointly with average score fusion on the
temporal schedule; --config.model.variant=cnn_m_spatial / cnn_m_temporal
trains one stream (use the spatial schedule for cnn_m_spatial), and
cnn_m_svm learns the linear (SVM) score fusion. Flow is precomputed with
`python -m vst.tools.flow` (vst.data.optical_flow, as the synthetic set).

  python -m vst.main --config=configs/two_stream_ucf101.py --workdir=DIR \
      --config.dataset.data_dir=/path/to/ucf101 \
      --config.dataset.flow_dir=/path/to/ucf101_flow
"""

from vst import config_recipes as recipes


def get_config():
  c = recipes.ucf101_config("two_stream", "cnn_m", num_frames=10,
                            frame_stride=None, crop_size=224, min_resize=256)
  # One segment of L=10 frames: a flow stack and its first RGB frame.
  c.dataset.sampling = "segments"
  c.dataset.segment_length = 10
  c.dataset.modalities = ("rgb", "flow")
  c.dataset.flow_dir = ""
  recipes.sgd(c, learning_rate=1e-2, batch_size=256, num_steps=80000,
              boundaries=(50000 / 80000, 70000 / 80000), decay_all=True)
  recipes.multi_view_test(c, num_clips=25, num_crops=10, batch_size=32)
  recipes.periodic(c, eval_every=10000, checkpoint_every=2000)
  return c
