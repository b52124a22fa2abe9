"""Prior codes, pictures from users in a model's input format, class decoding, look-ups."""

import io

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

from vae import latent
from vae.latent import (
    decode_every_class,
    nearest_in,
    pixel_index,
    prior_code,
)
from vae.model_config import ModelConfig
from vae.models import VAE
from vae.pictures import background_is_dark, drawing_to_digit, picture_to_input, read_picture


def test_prior_code_is_standard_normal_and_seeded():
    assert prior_code(5, seed=1).shape == (5,)
    np.testing.assert_array_equal(prior_code(5, seed=1), prior_code(5, seed=1))
    assert abs(prior_code(10_000, seed=0).std() - 1) < 0.05


def test_a_drawing_becomes_a_digit_like_load_digits():
    drawing = np.zeros((32, 32))
    drawing[2:12, 3:6] = 1  # a small "1" in the top-left corner
    x = drawing_to_digit(drawing)
    assert x.shape == (1, 1, 8, 8)
    levels = x * 16
    np.testing.assert_array_equal(levels, np.round(levels))  # 17 grey levels k/16
    ink = x[0, 0] > 0
    assert ink[0].any() and ink[7].any(), "scaled to the full height, as the digits are"
    columns = np.flatnonzero(ink.any(0))
    assert 2 <= columns.mean() <= 5, "centred"
    assert x.max() == 1.0
    assert not drawing_to_digit(np.zeros((32, 32))).any()


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _black_seven_on_white(size: int = 200) -> np.ndarray:
    image = Image.new("RGB", (size, size), "white")
    ImageDraw.Draw(image).line([(50, 40), (150, 40), (90, 170)], fill="black", width=18)
    return read_picture(_png(image))


def test_a_photo_of_a_digit_is_inverted_and_normalized():
    x = picture_to_input(_black_seven_on_white(), (1, 8, 8), digits=True)
    assert x.shape == (1, 1, 8, 8)
    assert x[0, 0, 0].max() == 1.0, "the bar of the 7 is bright ink on the top row"
    assert x[0, 0, 7, 0] == 0.0 and x[0, 0, 7, 7] == 0.0, "the background is dark"


def test_a_picture_takes_the_model_shape_and_background():
    light = _black_seven_on_white()
    gray = picture_to_input(light, (1, 32, 32), dark_background=True)
    assert gray.shape == (1, 1, 32, 32) and gray.min() >= 0 and gray.max() <= 1
    assert background_is_dark(gray)
    kept = picture_to_input(light, (1, 32, 32), dark_background=False)
    assert not background_is_dark(kept)
    rgb = picture_to_input(light[..., 0], (3, 16, 24), dark_background=False)
    assert rgb.shape == (1, 3, 16, 24)


def test_transparent_parts_of_a_picture_are_white():
    image = Image.new("RGBA", (20, 20), (0, 0, 0, 0))
    ImageDraw.Draw(image).line([(10, 2), (10, 18)], fill=(0, 0, 0, 255), width=3)
    pixels = read_picture(_png(image))
    assert pixels.shape == (20, 20, 3)
    assert pixels[0, 0].tolist() == [255, 255, 255] and pixels[10, 10].tolist() == [0, 0, 0]


@pytest.mark.parametrize(("data", "words"), [
    (b"", "empty"), (b"not an image at all", "not an image"),
    (_png(Image.new("L", (300, 300))), "more than")])
def test_an_unusable_picture_says_why(data, words):
    with pytest.raises(ValueError, match=words):
        read_picture(data, max_pixels=200 * 200)


def nearest(images: np.ndarray, query: np.ndarray, k: int = 1) -> np.ndarray:
    """The reference answer: indices of the k images closest to `query` in pixel space."""
    flat = images.reshape(len(images), -1)
    distances = ((flat - query.reshape(1, -1)) ** 2).sum(1)
    return np.argsort(distances)[:k]


def test_nearest_in_agrees_with_nearest():
    rng = np.random.default_rng(0)
    images = rng.random((50, 1, 8, 8)).astype(np.float32)
    query = images[17] + 0.01
    index, rms = nearest_in(pixel_index(images.reshape(50, -1)), query, k=3)
    np.testing.assert_array_equal(index, nearest(images, query, k=3))
    assert rms[0] == pytest.approx(0.01, abs=1e-4) and (np.diff(rms) >= 0).all()
    assert len(nearest_in(pixel_index(images.reshape(50, -1)), query, k=80)[0]) == 50


@pytest.mark.parametrize("structured", [True, False])
def test_the_pruned_search_finds_what_a_search_of_every_image_finds(monkeypatch, structured):
    # 28x28 images, many more than the basis is fitted to and than the first candidates;
    # structured ones (few directions and noise) prune well, pure noise hardly at all.
    monkeypatch.setattr(latent, "BASIS_SAMPLE", 500)
    rng = np.random.default_rng(2)
    n = 3000
    if structured:
        floats = rng.random((n, 6)) @ rng.random((6, 784)) / 6 + 0.05 * rng.random((n, 784))
    else:
        floats = rng.random((n, 784))
    pixels = np.round(np.clip(floats, 0, 1) * 255).astype(np.uint8)
    index = pixel_index(pixels)
    for q in range(20):
        query = pixels[q * 97] / np.float32(255) + rng.normal(0, 0.05, 784)
        for k in (1, 8):
            found, rms = nearest_in(index, query, k=k)
            np.testing.assert_array_equal(found, nearest(pixels / np.float32(255), query, k=k))
            reference = np.sqrt(((pixels[found] / 255 - query) ** 2).mean(1))
            np.testing.assert_allclose(rms, reference, rtol=1e-4)


def test_nearest_in_searches_uint8_pixels_as_their_floats(monkeypatch):
    monkeypatch.setattr(latent, "NEAREST_ROWS", 7)  # several slices, the last one short
    rng = np.random.default_rng(1)
    pixels = rng.integers(0, 256, (50, 64), dtype=np.uint8)
    floats = pixels / np.float32(255)
    query = floats[31] + 0.02
    index, rms = nearest_in(pixel_index(pixels), query, k=4)
    np.testing.assert_array_equal(index, nearest(floats, query, k=4))
    assert rms[0] == pytest.approx(0.02, abs=1e-4)


def test_one_style_decodes_under_every_class():
    torch.manual_seed(0)
    cvae = VAE(ModelConfig(latent_dim=2, hidden=(16,), num_classes=3))
    images = decode_every_class(cvae, np.zeros(2))
    assert images.shape == (3, 1, 8, 8)
    assert not np.allclose(images[0], images[1])
    with pytest.raises(ValueError, match="CVAE"):
        decode_every_class(VAE(ModelConfig(latent_dim=2, hidden=(16,))), np.zeros(2))


def test_a_picture_file_over_the_size_limit_is_refused_before_decoding(monkeypatch):
    from vae import pictures

    data = _png(Image.new("RGB", (40, 40)))
    monkeypatch.setattr(pictures, "MAX_PICTURE_BYTES", len(data) - 1)
    with pytest.raises(ValueError, match="larger than"):
        read_picture(data)
    monkeypatch.setattr(pictures, "MAX_PICTURE_BYTES", len(data))
    assert read_picture(data).shape == (40, 40, 3)
