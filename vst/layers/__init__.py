"""Building blocks shared by the video models."""
