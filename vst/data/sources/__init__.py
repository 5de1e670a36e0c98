"""Annotation readers: which videos a split holds and their labels.

Each reader turns `dataset.data_dir` (and a split) into a `VideoIndex`; none
decodes a video. See `vst.data.sources.index` for the shared pieces.
"""
