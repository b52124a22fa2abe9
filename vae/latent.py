"""Moving in latent space: prior samples, traversals, interpolation, nearest neighbours."""

from __future__ import annotations

import numpy as np
import torch

from vae.models import VAE


@torch.no_grad()
def decode(model: VAE, z: np.ndarray, labels: np.ndarray | None = None) -> np.ndarray:
    """Means of p(x|z[,c]) in [0, 1], shaped (n, C, H, W)."""
    c = None if labels is None else torch.as_tensor(labels, dtype=torch.long)
    return model.decode_mean(torch.as_tensor(z, dtype=torch.float32), c).numpy()


def sample_prior(model: VAE, n: int, *, label: int | None = None,
                 seed: int = 0) -> tuple[np.ndarray, np.ndarray | None]:
    """n images decoded from z ~ N(0, I). A CVAE gives n of class `label`, or n per class
    (class-major, the same z reused across classes so a row shows one style) without one."""
    if n < 1:
        raise ValueError("The number of samples must be at least 1.")
    k = model.config.num_classes
    z = np.random.default_rng(seed).standard_normal((n, model.config.latent_dim)).astype(
        np.float32)
    if not k:
        return decode(model, z), None
    if label is not None:
        if not 0 <= label < k:
            raise ValueError(f"The label must be between 0 and {k - 1}.")
        labels = np.full(n, label)
    else:
        labels = np.repeat(np.arange(k), n)
        z = np.tile(z, (k, 1))
    return decode(model, z, labels), labels
