"""vae/shapes.py: the procedural shapes grid and its factors."""

from __future__ import annotations

import time

import numpy as np
import pytest

from vae import shapes


@pytest.fixture(scope="module")
def grid():
    return shapes.grid()


def by_factor(images: np.ndarray) -> np.ndarray:
    return images.reshape(*shapes.FACTOR_SIZES, 32, 32).astype(np.float64)


def centre_of_mass(images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mass = images.sum(axis=(-2, -1))
    rows = (images.sum(axis=-1) * np.arange(32)).sum(axis=-1) / mass
    cols = (images.sum(axis=-2) * np.arange(32)).sum(axis=-1) / mass
    return rows, cols


def test_grid_is_complete_fast_and_cached():
    shapes.grid.cache_clear()
    shapes._sprites.cache_clear()
    start = time.perf_counter()
    images, factors = shapes.grid()
    assert time.perf_counter() - start < 2.0
    assert images.shape == (46080, 1, 32, 32) and images.dtype == np.uint8
    assert factors.shape == (46080, 5) and factors.dtype == np.int64
    assert shapes.grid()[0] is images
    assert not images.flags.writeable
    codes = np.ravel_multi_index(factors.T, shapes.FACTOR_SIZES)
    np.testing.assert_array_equal(codes, np.arange(46080))  # every combination, in order


def test_render_of_the_grid_factors_is_the_grid(grid):
    images, factors = grid
    np.testing.assert_array_equal(shapes.render(factors), images)
    np.testing.assert_array_equal(shapes.render(factors[::997]), shapes.render(factors[::997]))


def test_every_image_is_non_empty_and_inside_the_canvas(grid):
    mass = by_factor(grid[0]).sum(axis=(-2, -1))
    assert mass.min() > 0
    # A shape cut by the border would lose mass at the edge positions: it must not vary with x, y.
    per_sprite = mass.reshape(3, 6, 10, 256)
    assert (per_sprite == per_sprite[..., :1]).all()


def test_x_moves_right_and_y_moves_down(grid):
    rows, cols = centre_of_mass(by_factor(grid[0]))
    np.testing.assert_allclose(np.diff(cols, axis=3), 1.0, atol=1e-9)
    np.testing.assert_allclose(np.diff(rows, axis=3), 0.0, atol=1e-9)
    np.testing.assert_allclose(np.diff(rows, axis=4), 1.0, atol=1e-9)
    np.testing.assert_allclose(np.diff(cols, axis=4), 0.0, atol=1e-9)


def test_scale_grows_the_area(grid):
    area = (by_factor(grid[0])[..., 0, 0, :, :] > 127).sum(axis=(-2, -1))
    assert (np.diff(area, axis=1) > 0).all()
    # Area grows with the square of the scale (within pixel rounding).
    ratio = area[:, -1] / area[:, 0]
    assert np.all((ratio > 3) & (ratio < 5))


def test_shapes_differ_and_rotation_turns_them(grid):
    images = by_factor(grid[0])
    big = images[:, 5, :, 7, 7]
    assert np.abs(big[0, 0] - big[1, 0]).sum() > 0 and np.abs(big[1, 0] - big[2, 0]).sum() > 0
    heart = images[2, 5]
    assert np.abs(heart[1] - heart[0]).sum() > 1000
    # Half a turn (5 steps) is a point reflection; the mirrored position is 15 − x, 15 − y.
    half_turn = np.flip(images[:, :, :5, ::-1, ::-1], axis=(-2, -1))
    assert np.abs(images[:, :, 5:] - half_turn).max() <= 64
    assert np.abs(images[:, :, 5:] - half_turn).mean() < 0.5


def test_render_refuses_bad_factors():
    with pytest.raises(ValueError, match="shape"):
        shapes.render(np.zeros((3, 4), int))
    with pytest.raises(ValueError, match="range"):
        shapes.render(np.array([[0, 0, 0, 16, 0]]))
    with pytest.raises(ValueError, match="integer"):
        shapes.render(np.zeros((1, 5)))
    assert shapes.render(np.zeros((0, 5), int)).shape == (0, 1, 32, 32)
