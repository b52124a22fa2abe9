"""The words pages use for what a model's data shows: a digit's style is its handwriting, a
garment's is not. Keyed by the dataset a checkpoint names (its config's data.dataset)."""

from __future__ import annotations

STYLE = {"digits": "slant, thickness, size", "fashion": "cut, size, shading"}
SWAP = {"digits": "the same handwriting, another digit",
        "fashion": "the same cut and shading, another garment"}


def style(dataset: str) -> str:
    """What a CVAE's code holds besides the class, as examples."""
    return STYLE.get(dataset, "size, position, shading")


def swap(dataset: str) -> str:
    """What decoding one code under every other class shows."""
    return SWAP.get(dataset, "the same style, another class")
