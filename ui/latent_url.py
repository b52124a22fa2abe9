"""A latent position as text in a URL: comma-separated numbers, one per dimension, so a link
opens Explore where its sender was."""

from __future__ import annotations

import numpy as np

MAX_CODE_CHARS = 2000


def format_code(z: np.ndarray) -> str:
    """A code as text for a URL: '0.50,-1.20,...' (two decimals, the sliders' precision)."""
    return ",".join(f"{float(v):.2f}" for v in np.asarray(z).ravel())


def parse_code(text: str, latent_dim: int, limit: float) -> np.ndarray:
    """The code written by `format_code`, clipped to [-limit, limit]; a ValueError whose message
    is one sentence says what is wrong with the text otherwise."""
    if len(text) > MAX_CODE_CHARS:
        raise ValueError(f"the code is longer than {MAX_CODE_CHARS} characters")
    parts = [p.strip() for p in text.split(",")]
    if len(parts) != latent_dim:
        count = f"{len(parts)} number" + ("" if len(parts) == 1 else "s")
        raise ValueError(f"it has {count}, but this model has {latent_dim} latent dimensions")
    try:
        z = np.array([float(p) for p in parts], np.float64)
    except ValueError:
        raise ValueError("not all of its values are numbers") from None
    if not np.isfinite(z).all():
        raise ValueError("it contains a value that is not a finite number")
    return np.clip(z, -limit, limit).astype(np.float32)
