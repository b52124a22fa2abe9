"""Procedural dSprites-like shapes: 32x32 grayscale sprites with five known generative factors.

Factor order (and index ranges) is fixed: shape (3: square, ellipse, heart), scale (6),
rotation (10 steps over one full turn, 0..2π exclusive), x (16), y (16); 46,080 images in all.
x moves the shape right, y moves it down (image rows). Every image is fully determined by its
factor indices, so the whole grid, and any batch with one factor held fixed, can be drawn
exactly. The disentanglement metrics rely on that: FactorVAE's batches are drawn from the
codes of the whole grid.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

FACTOR_NAMES = ("shape", "scale", "rotation", "x", "y")
FACTOR_SIZES = (3, 6, 10, 16, 16)
SHAPE_NAMES = ("square", "ellipse", "heart")
SCALES = np.linspace(0.5, 1.0, FACTOR_SIZES[1])
ROTATIONS = 2 * np.pi * np.arange(FACTOR_SIZES[2]) / FACTOR_SIZES[2]

IMAGE_SIZE = 32
# A sprite box of 17 px slid over 16 offsets (0..15) exactly spans the 32 px canvas, and every
# shape stays inside a disc of radius 8 around the box centre, so it stays inside the canvas at
# every position, scale and rotation.
_BOX = IMAGE_SIZE - FACTOR_SIZES[3] + 1
_MAX_RADIUS = 8.0
_SUPERSAMPLE = 4


def _inside(shape: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Membership in the unit-disc-inscribed shape; (a, b) are right and up."""
    if shape == 0:
        return np.maximum(np.abs(a), np.abs(b)) <= 1 / np.sqrt(2)
    if shape == 1:
        return a**2 + (b / 0.5) ** 2 <= 1
    # The classic heart curve (x²+y²−1)³ = x²y³ fits a disc of radius 1.25 centred at y = 0.25.
    x, y = 1.25 * a, 1.25 * b + 0.25
    return (x**2 + y**2 - 1) ** 3 - x**2 * y**3 <= 0


@lru_cache(maxsize=1)
def _sprites() -> np.ndarray:
    """All 180 shape x scale x rotation sprites, (3, 6, 10, 17, 17) uint8, anti-aliased."""
    n = _BOX * _SUPERSAMPLE
    offsets = (np.arange(n) + 0.5) / _SUPERSAMPLE - _BOX / 2
    col, row = np.meshgrid(offsets, offsets)
    up = -row
    cos = np.cos(ROTATIONS)[:, None, None]
    sin = np.sin(ROTATIONS)[:, None, None]
    # Rotating the sample points by −θ rotates the shape by +θ (counter-clockwise on screen).
    radius = (_MAX_RADIUS * SCALES)[:, None, None, None]
    a = (cos * col + sin * up) / radius
    b = (-sin * col + cos * up) / radius
    hits = np.stack([_inside(s, a, b) for s in range(FACTOR_SIZES[0])])
    hits = hits.reshape(*FACTOR_SIZES[:3], _BOX, _SUPERSAMPLE, _BOX, _SUPERSAMPLE)
    coverage = hits.mean(axis=(4, 6))
    sprites = np.rint(coverage * 255).astype(np.uint8)
    sprites.flags.writeable = False
    return sprites


def _check_factors(factors: np.ndarray) -> np.ndarray:
    factors = np.asarray(factors)
    if factors.ndim != 2 or factors.shape[1] != len(FACTOR_SIZES):
        raise ValueError(f"factors must have shape (n, 5), got {factors.shape}")
    if factors.size and not np.issubdtype(factors.dtype, np.integer):
        raise ValueError(f"factors must be integer indices, got dtype {factors.dtype}")
    factors = factors.astype(np.int64)
    if ((factors < 0) | (factors >= np.array(FACTOR_SIZES))).any():
        raise ValueError(f"factor indices out of range; sizes are {FACTOR_SIZES}")
    return factors


def render(factors: np.ndarray) -> np.ndarray:
    """Draw images for factor indices (n, 5) as uint8 (n, 1, 32, 32)."""
    factors = _check_factors(factors)
    n = len(factors)
    out = np.zeros((n, 1, IMAGE_SIZE, IMAGE_SIZE), np.uint8)
    sprites = _sprites()[factors[:, 0], factors[:, 1], factors[:, 2]]
    span = np.arange(_BOX)
    rows = (factors[:, 4, None] + span)[:, :, None]
    cols = (factors[:, 3, None] + span)[:, None, :]
    out[np.arange(n)[:, None, None], 0, rows, cols] = sprites
    return out


@lru_cache(maxsize=1)
def grid() -> tuple[np.ndarray, np.ndarray]:
    """The full factor grid in factor order: images uint8 (46080, 1, 32, 32), factors int64
    (46080, 5). Cached and read-only: index or copy it before changing anything."""
    sprites = _sprites()
    images = np.zeros((*FACTOR_SIZES, IMAGE_SIZE, IMAGE_SIZE), np.uint8)
    for x in range(FACTOR_SIZES[3]):
        for y in range(FACTOR_SIZES[4]):
            images[:, :, :, x, y, y : y + _BOX, x : x + _BOX] = sprites
    images = images.reshape(-1, 1, IMAGE_SIZE, IMAGE_SIZE)
    factors = np.indices(FACTOR_SIZES).reshape(len(FACTOR_SIZES), -1).T.astype(np.int64)
    images.flags.writeable = False
    factors.flags.writeable = False
    return images, factors
