"""The 3D ResNet family as stage specs: ResNet3D, ResNeXt3D, MC3, R(2+1)D, P3D,
CSN, with SE / STC channel attention as a block option.

One Module, `ResNet3D`: a stem, four stages of `residual3d.ResidualBlock3D`
and a global-average-pool classifier. What distinguishes the published
networks is data, the fields below, so every network is a variant:

  resnet3d  Hara et al. 2018 (3D-ResNets-PyTorch): 7×7×7 stem + 3×3×3 max
            pool; 18/34 basic blocks with shortcut A; 50–200 bottlenecks
            and ResNeXt-101 (32 groups, expansion 2) with shortcut B. Also
            Tran et al.'s R3D-18 and MC3-18 (torchvision's r3d_18, mc3_18), and
            SE/STC versions.
  r2plus1d  Tran et al. 2018: every t×3×3 conv (2+1)D with the paper's
            intermediate width; "18_torchvision" uses torchvision's per-block
            width (31.5M parameters instead of 33.3M).
  p3d       Qiu et al. 2017: bottlenecks cycling P3D-A, -B, -C.
  csn       Tran et al. 2019: bottlenecks whose 3×3×3 conv is channel-separated,
            ip (1×1×1 + depthwise) or ir (depthwise only).

Parameter names: `stem`, `stage{i}_block{j}` (i = 1..4, torchvision's
`layer{i}.{j}`), each with `conv1..3` and `shortcut`, then `head`.
"""

import dataclasses

import flax.linen as nn
import jax
import jax.numpy as jnp

from vst.errors import ConfigError, check_choice
from vst.layers import channel_attention
from vst.layers import conv3d
from vst.layers import heads
from vst.layers import residual3d
from vst.models._variants import complete_variants
from vst.models.registry import register


@dataclasses.dataclass(frozen=True)
class StemSpec:
  """conv (stride 1×2×2) → norm → ReLU, then an optional max pool.

  `mid_ratio` sets a factorised stem's intermediate width as a fraction of
  its output (R(2+1)D: 45 of 64).
  """
  kernel: tuple[int, int, int]
  factorization: str = "full"
  mid_ratio: float | None = None
  pool_window: tuple[int, int, int] | None = None
  pool_strides: tuple[int, int, int] | None = None


STEMS = {
    # Hara et al.: conv1 7×7×7 s(1,2,2) + max pool 3×3×3 s2.
    "hara": StemSpec((7, 7, 7), pool_window=(3, 3, 3), pool_strides=(2, 2, 2)),
    # Tran et al.'s R3D / MC3 (torchvision BasicStem): 3×7×7, no pool.
    "r3d": StemSpec((3, 7, 7)),
    # R(2+1)D: 1×7×7 to 45 channels, then 3×1×1 to 64; no pool.
    "r2plus1d": StemSpec((3, 7, 7), "r2plus1d", mid_ratio=45 / 64),
    # CSN (VMZ BasicStem_Pool): 3×7×7 + max pool 1×3×3 s(1,2,2).
    "csn": StemSpec((3, 7, 7), pool_window=(1, 3, 3), pool_strides=(1, 2, 2)),
    # P3D: 1×7×7 + max pool 2×3×3 s2 (the authors' PyTorch port).
    "p3d": StemSpec((1, 7, 7), pool_window=(2, 3, 3), pool_strides=(2, 2, 2)),
}

_BASIC_18, _BASIC_34 = (2, 2, 2, 2), (3, 4, 6, 3)
_DEPTHS = {50: (3, 4, 6, 3), 101: (3, 4, 23, 3), 152: (3, 8, 36, 3),
           200: (3, 24, 36, 3)}


def _hara(depth: int, **fields) -> dict:
  if depth in (18, 34):
    return dict(depths=_BASIC_18 if depth == 18 else _BASIC_34, block="basic",
                expansion=1, stem="hara", shortcut="A", **fields)
  return dict(depths=_DEPTHS[depth], block="bottleneck", expansion=4,
              stem="hara", shortcut="B", **fields)


_TINY = dict(depths=(1, 1, 1, 1), widths=(8, 16, 32, 64), stem_features=8)
_RESNEXT_101 = dict(depths=_DEPTHS[101], block="bottleneck",
                    widths=(128, 256, 512, 1024), expansion=2, groups=32,
                    stem="hara", shortcut="B")

RESNET3D_VARIANTS = {
    **{str(d): _hara(d) for d in (18, 34, 50, 101, 152, 200)},
    "resnext101": _RESNEXT_101,
    # Tran et al. 2018's baselines = torchvision's r3d_18 and mc3_18.
    "r3d_18": dict(depths=_BASIC_18, block="basic", expansion=1, stem="r3d",
                   shortcut="B"),
    "mc3_18": dict(depths=_BASIC_18, block="basic", expansion=1, stem="r3d",
                   shortcut="B", temporal_kernels=(3, 1, 1, 1),
                   temporal_strides=(1, 1, 1, 1)),
    # Channel attention on the ResNet3D family.
    "se_50": _hara(50, attention="se"),
    "stc_resnext101": dict(_RESNEXT_101, attention="stc"),
    "tiny": dict(_TINY, block="basic", expansion=1, stem="r3d", shortcut="B"),
    "tiny_se": dict(_TINY, block="basic", expansion=1, stem="r3d",
                    shortcut="B", attention="se", attention_reduction=4),
    "tiny_stc": dict(_TINY, block="basic", expansion=1, stem="r3d",
                     shortcut="B", attention="stc", attention_reduction=4),
}

_R2PLUS1D = dict(block="basic", expansion=1, stem="r2plus1d", shortcut="B",
                 factorization=("r2plus1d",))
R2PLUS1D_VARIANTS = {
    "18": dict(_R2PLUS1D, depths=_BASIC_18),
    "34": dict(_R2PLUS1D, depths=_BASIC_34),
    "18_torchvision": dict(_R2PLUS1D, depths=_BASIC_18,
                           mid_width_rule="torchvision"),
    "tiny": dict(_R2PLUS1D, **_TINY),
}

_P3D = dict(block="bottleneck", expansion=4, stem="p3d", shortcut="B",
            factorization=("p3d_a", "p3d_b", "p3d_c"))
P3D_VARIANTS = {
    # Depth names of the authors' PyTorch port: ResNet-50/101/152 layouts.
    "63": dict(_P3D, depths=_DEPTHS[50]),
    "131": dict(_P3D, depths=_DEPTHS[101]),
    "199": dict(_P3D, depths=_DEPTHS[152]),
    "tiny": dict(_P3D, **_TINY, expansion=2),
}

# VMZ's CSNs: torchvision Bottlenecks, BatchNorm eps 1e-3.
_CSN = dict(block="bottleneck", expansion=4, stem="csn", shortcut="B",
            bn_epsilon=1e-3)
CSN_VARIANTS = {
    "ip_152": dict(_CSN, depths=_DEPTHS[152], factorization=("csn_ip",)),
    "ir_152": dict(_CSN, depths=_DEPTHS[152], factorization=("csn_ir",)),
    "ip_50": dict(_CSN, depths=_DEPTHS[50], factorization=("csn_ip",)),
    "ir_50": dict(_CSN, depths=_DEPTHS[50], factorization=("csn_ir",)),
    "tiny": dict(_CSN, **_TINY, expansion=2, factorization=("csn_ir",)),
}


def residual_trunk(x: jax.Array, *, stem: StemSpec, stem_features: int,
                   depths, block: str, widths, expansion: int,
                   temporal_kernels, temporal_strides, factorizations,
                   options: residual3d.ConvOptions, train: bool,
                   block_cls=residual3d.ResidualBlock3D,
                   **block_fields) -> jax.Array:
  """Stem and stages, unpooled: [B, T, H, W, C] -> [B, t, h, w, D].

  Called inside a Module's compact method, it creates that Module's `stem`
  and `stage{i}_block{j}` submodules, so every network built on it (the
  classifier below, FASTER's backbones) has one parameter layout. Block j of
  stage i uses factorisation `factorizations[n % len]`, n counting blocks
  over all stages (P3D cycles A, B, C); `block_fields` go to every block.
  """
  x = x.astype(jnp.dtype(options.dtype))
  mid = (None if stem.mid_ratio is None
         else round(stem_features * stem.mid_ratio))
  x = options.conv(stem_features, stem.kernel, (1, 2, 2),
                   factorization=stem.factorization, mid_features=mid,
                   name="stem")(x, train=train)
  if stem.pool_window:
    x = conv3d.max_pool3d(x, stem.pool_window, stem.pool_strides)
  if isinstance(factorizations, str):
    factorizations = (factorizations,)
  index = 0
  for i, depth in enumerate(depths):
    for j in range(depth):
      spatial = 1 if i == 0 else 2
      strides = ((temporal_strides[i], spatial, spatial) if j == 0
                 else (1, 1, 1))
      x = block_cls(
          block=block, planes=widths[i], out_features=widths[i] * expansion,
          strides=strides, temporal_kernel=temporal_kernels[i],
          factorization=factorizations[index % len(factorizations)],
          options=options, name=f"stage{i + 1}_block{j}", **block_fields)(
              x, train)
      index += 1
  return x


class ResNet3D(nn.Module):
  """A 3D ResNet on [B, T, H, W, C] clips.

  Attributes:
    num_classes: size of the classifier.
    depths: blocks per stage.
    block: "basic" or "bottleneck".
    widths: planes per stage (a bottleneck's inner width).
    expansion: output channels per plane (1 basic, 4 bottleneck, 2 Hara's
      ResNeXt).
    stem: a key of `STEMS`.
    stem_features: the stem's output channels.
    factorization: the t×3×3 convs' `conv3d.FACTORIZATIONS`, cycled over the
      blocks in order (P3D: A, B, C, A, ...).
    temporal_kernels: t of the t×3×3 convs, per stage (MC3: 3, 1, 1, 1).
    temporal_strides: temporal stride of each stage's first block (spatial
      strides are 1, 2, 2, 2).
    groups: ResNeXt cardinality of `full` convs.
    mid_width_rule: (2+1)D width, "paper" or "torchvision".
    shortcut: "A" (zero-padding) or "B" (projection).
    attention: "none", "se" or "stc" in every block.
    attention_reduction: SE/STC bottleneck ratio r.
    dropout_rate: before the classifier.
    bn_momentum, bn_epsilon: of every BatchNorm (flax momentum).
    temporal_padding: "zeros" or "replicate" (conv3d).
    dtype: compute dtype; params stay float32.
    remat: rematerialise each block in the backward pass.
  """
  num_classes: int
  depths: tuple[int, ...]
  block: str = "basic"
  widths: tuple[int, ...] = (64, 128, 256, 512)
  expansion: int = 1
  stem: str = "r3d"
  stem_features: int = 64
  factorization: tuple[str, ...] = ("full",)
  temporal_kernels: tuple[int, ...] = (3, 3, 3, 3)
  temporal_strides: tuple[int, ...] = (1, 2, 2, 2)
  groups: int = 1
  mid_width_rule: str = "paper"
  shortcut: str = "B"
  attention: str = "none"
  attention_reduction: int = 16
  dropout_rate: float = 0.0
  bn_momentum: float = 0.9
  bn_epsilon: float = 1e-5
  temporal_padding: str = "zeros"
  dtype: str = "float32"
  remat: bool = False

  def _check(self) -> StemSpec:
    check_choice("model.stem", self.stem, STEMS)
    for f in self.factorization:
      conv3d.check_factorization("model.factorization", f)
    channel_attention.check_attention("model.attention", self.attention)
    check_choice("model.block", self.block, residual3d.BLOCKS)
    check_choice("model.shortcut", self.shortcut, residual3d.SHORTCUTS)
    for field in ("widths", "temporal_kernels", "temporal_strides"):
      if len(getattr(self, field)) != len(self.depths):
        raise ConfigError(f"model.{field} needs one entry per stage "
                          f"({len(self.depths)}, as model.depths)")
    return STEMS[self.stem]

  def validate_input(self, shape) -> None:
    """Raises ConfigError for inconsistent fields. Any clip size runs: convs
    pad to keep at least one position, and the stem pool is clipped."""
    del shape
    self._check()

  @nn.compact
  def __call__(self, inputs: jax.Array, *, train: bool) -> jax.Array:
    """Logits [B, num_classes] (float32) of clips [B, T, H, W, C]."""
    stem = self._check()
    options = residual3d.ConvOptions(self.bn_momentum, self.bn_epsilon,
                                     self.temporal_padding, self.dtype)
    block_cls = (nn.remat(residual3d.ResidualBlock3D, static_argnums=(2,))
                 if self.remat else residual3d.ResidualBlock3D)
    x = residual_trunk(
        inputs, stem=stem, stem_features=self.stem_features,
        depths=self.depths, block=self.block, widths=self.widths,
        expansion=self.expansion, temporal_kernels=self.temporal_kernels,
        temporal_strides=self.temporal_strides,
        factorizations=self.factorization, options=options, train=train,
        block_cls=block_cls, groups=self.groups,
        mid_width_rule=self.mid_width_rule, shortcut=self.shortcut,
        attention=self.attention,
        attention_reduction=self.attention_reduction)
    return heads.classify(x.mean(axis=(1, 2, 3)), self.num_classes,
                          train=train, dropout_rate=self.dropout_rate,
                          kernel_init=nn.initializers.normal(0.01),
                          dtype=self.dtype)


register("resnet3d", ResNet3D, complete_variants(ResNet3D, RESNET3D_VARIANTS))
register("r2plus1d", ResNet3D, complete_variants(ResNet3D, R2PLUS1D_VARIANTS))
register("p3d", ResNet3D, complete_variants(ResNet3D, P3D_VARIANTS))
register("csn", ResNet3D, complete_variants(ResNet3D, CSN_VARIANTS))
