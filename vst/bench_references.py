"""PyTorch reference implementations timed by `vst.bench` at the same shape.

The references are registered by name beside their weight converters
(`vst.models.convert.references`); this module builds the one of a config's
model and times it the way `vst.bench` times ours.
"""

import importlib.util

from vst import timing
from vst.models import registry as model_registry
from vst.models.convert import references


def logits_of(out):
  """Logits of a reference's output (HF models return an output object)."""
  return out.logits if hasattr(out, "logits") else out


def channels_first(clips, layout: str):
  """[B, T, H, W, C] torch clips in the reference's `layout`."""
  if layout == "BTCHW":
    return clips.permute(0, 1, 4, 2, 3)
  return clips.permute(0, 4, 1, 2, 3)


def build_reference(config):
  """(torch module, layout) of the reference at `config`'s sizes, or None
  when torch or a reference for this config is missing."""
  name = config.model.name
  if (name not in references.REFERENCES
      or importlib.util.find_spec("torch") is None):
    return None
  build, layout = references.REFERENCES.get(name)
  kwargs = model_registry.module_kwargs(config.model, config.dataset.num_classes)
  module = build(config, kwargs)
  return None if module is None else (module, layout)


def run(config, batch_size: int, runs: int) -> dict:
  """{"reference", "ref_fwd_clips_per_s", "ref_train_clips_per_s"}, or {} when
  torch or a reference for this config is missing."""
  reference = build_reference(config)
  if reference is None:
    return {}
  import torch  # pylint: disable=g-import-not-at-top
  module, layout = reference
  device = "cuda" if torch.cuda.is_available() else "cpu"
  module = module.to(device)
  t, s = int(config.dataset.num_frames), int(config.dataset.crop_size)
  shape = (batch_size, t, 3, s, s) if layout == "BTCHW" else (batch_size, 3, t, s, s)
  x = torch.randn(*shape, device=device)
  y = torch.zeros(batch_size, dtype=torch.long, device=device)
  sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)

  module.eval()
  def forward():
    with torch.no_grad():
      logits_of(module(x))
    sync()
  fwd_s = timing.median_seconds(forward, runs)

  module.train()
  opt = torch.optim.AdamW(module.parameters(), lr=1e-4)
  def train_step():
    opt.zero_grad(set_to_none=True)
    loss = torch.nn.functional.cross_entropy(logits_of(module(x)), y)
    loss.backward()
    opt.step()
    sync()
  train_s = timing.median_seconds(train_step, runs)
  return {"reference": f"{type(module).__module__}.{type(module).__name__}",
          "ref_device": device,
          "ref_fwd_clips_per_s": batch_size / fwd_s,
          "ref_train_clips_per_s": batch_size / train_s}
