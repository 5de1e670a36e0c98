"""RGB-I3D on Kinetics-400: Carreira & Zisserman 2017's recipe.

64-frame clips of 224² random crops from 256-short-side videos, SGD momentum
0.9 at learning rate 0.1 for 110k steps, divided by 10 "when the validation
loss saturated" (here at 60% and 85% of training: the plateaus are not
published). Batch 64 (the paper trains the 3D models on 64 GPUs; the batch
size is not stated). The paper gives no weight decay; 1e-4 is mmaction2's
I3D recipe (S). Tested on the full video (≈250 frames) with a centre crop: here 1 clip,
set dataset.num_frames=250 for evaluation. Inflating an ImageNet Inception-v1
into it: vst.layers.inflate.inflate_params(..., method="mean").
`--config.model.variant=flow` for the flow stream (needs a 2-channel flow
dataset); `two_stream` takes {"rgb", "flow"} inputs.

  python -m vst.main --config=configs/i3d_k400.py --workdir=DIR \
      --config.dataset.data_dir=/path/to/kinetics400
"""

from vst.config_recipes import kinetics_sgd_config
from vst.models.registry import model_config

BATCH_SIZE = 64
STEPS = 110_000


def get_config():
  c = kinetics_sgd_config(
      model_config("i3d", "rgb"), num_frames=64, frame_stride=1,
      min_resize=256, crop_size=224, batch_size=BATCH_SIZE,
      epoch_size=STEPS * BATCH_SIZE, epochs=1, step_epochs=(0.6, 0.85),
      learning_rate=0.1, weight_decay=1e-4, num_clips=1, num_crops=1)
  c.train.eval_every_steps = 10_000
  return c
