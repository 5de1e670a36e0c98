"""A PyTorch state dict consumed key by key into flax parameter layouts.

Shared by the transformer converters (`swin3d_torchvision`,
`mvit_torchvision`, `vivit_hf`, `timesformer_hf`): every key must be used exactly
once, so a layout change on either side fails loudly instead of leaving a
weight at its initial value.

Layouts: Linear [out, in] -> Dense kernel [in, out]; Conv3d [O, I/g, t, h, w]
-> kernel [t, h, w, I/g, O]; LayerNorm / BatchNorm weight -> scale; a fused
qkv Linear -> three DenseGeneral [C, N, Dh] projections, as
`vst.layers.attention.MultiHeadAttention` holds them.
"""

from typing import Any, Callable, Iterable, Mapping, Optional

import numpy as np


class StateDict:
  """A state dict as float32 numpy arrays; `take` removes what it returns."""

  def __init__(self, state_dict: Mapping[str, Any], source: str,
               ignore: Iterable[str] = (),
               key_map: Optional[Callable[[str], str]] = None):
    """`ignore`: key suffixes that are buffers, not weights, e.g. an index;
    `key_map`: applied to every key first (prefixes, renamed layers)."""
    self.source = source
    self.weights = {}
    ignore = tuple(ignore) + ("num_batches_tracked",)
    for key, value in state_dict.items():
      if key_map is not None:
        key = key_map(key)
      if key.endswith(ignore):
        continue
      if hasattr(value, "detach"):  # A torch tensor.
        value = value.detach().cpu().float().numpy()
      self.weights[key] = np.asarray(value, np.float32)

  def has(self, key: str) -> bool:
    return key in self.weights

  def take(self, key: str) -> np.ndarray:
    if key not in self.weights:
      raise ValueError(f"{self.source} state dict has no {key!r}")
    return self.weights.pop(key)

  def dense(self, prefix: str, bias: bool = True) -> dict:
    out = {"kernel": self.take(f"{prefix}.weight").T}
    if bias:
      out["bias"] = self.take(f"{prefix}.bias")
    return out

  def norm(self, prefix: str) -> dict:
    return {"scale": self.take(f"{prefix}.weight"),
            "bias": self.take(f"{prefix}.bias")}

  def batch_norm(self, prefix: str) -> tuple[dict, dict]:
    """(params, batch_stats) of a BatchNorm."""
    return self.norm(prefix), {"mean": self.take(f"{prefix}.running_mean"),
                               "var": self.take(f"{prefix}.running_var")}

  def conv(self, prefix: str, bias: bool = True) -> dict:
    out = {"kernel": self.take(f"{prefix}.weight").transpose(2, 3, 4, 1, 0)}
    if bias:
      out["bias"] = self.take(f"{prefix}.bias")
    return out

  def attention(self, qkv: str, proj: str, num_heads: int) -> dict:
    """`MultiHeadAttention` params from a fused qkv Linear and its output."""
    weight = self.take(f"{qkv}.weight")  # [3·C_out, C_in]
    # Without a qkv bias (qkv_bias=False) ours holds zeros, the same map.
    bias = (self.take(f"{qkv}.bias") if self.has(f"{qkv}.bias")
            else np.zeros(weight.shape[0], np.float32))
    width_in = weight.shape[1]
    out = {}
    for i, name in enumerate(("query", "key", "value")):
      part = np.split(weight, 3)[i].T  # [C_in, C_out]
      out[name] = {"kernel": part.reshape(width_in, num_heads, -1),
                   "bias": np.split(bias, 3)[i].reshape(num_heads, -1)}
    out["out"] = self.attention_output(proj, num_heads)
    return out

  def separate_attention(self, query: str, key: str, value: str, proj: str,
                         num_heads: int) -> dict:
    """`MultiHeadAttention` params from three q, k, v Linears and the
    output Linear."""
    out = {}
    for name, prefix in (("query", query), ("key", key), ("value", value)):
      layer = self.dense(prefix)
      out[name] = {
          "kernel": layer["kernel"].reshape(layer["kernel"].shape[0],
                                            num_heads, -1),
          "bias": layer["bias"].reshape(num_heads, -1)}
    out["out"] = self.attention_output(proj, num_heads)
    return out

  def attention_output(self, proj: str, num_heads: int) -> dict:
    """The output Linear [C_out, N·Dh] as a DenseGeneral [N, Dh, C_out]."""
    layer = self.dense(proj)
    return {"kernel": layer["kernel"].reshape(num_heads, -1,
                                              layer["kernel"].shape[1]),
            "bias": layer["bias"]}

  def drop(self, prefix: str) -> None:
    """Discards the keys under `prefix` (weights off the converted path)."""
    for key in [k for k in self.weights if k.startswith(prefix)]:
      del self.weights[key]

  def check_consumed(self) -> None:
    if self.weights:
      raise ValueError(
          f"{self.source} keys not converted: {sorted(self.weights)}")
