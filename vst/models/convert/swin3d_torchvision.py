"""torchvision's `swin3d_t/s/b` (SwinTransformer3d) -> `vst.models.swin3d`.

  tv = torchvision.models.video.swin3d_t(weights="KINETICS400_V1")
  model = vst.models.registry.build_model({"name": "swin3d", "variant": "T"},
                                          400)
  params = params_from_torchvision_swin3d(tv.state_dict(), depths=(2, 2, 6, 2))
  logits = model.apply({"params": params}, clips, train=False)

`clips` is [B, T, H, W, C], the transpose of torchvision's (B, C, T, H, W).
torchvision's `features` Sequential alternates stages and PatchMerging:
`features.{2i}` is stage i, `features.{2i+1}` the merging after it.
"""

from vst.models.convert import references
from vst.models.convert.torch_state import StateDict

# torchvision builder -> our variant.
TORCHVISION_VARIANTS = {"swin3d_t": "T", "swin3d_s": "S", "swin3d_b": "B"}


def params_from_torchvision_swin3d(state_dict, depths, num_heads) -> dict:
  """Our params tree from a SwinTransformer3d state dict.

  Args:
    state_dict: torch tensors or numpy arrays.
    depths: blocks per stage, as the model was built.
    num_heads: heads per stage.
  """
  w = StateDict(state_dict, "torchvision SwinTransformer3d",
                ignore=("relative_position_index",))
  params = {"patch_embed": {"proj": w.conv("patch_embed.proj"),
                            "norm": w.norm("patch_embed.norm")}}
  for i, (depth, heads) in enumerate(zip(depths, num_heads)):
    for j in range(depth):
      prefix = f"features.{2 * i}.{j}"
      attention = w.attention(f"{prefix}.attn.qkv", f"{prefix}.attn.proj",
                              heads)
      attention["relative_position_bias"] = {
          "relative_pos_embedding": w.take(
              f"{prefix}.attn.relative_position_bias_table")}
      params[f"stage{i}_block{j}"] = {
          "norm1": w.norm(f"{prefix}.norm1"),
          "attention": attention,
          "norm2": w.norm(f"{prefix}.norm2"),
          "mlp": {"fc1": w.dense(f"{prefix}.mlp.0"),
                  "fc2": w.dense(f"{prefix}.mlp.3")},
      }
    if i < len(depths) - 1:
      prefix = f"features.{2 * i + 1}"
      params[f"stage{i}_merging"] = {
          "norm": w.norm(f"{prefix}.norm"),
          "reduction": w.dense(f"{prefix}.reduction", bias=False)}
  params["norm"] = w.norm("norm")
  params["head"] = w.dense("head")
  w.check_consumed()
  return params


def torchvision_swin3d(kwargs, num_classes: int):
  """A torchvision SwinTransformer3d with our model's hyperparameters."""
  from torchvision.models.video import swin_transformer  # pylint: disable=g-import-not-at-top
  return swin_transformer.SwinTransformer3d(
      patch_size=list(kwargs["patch_size"]), embed_dim=kwargs["embed_dim"],
      depths=list(kwargs["depths"]), num_heads=list(kwargs["num_heads"]),
      window_size=list(kwargs["window_size"]),
      mlp_ratio=kwargs.get("mlp_ratio", 4.0),
      stochastic_depth_prob=kwargs.get("drop_path_rate", 0.1),
      num_classes=num_classes)


@references.register("swin3d", layout="BCTHW")
def _bench_reference(config, kwargs):
  """torchvision's SwinTransformer3d at the config's sizes."""
  return torchvision_swin3d(kwargs, int(config.dataset.num_classes))


