"""Video models, built by name through `vst.models.registry`."""

from vst.models.registry import build_model, get_entry, list_models, register
