"""vst: deep spatial-temporal (video) models in JAX/Flax.

Exact, mutually compatible versions live in requirements.txt (direct pins) and
constraints.txt (the whole resolved set); the ranges here only keep `pip
install vst` from picking an API we do not support.
"""

import setuptools

setuptools.setup(
    name="vst",
    version="0.1.0",
    description="Video recognition models in JAX/Flax, compared on equal terms.",
    packages=setuptools.find_packages(include=["vst", "vst.*"]),
    package_data={"vst.tools": ["published/*.json"]},
    python_requires=">=3.11",
    install_requires=[
        "jax>=0.10,<0.11",
        "flax>=0.12,<0.13",
        "optax>=0.2.8,<0.3",
        "orbax-checkpoint>=0.12,<0.13",
        "ml-collections>=1.1,<2",
        "clu>=0.0.12",
        "chex>=0.1.92",
        "numpy>=2.0",
        "absl-py>=2.0",
        "tensorboardX>=2.6",
        "tqdm>=4.0",
        "av>=14",
        "opencv-contrib-python-headless>=4.10",
        "tensorflow-datasets>=4.9.10",
        "importlib-resources>=6",
        "grain>=0.2.18",
    ],
    extras_require={
        # Independent implementations for parity tests and speed comparisons.
        "parity": ["torch==2.14.1", "torchvision==0.29.1", "transformers==5.23.0"],
        "test": ["pytest>=9", "pytest-xdist>=3"],
    },
)
