"""Image-to-video initialisation (vst.init_2d) from random 2D reference models.

No downloads: timm and torchvision build randomly initialised 2D networks,
which are saved in the formats `init_from` reads (safetensors, a big_vision
style npz, a .pth) and loaded into the video models.
"""

import json

import jax
import numpy as np
import pytest
from ml_collections import ConfigDict

from vst import flops
from vst import init_2d
from vst import train as train_lib
from vst.errors import ConfigError
from vst.models import registry
from tests.conftest import tiny_config

torch = pytest.importorskip("torch")
timm = pytest.importorskip("timm")
torchvision = pytest.importorskip("torchvision")
safetensors_numpy = pytest.importorskip("safetensors.numpy")

# A ViT small enough for CPU: 16² images, 8² patches (a 2×2 grid), width 32.
_VIT = dict(img_size=16, patch_size=8, embed_dim=32, depth=2, num_heads=4,
            num_classes=5)
_VIVIT = dict(name="vivit", variant="tiny", hidden_size=32, num_layers=2,
              num_heads=4, mlp_dim=128, tubelet_size=(2, 8, 8))


def _options(path, **kwargs):
  return ConfigDict(dict(dict(path=str(path), format="auto",
                              tubelet_init="central_frame", inflation="mean"),
                         **kwargs))


@pytest.fixture(scope="module")
def timm_vit(tmp_path_factory):
  """(timm model in eval mode, path of its .safetensors)."""
  torch.manual_seed(0)
  vit = timm.models.vision_transformer.VisionTransformer(**_VIT).eval()
  with torch.no_grad():  # timm zero-initialises biases; make them count.
    for name, p in vit.named_parameters():
      if name.endswith("bias"):
        p.normal_(0, 0.1)
  path = tmp_path_factory.mktemp("timm") / "vit.safetensors"
  safetensors_numpy.save_file(
      {k: v.detach().numpy().copy() for k, v in vit.state_dict().items()},
      str(path))
  return vit, path


def _convert(options, cfg, shape, num_classes=5):
  model = registry.build_model(cfg, num_classes)
  shapes = flops.abstract_variables(model, (1,) + shape)
  values, report = init_2d.convert(options, cfg["name"], model, shapes)
  return model, shapes, values, report


def _params(shapes, values):
  zeros = jax.tree.map(lambda s: np.zeros(s.shape, s.dtype), shapes["params"])
  return init_2d.merge(zeros, values, "params")


def test_timm_vit_into_vivit_reproduces_timm_logits(timm_vit):
  """ViViT model 1 on a 2-frame clip with 2×8×8 tubelets is exactly the ViT.

  The token grid has one time index (T' = 1), so joint attention covers the
  class token and the 2×2 patches of one frame, as the ViT's does; with
  "mean" tubelets (the 2D kernel / 2 at both frames) a clip of two identical
  frames embeds as the image does; exact GELU and eps 1e-6 match timm. So
  the logits must agree to float32 rounding.
  """
  vit, path = timm_vit
  cfg = dict(_VIVIT, vivit_model="spatio_temporal", gelu_approximate=False)
  model, shapes, values, report = _convert(
      _options(path, tubelet_init="mean"), cfg, (2, 16, 16, 3))
  assert report.counts()["new"] == 0 and not report.unused
  image = np.random.RandomState(0).randn(3, 16, 16, 3).astype(np.float32)
  clip = np.repeat(image[:, None], 2, axis=1)
  apply = jax.jit(lambda p, x: model.apply({"params": p}, x, train=False))
  ours = np.asarray(apply(_params(shapes, values), clip))
  with torch.no_grad():
    ref = vit(torch.from_numpy(image).permute(0, 3, 1, 2)).numpy()
  diff = np.abs(ours - ref).max()
  print(f"timm ViT -> ViViT max |Δlogits| = {diff:.2e}")
  assert diff <= 1e-4


def _big_vision_npz(vit, path):
  """The timm weights written in the vit_jax / Scenic key layout."""
  sd = {k: v.detach().numpy() for k, v in vit.state_dict().items()}
  d, heads = _VIT["embed_dim"], _VIT["num_heads"]
  out = {"embedding/kernel": sd["patch_embed.proj.weight"].transpose(2, 3, 1, 0),
         "embedding/bias": sd["patch_embed.proj.bias"],
         "cls": sd["cls_token"],
         "Transformer/posembed_input/pos_embedding": sd["pos_embed"],
         "Transformer/encoder_norm/scale": sd["norm.weight"],
         "Transformer/encoder_norm/bias": sd["norm.bias"],
         "head/kernel": sd["head.weight"].T, "head/bias": sd["head.bias"]}
  for i in range(_VIT["depth"]):
    t, b = f"blocks.{i}", f"Transformer/encoderblock_{i}"
    qkv_w, qkv_b = sd[f"{t}.attn.qkv.weight"], sd[f"{t}.attn.qkv.bias"]
    for j, name in enumerate(("query", "key", "value")):
      out[f"{b}/MultiHeadDotProductAttention_1/{name}/kernel"] = (
          qkv_w[j * d:(j + 1) * d].T.reshape(d, heads, -1))
      out[f"{b}/MultiHeadDotProductAttention_1/{name}/bias"] = (
          qkv_b[j * d:(j + 1) * d].reshape(heads, -1))
    out[f"{b}/MultiHeadDotProductAttention_1/out/kernel"] = (
        sd[f"{t}.attn.proj.weight"].T.reshape(heads, -1, d))
    out[f"{b}/MultiHeadDotProductAttention_1/out/bias"] = sd[f"{t}.attn.proj.bias"]
    for ours, theirs in (("LayerNorm_0", "norm1"), ("LayerNorm_2", "norm2")):
      out[f"{b}/{ours}/scale"] = sd[f"{t}.{theirs}.weight"]
      out[f"{b}/{ours}/bias"] = sd[f"{t}.{theirs}.bias"]
    for j, fc in enumerate(("fc1", "fc2")):
      out[f"{b}/MlpBlock_3/Dense_{j}/kernel"] = sd[f"{t}.mlp.{fc}.weight"].T
      out[f"{b}/MlpBlock_3/Dense_{j}/bias"] = sd[f"{t}.mlp.{fc}.bias"]
  np.savez(path, **out)


def test_big_vision_npz_gives_the_safetensors_params(timm_vit, tmp_path):
  """Both readers of the same ViT give identical ViViT model 3 params, and
  the position table is interpolated (2×2 -> 4×4 grid) and tiled over time."""
  vit, path = timm_vit
  npz = tmp_path / "vit.npz"
  _big_vision_npz(vit, npz)
  cfg = dict(_VIVIT, vivit_model="factorised_self_attention")
  _, _, from_timm, report = _convert(_options(path), cfg, (4, 32, 32, 3))
  _, _, from_npz, report_npz = _convert(_options(npz), cfg, (4, 32, 32, 3))
  assert report_npz.format == "big_vision_npz"
  assert sorted(from_timm) == sorted(from_npz)
  for key in from_timm:
    np.testing.assert_array_equal(from_timm[key], from_npz[key], err_msg=key)
  status = {e.target: e for e in report.entries}
  pos = status["params/posembed_input/pos_embedding"]
  assert pos.status == "interpolated" and "2×2→4×4" in pos.detail
  assert "tiled over T=2" in pos.detail
  assert status["params/tubelet_embed/kernel"].status == "inflated"
  assert status["params/transformer/encoderblock_0/time_attention/query/"
                "kernel"].status == "new"
  assert status["params/transformer/encoderblock_0/space_attention/query/"
                "kernel"].status == "loaded"
  # Model 3 pools the grid ("gap"): no class token, so these go unused.
  assert {"cls_token", "pos_embed[0]", "head.weight ᵀ", "head.bias"} <= set(
      report.unused)
  # central_frame: the 2D kernel at index t // 2 = 1, zeros at 0.
  kernel = from_timm["params/tubelet_embed/kernel"]
  assert not kernel[0].any() and kernel[1].any()


@pytest.mark.parametrize("name,fields", [
    ("timesformer", {}), ("xvit", {}), ("motionformer", {}), ("vtn", {}),
    ("vivit", dict(vivit_model="factorised_encoder", temporal_layers=1)),
])
def test_vit_family_targets_map_every_vit_parameter(timm_vit, name, fields):
  """Every ViT weight lands in each family member; the temporal parts are new."""
  _, path = timm_vit
  entry = registry.get_entry(name)
  cfg = dict(name=name, variant="tiny", hidden_size=32, num_layers=2,
             num_heads=4, mlp_dim=128, **fields)
  for field in ("patch_size", "tubelet_size", "temporal_heads",
                "temporal_mlp_dim", "head_mlp_dim"):
    if field in entry.variants["tiny"]:
      cfg[field] = {"patch_size": 8, "tubelet_size": (2, 8, 8),
                    "temporal_heads": 4, "temporal_mlp_dim": 128,
                    "head_mlp_dim": 32}[field]
  _, _, values, report = _convert(_options(path), cfg, (4, 16, 16, 3))
  used = {e.source for e in report.entries if e.status != "new"}
  # Every block weight and the embeddings are used (heads may not be).
  assert not [u for u in report.unused if not u.startswith("head")], (
      report.unused)
  assert "patch_embed.proj.weight [D,C,p,p]→[p,p,C,D]" in used
  assert report.counts()["new"] > 0  # time embeddings, temporal layers, ...


def _tv_resnet(num_classes=5):
  """A torchvision ResNet-18 layout with one block per stage, random BN stats."""
  torch.manual_seed(0)
  net = torchvision.models.resnet.ResNet(
      torchvision.models.resnet.BasicBlock, [1, 1, 1, 1],
      num_classes=num_classes).eval()
  with torch.no_grad():
    for m in net.modules():
      if isinstance(m, torch.nn.BatchNorm2d):
        m.running_mean.normal_(0, 0.1)
        m.running_var.uniform_(0.5, 1.5)
        m.weight.uniform_(0.5, 1.5)
        m.bias.normal_(0, 0.1)
  return net


def test_torchvision_resnet_inflated_reproduces_2d_logits(tmp_path):
  """"mean"-inflated ResNet3D on a boring video computes the 2D ResNet.

  Hara's stem (7×7×7 conv, 3×3×3 max pool, as torchvision's 7×7 + 3×3 pool),
  projection shortcuts (B, torchvision's downsample) and "replicate" temporal
  padding: every inflated conv sees identical frames at every position, even
  the clip's ends, so each equals its 2D conv and eval-mode BN equals the
  2D BN; the logits agree to float32 rounding. Read from a .pth via torch.
  """
  net = _tv_resnet()
  path = tmp_path / "resnet.pth"
  torch.save(net.state_dict(), path)
  cfg = dict(name="resnet3d", variant="18", depths=(1, 1, 1, 1), shortcut="B",
             temporal_padding="replicate")
  model, shapes, values, report = _convert(_options(path), cfg, (2, 32, 32, 3))
  counts = report.counts()
  assert counts["new"] == 0 and counts["inflated"] > 0 and not report.unused
  variables = {"params": _params(shapes, values),
               "batch_stats": init_2d.merge(
                   jax.tree.map(lambda s: np.zeros(s.shape, s.dtype),
                                shapes["batch_stats"]), values, "batch_stats")}
  image = np.random.RandomState(1).randn(2, 32, 32, 3).astype(np.float32)
  clip = np.repeat(image[:, None], 2, axis=1)
  ours = np.asarray(jax.jit(lambda v, x: model.apply(v, x, train=False))(
      variables, clip))
  with torch.no_grad():
    ref = net(torch.from_numpy(image).permute(0, 3, 1, 2)).numpy()
  diff = np.abs(ours - ref).max()
  print(f"torchvision ResNet -> ResNet3D max |Δlogits| = {diff:.2e}")
  assert diff <= 1e-4


def test_factorised_and_mismatched_targets_raise_config_error(tmp_path,
                                                              timm_vit):
  net = _tv_resnet()
  path = tmp_path / "resnet.npz"
  np.savez(path, **{k: v.numpy() for k, v in net.state_dict().items()})
  r2plus1d = dict(name="r2plus1d", variant="tiny", depths=(1, 1, 1, 1),
                  widths=(64, 128, 256, 512), stem_features=64)
  with pytest.raises(ConfigError, match=r"params/stage1_block0/conv1/"
                     r"spatial_conv/kernel is the spatial_conv of a factorised "
                     r"conv.*layer1\.0\.conv1\.weight"):
    _convert(_options(path), r2plus1d, (2, 32, 32, 3))
  with pytest.raises(ConfigError, match="cannot initialise.*two_stream"):
    init_2d.convert(_options(path), "two_stream", None, {"params": {}})
  _, vit_path = timm_vit  # 8×8 patches into 4×4 tubelets:
  with pytest.raises(ConfigError, match=r"onto params/tubelet_embed/kernel "
                     r"\(2, 4, 4, 3, 32\); allowed: a tubelet"):
    _convert(_options(vit_path), dict(_VIVIT, tubelet_size=(2, 4, 4)),
             (2, 16, 16, 3))
  with pytest.raises(ConfigError, match="init_from.tubelet_init='middle'"):
    _convert(_options(vit_path, tubelet_init="middle"), _VIVIT, (2, 16, 16, 3))


def test_googlenet_into_i3d_needs_bn_scale_and_full_convs(tmp_path):
  """GoogLeNet's layers all land in I3D (bn_scale=True); without a BN scale
  the mapping is refused. (S3D's separable convs refuse as R(2+1)D's do.)"""
  torch.manual_seed(0)
  net = torchvision.models.googlenet(weights=None, aux_logits=False,
                                     init_weights=False, num_classes=7)
  path = tmp_path / "googlenet.npz"
  np.savez(path, **{k: v.numpy() for k, v in net.state_dict().items()})
  cfg = dict(name="i3d", variant="rgb", bn_scale=True)
  _, _, values, report = _convert(_options(path), cfg, (8, 64, 64, 3), 7)
  assert report.counts()["new"] == 0 and not report.unused
  status = {e.target: e for e in report.entries}
  assert status["params/rgb/mixed_3b/branch2/conv/kernel"].source == (
      "inception3a.branch3.1.conv.weight [O,I,h,w]→[h,w,I,O]")
  assert status["params/rgb/logits/kernel"].status == "loaded"
  np.testing.assert_allclose(
      values["batch_stats/rgb/conv1a/norm/mean"],
      net.conv1.bn.running_mean.numpy())
  assert any("ceil_mode" in n for n in report.notes)
  with pytest.raises(ConfigError, match="model.bn_scale=True"):
    _convert(_options(path), dict(name="i3d", variant="rgb"), (8, 64, 64, 3), 7)


def test_trainer_starts_from_converted_params_and_writes_report(timm_vit,
                                                                 tmp_path):
  """With init_from and no checkpoint, the trainer's initial state holds the
  converted params and the report is in the workdir; a missing file fails
  validation. (Resuming returns before the init_from branch is reached.)"""
  _, path = timm_vit
  config = tiny_config("vivit", hidden_size=32, num_layers=2, num_heads=4,
                       mlp_dim=128, tubelet_size=(2, 8, 8))
  config.init_from.path = str(path)
  workdir = tmp_path / "run"
  state, _ = train_lib.Trainer(config, str(workdir)).restore_or_init()
  values, _ = init_2d.convert(config.init_from, "vivit",
                              registry.build_model(config.model, 4),
                              {"params": state.params})
  for key, value in values.items():
    leaf = state.params
    for part in key.split("/")[1:]:
      leaf = leaf[part]
    np.testing.assert_array_equal(np.asarray(leaf), value, err_msg=key)
  with open(workdir / "init_report.json") as f:
    report = json.load(f)
  # The head: 4 classes here, 5 in the source.
  assert report["counts"]["new"] == 2
  new = [e for e in report["entries"] if e["status"] == "new"]
  assert {e["target"] for e in new} == {"params/head/bias", "params/head/kernel"}
  assert "params/tubelet_embed/kernel" in open(workdir / "init_report.txt").read()
  config.init_from.path = str(tmp_path / "missing.npz")
  from vst import validate  # pylint: disable=g-import-not-at-top
  with pytest.raises(ConfigError, match="init_from.path=.*missing.npz"):
    validate.check_config(config)


def test_torchvision_resnet50_into_tsn_is_copied(tmp_path):
  """TSN's 2D ResNet-50 backbone takes the torchvision weights unchanged."""
  torch.manual_seed(0)
  net = torchvision.models.resnet50(weights=None, num_classes=7)
  path = tmp_path / "resnet50.npz"
  np.savez(path, **{k: v.numpy() for k, v in net.state_dict().items()})
  _, _, values, report = _convert(
      _options(path), dict(name="tsn", variant="resnet50"), (3, 32, 32, 3), 7)
  assert report.counts() == {"loaded": len(report.entries), "inflated": 0,
                             "interpolated": 0, "new": 0}
  assert not report.unused
  np.testing.assert_array_equal(
      values["params/rgb_backbone/layer4_2/conv3/conv/kernel"],
      net.layer4[2].conv3.weight.detach().numpy().transpose(2, 3, 1, 0))
