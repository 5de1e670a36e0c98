"""Image-to-video initialisation: a 2D checkpoint into a video model.

Set `config.init_from.path` and a fresh run (no checkpoint in the workdir)
starts from the image network's weights instead of random ones:

  init_from.path          the checkpoint file ("" disables this).
  init_from.format        auto | big_vision_npz | timm_safetensors |
                          torchvision (.pth needs torch, or the state dict
                          saved as .npz).
  init_from.tubelet_init  central_frame | mean | repeat: how a ViT patch
                          embedding becomes a t-frame tubelet.
  init_from.inflation     centre | mean | repeat: how a CNN's k×k kernels
                          become t×k×k (vst.layers.inflate).

Supported pairs:
  ViT (big_vision/Scenic/vit_jax npz, timm safetensors) -> vivit (every
    vivit_model), timesformer, xvit, motionformer, vtn.
  torchvision ResNet -> resnet3d (full convs), tsn (ResNet backbones).
  torchvision GoogLeNet -> i3d (model.bn_scale=True).
Refused with a ConfigError: (2+1)D / P3D / CSN / S3D targets (factorised
convs cannot take an inflated full kernel), two_stream (CNN-M / VGG towers),
and any other model.

Position tables are resized bilinearly over space when the token grid
differs and tiled over time; everything the image network lacks (temporal
attention, time embeddings, temporal encoders, a head for another class
count) keeps its fresh initialisation. The trainer writes
`init_report.txt` / `init_report.json` to the workdir: every target
parameter with its status (loaded, inflated, interpolated, new), source key
and shapes, plus the source keys nothing used. Resuming from a checkpoint
ignores init_from.
"""

from vst.init_2d.convert import check_options, convert, load_source, merge
from vst.init_2d.report import Report
from vst.init_2d.trainer_hook import initialise_state

__all__ = ["check_options", "convert", "initialise_state", "load_source",
           "merge", "Report"]
