"""Conversion of published checkpoints into vst parameter trees."""
