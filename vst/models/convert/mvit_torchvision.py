"""torchvision's `mvit_v1_b` (MViT) -> `vst.models.mvit`.

  tv = torchvision.models.video.mvit_v1_b(weights="KINETICS400_V1")
  model = vst.models.registry.build_model({"name": "mvit", "variant": "B"},
                                          400)
  params = params_from_torchvision_mvit(tv.state_dict(), model)
  logits = model.apply({"params": params}, clips, train=False)

`clips` is [B, T, H, W, C], the transpose of torchvision's (B, C, T, H, W).
torchvision's separable position tables are flat (`spatial_pos` [H·W, D]);
ours are grid-shaped, and `target_grid` resizes them for clips of another
length or resolution than the checkpoint's (16×224² gives an 8×56×56 grid).
Only MViTv1 maps here: v2's relative position tables and residual pooling
have no counterpart in `vst.models.mvit`.
"""

import math

from vst.layers import space_time_pos_embed
from vst.models.convert import references
from vst.models.convert.torch_state import StateDict


def params_from_torchvision_mvit(state_dict, model, spatial_grid=None,
                                 target_grid=None) -> dict:
  """Our params tree from a torchvision MViT (v1) state dict.

  Args:
    state_dict: torch tensors or numpy arrays.
    model: our `MViT` module, for its per-block heads and pooling.
    spatial_grid: (H', W') of the checkpoint's token grid; default square.
    target_grid: (T', H', W') to resize the position tables to, or None.
  """
  w = StateDict(state_dict, "torchvision MViT")
  spatial = w.take("pos_encoding.spatial_pos")
  if spatial_grid is None:
    side = math.isqrt(spatial.shape[0])
    spatial_grid = (side, spatial.shape[0] // side)
  pos_embed = {
      "temporal_pos_embedding": w.take("pos_encoding.temporal_pos"),
      "spatial_pos_embedding": spatial.reshape(tuple(spatial_grid)
                                               + spatial.shape[-1:]),
      "cls_pos_embedding": w.take("pos_encoding.class_pos")}
  if target_grid is not None:
    pos_embed = {k: v.__array__() for k, v in
                 space_time_pos_embed.resize_space_time_tables(
                     pos_embed, target_grid).items()}
  params = {"patch_embed": w.conv("conv_proj"),
            "cls": w.take("pos_encoding.class_token"),
            "pos_embed": pos_embed}
  for i, setting in enumerate(model.settings()):
    prefix = f"blocks.{i}"
    attention = w.attention(f"{prefix}.attn.qkv", f"{prefix}.attn.project.0",
                            setting.num_heads)
    for pool in ("pool_q", "pool_k", "pool_v"):
      if w.has(f"{prefix}.attn.{pool}.pool.weight"):
        attention[pool] = {
            "conv": w.conv(f"{prefix}.attn.{pool}.pool", bias=False),
            "norm": w.norm(f"{prefix}.attn.{pool}.norm_act.0")}
    block = {"norm1": w.norm(f"{prefix}.norm1"), "attention": attention,
             "norm2": w.norm(f"{prefix}.norm2"),
             "mlp": {"fc1": w.dense(f"{prefix}.mlp.0"),
                     "fc2": w.dense(f"{prefix}.mlp.3")}}
    if w.has(f"{prefix}.project.weight"):
      block["project"] = w.dense(f"{prefix}.project")
    params[f"block{i}"] = block
  params["norm"] = w.norm("norm")
  params["head"] = w.dense("head.1")
  w.check_consumed()
  return params


def torchvision_mvit(model, frames: int, crop: int):
  """A torchvision MViT (v1 options) with the blocks of our `model`."""
  from torchvision.models.video import mvit  # pylint: disable=g-import-not-at-top
  settings = [
      mvit.MSBlockConfig(
          num_heads=s.num_heads, input_channels=s.in_features,
          output_channels=s.out_features,
          kernel_q=list(s.kernel_q) if s.stride_q != (1, 1, 1) else [],
          kernel_kv=list(s.kernel_kv),
          stride_q=list(s.stride_q) if s.stride_q != (1, 1, 1) else [],
          stride_kv=list(s.stride_kv))
      for s in model.settings()]
  return mvit.MViT(
      spatial_size=(crop, crop), temporal_size=frames,
      block_setting=settings, residual_pool=False,
      residual_with_cls_embed=True, rel_pos_embed=False,
      proj_after_attn=False, dropout=model.head_dropout_rate,
      stochastic_depth_prob=model.drop_path_rate,
      num_classes=model.num_classes,
      patch_embed_kernel=tuple(model.patch_kernel),
      patch_embed_stride=tuple(model.patch_stride),
      patch_embed_padding=tuple(model.patch_padding))


@references.register("mvit", layout="BCTHW")
def _bench_reference(config, kwargs):
  """torchvision's MViT (v1) at the config's sizes."""
  from vst.models.mvit import MViT  # pylint: disable=g-import-not-at-top
  return torchvision_mvit(MViT(**kwargs), int(config.dataset.num_frames),
                          int(config.dataset.crop_size))
