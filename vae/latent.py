"""Moving in latent space: prior samples, traversals, interpolation, nearest neighbours
(pictures people bring are vae.pictures)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from vae.models import VAE


def dimension_name(j: int) -> str:
    """Latent dimension j as people read it: numbered from 1 (z1 ... zd) on every page, in the
    CLI and in exports, while code indexes from 0."""
    return f"z{j + 1}"


@torch.no_grad()
def decode_images(model: VAE, z: np.ndarray, labels: np.ndarray | None = None) -> np.ndarray:
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
        if label is not None:
            raise ValueError("This model was trained without classes, so a label cannot be "
                             "given; leave it out.")
        return decode_images(model, z), None
    if label is not None:
        if not 0 <= label < k:
            raise ValueError(f"The label must be between 0 and {k - 1}.")
        labels = np.full(n, label)
    else:
        labels = np.repeat(np.arange(k), n)
        z = np.tile(z, (k, 1))
    return decode_images(model, z, labels), labels


def traversal(z: np.ndarray, dims: list[int], values: np.ndarray) -> np.ndarray:
    """Codes for a traversal grid: row r varies dimension dims[r] over `values`, the other
    coordinates stay at z. Shape (len(dims) * len(values), d), row-major."""
    codes = np.repeat(np.asarray(z, np.float32).reshape(1, -1), len(dims) * len(values), 0)
    for r, j in enumerate(dims):
        codes[r * len(values):(r + 1) * len(values), j] = values
    return codes


def manifold_grid(n: int, extent: float = 3.0) -> np.ndarray:
    """A 2-D model's n x n grid of codes over [-extent, extent]^2 (Kingma & Welling, fig. 4),
    rows from top (high z1) to bottom, so the picture reads like the plane."""
    axis = np.linspace(-extent, extent, n, dtype=np.float32)
    z0, z1 = np.meshgrid(axis, axis[::-1])
    return np.stack([z0.ravel(), z1.ravel()], 1)


def interpolate(a: np.ndarray, b: np.ndarray, steps: int, method: str = "lerp") -> np.ndarray:
    """Codes from a to b inclusive. slerp follows the great circle, which keeps the norm that
    Gaussian codes concentrate at; lerp cuts through the low-norm middle."""
    if steps < 2:
        raise ValueError("An interpolation needs at least 2 steps.")
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    t = np.linspace(0.0, 1.0, steps)[:, None]
    if method == "lerp":
        return ((1 - t) * a + t * b).astype(np.float32)
    if method != "slerp":
        raise ValueError(f"Unknown interpolation '{method}'; use lerp or slerp.")
    cos = np.dot(a, b) / max(np.linalg.norm(a) * np.linalg.norm(b), 1e-12)
    omega = np.arccos(np.clip(cos, -1.0, 1.0))
    if omega < 1e-6:  # (anti)parallel codes: the circle is undefined, the line is exact
        return ((1 - t) * a + t * b).astype(np.float32)
    out = (np.sin((1 - t) * omega) * a + np.sin(t * omega) * b) / np.sin(omega)
    return out.astype(np.float32)


@torch.no_grad()
def encode_images(model: VAE, x: np.ndarray, labels: np.ndarray | None = None,
                  ) -> tuple[np.ndarray, np.ndarray]:
    """(mu, logvar) of q(z|x[,c]) for images (n, C, H, W) in [0, 1]."""
    c = None if labels is None else torch.as_tensor(labels, dtype=torch.long)
    mu, logvar = model.encode(torch.as_tensor(x, dtype=torch.float32), c)
    return mu.numpy(), logvar.numpy()


HANDFUL = 10  # posteriors a 2-D model's pad and map draw: one per class of a ten-class set


@dataclass(frozen=True)
class Posteriors:
    """A few test images' posteriors q(z|x) = N(mean, diag sd²), row by row."""

    index: np.ndarray  # (k,) their numbers among the test images the arrays came from
    mean: np.ndarray  # (k, d)
    sd: np.ndarray  # (k, d)
    label: np.ndarray | None  # (k,) their classes, where the data has them


def posterior_handful(mu: np.ndarray, logvar: np.ndarray, labels: np.ndarray | None = None,
                      count: int = HANDFUL) -> Posteriors:
    """The posteriors of `count` test images, from their encodings (encode_images' mu and
    logvar), chosen the same on every visit: the first image of each class in class order
    (the first `count` classes present), or without labels `count` images evenly spaced.
    σ = exp(log σ² / 2): the encoder's diagonal Gaussian (docs/design.md §3, posteriors)."""
    n = len(mu)
    if labels is None:
        index = np.unique(np.linspace(0, n - 1, min(count, n)).round().astype(int))
    else:
        index = np.unique(labels, return_index=True)[1][:count]  # classes come sorted
    mean = np.asarray(mu, np.float32)[index]
    sd = np.exp(np.asarray(logvar, np.float64)[index] / 2).astype(np.float32)
    return Posteriors(index, mean, sd, None if labels is None else np.asarray(labels)[index])


# --------------------------------------------------------------------------- codes and pictures


def prior_code(latent_dim: int, seed: int | None = None) -> np.ndarray:
    """One code z ~ N(0, I), the prior of docs/design.md §3, shaped (latent_dim,)."""
    return np.random.default_rng(seed).standard_normal(latent_dim).astype(np.float32)


def decode_every_class(model: VAE, z: np.ndarray) -> np.ndarray:
    """A CVAE's decoding of one code under every class, in label order: one style, all classes
    (docs/design.md §3: p(x|z,c) with the same z). Shape (num_classes, C, H, W)."""
    k = model.config.num_classes
    if not k:
        raise ValueError("Only a conditional VAE (CVAE) decodes under a class.")
    codes = np.repeat(np.asarray(z, np.float32).reshape(1, -1), k, 0)
    return decode_images(model, codes, np.arange(k))


NEAREST_ROWS = 2048  # rows converted at once: 6 MB of float32 at 784 pixels
BASIS_SIZE = 32  # directions a PixelIndex projects on
BASIS_SAMPLE = 4096  # images its basis is fitted to


@dataclass(frozen=True)
class PixelIndex:
    """(n, D) images, uint8 or floats in [0, 1], and their projections on BASIS_SIZE
    orthonormal directions (the sample's principal ones), for `nearest_in`."""

    flat: np.ndarray
    basis: np.ndarray  # (B, D) float32, orthonormal rows
    projected: np.ndarray  # (n, B) float32
    lengths: np.ndarray  # (n,) float32, each projection's squared length

    def __len__(self) -> int:
        return len(self.flat)


def pixel_index(flat: np.ndarray) -> PixelIndex:
    """The index `nearest_in` searches, over `flat` as it is (uint8 stays uint8)."""
    d = flat.shape[1]
    if d <= BASIS_SIZE:
        basis = np.eye(d, dtype=np.float32)
    else:  # the sample covariance's leading eigenvectors, a slice of the sample at a time
        sample = flat[::max(1, len(flat) // BASIS_SAMPLE)][:BASIS_SAMPLE]
        mean = sum(rows.sum(0) for rows in _float_rows(sample)) / len(sample)
        covariance = sum(rows.T @ rows for rows in _float_rows(sample)) / len(sample)
        basis = np.linalg.eigh(covariance - np.outer(mean, mean))[1][:, ::-1][:, :BASIS_SIZE].T
    projected = np.concatenate([rows @ basis.T for rows in _float_rows(flat)])
    return PixelIndex(flat, np.ascontiguousarray(basis, np.float32), projected,
                      np.einsum("ij,ij->i", projected, projected))


def _float_rows(flat: np.ndarray):
    """(n, D) pixels as float32 in [0, 1], a slice of rows at a time: uint8 pixels are never
    converted all at once (a large set would take four times the memory)."""
    scale = np.float32(1 / 255 if flat.dtype == np.uint8 else 1)
    for start in range(0, len(flat), NEAREST_ROWS):
        yield np.multiply(flat[start:start + NEAREST_ROWS], scale, dtype=np.float32)


def nearest_in(index: PixelIndex, query: np.ndarray, k: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """The k images of `index` closest to `query` in pixel space (Euclidean), exactly as a
    search of every image finds them: their indices, closest first, and their root-mean-square
    pixel differences from the query (0 = identical, 1 = opposite everywhere).

    A projection on orthonormal directions never lengthens a difference, so the projected
    distance bounds the true one from below: true distances are computed for the images with
    the smallest bounds, then for any other whose bound is below the k-th best found.
    """
    q = np.asarray(query, np.float32).reshape(-1)
    n, k = len(index), min(k, len(index))
    c = index.basis @ q
    # |p - c|² expanded: one pass over the projections instead of a difference and a square of
    # all of them; einsum, as OpenBLAS's matrix-vector product took 8x longer here (threads).
    bounds = index.lengths - 2 * np.einsum("ij,j->i", index.projected, c) + c @ c
    m = min(n, 4 * k + 60)
    first = np.argpartition(bounds, m - 1)[:m]
    exact = _squared_distances(index.flat, first, q)
    # Float32 rounding can lift a bound above its true distance, by at most about B·2⁻²⁴ of
    # the squared lengths summed (|p|², 2p·c, |c|²): keep a margin of five times that.
    slack = 5 * BASIS_SIZE * 2.0 ** -24 * (float(index.lengths.max(initial=0)) + float(c @ c))
    kth = np.partition(exact, k - 1)[k - 1] * (1 + 1e-4) + 1e-4 + slack
    rest = np.setdiff1d(np.flatnonzero(bounds <= kth), first, assume_unique=True)
    if len(rest):
        first = np.concatenate([first, rest])
        exact = np.concatenate([exact, _squared_distances(index.flat, rest, q)])
    top = np.argsort(exact, kind="stable")[:k]
    return first[top], np.sqrt(np.maximum(exact[top], 0) / index.flat.shape[1])


def _squared_distances(flat: np.ndarray, rows: np.ndarray, q: np.ndarray) -> np.ndarray:
    # A slice of rows at a time: where little is pruned, `rows` is most of the set.
    return np.concatenate([((x - q) ** 2).sum(1) for start in range(0, len(rows), NEAREST_ROWS)
                           for x in _float_rows(flat[rows[start:start + NEAREST_ROWS]])])
