"""Pictures people bring to a model: an uploaded image file or a drawing, turned into the
model's input format (grey or colour, size, background, the digits' 8 x 8 grey levels)."""

from __future__ import annotations

import io
import warnings

import numpy as np
from PIL import Image, UnidentifiedImageError

# An uploaded picture is refused above this size, before it is decoded.
MAX_PICTURE_BYTES = 20 * 2**20


def read_picture(data: bytes, max_pixels: int = 4096 * 4096) -> np.ndarray:
    """An image file's bytes as an (H, W, 3) uint8 array, transparent parts made white (as a
    drawing app shows them); a ValueError whose message is one sentence says why a file cannot
    be used."""
    if not data:
        raise ValueError("the file is empty")
    if len(data) > MAX_PICTURE_BYTES:
        raise ValueError(f"it is larger than {MAX_PICTURE_BYTES // 2**20} MB")
    try:
        with warnings.catch_warnings():
            # Pillow warns in the server's log from 89M pixels; max_pixels refuses far sooner.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
        with image:
            if image.width * image.height > max_pixels:
                raise ValueError(f"the picture has more than {max_pixels:,} pixels")
            rgba = image.convert("RGBA")
            white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
            return np.asarray(Image.alpha_composite(white, rgba).convert("RGB"))
    except (UnidentifiedImageError, OSError, SyntaxError, Image.DecompressionBombError) as e:
        raise ValueError("it is not an image file this app can read (PNG or JPEG)") from e


def background_is_dark(images: np.ndarray) -> bool:
    """Whether pictures (n, C, H, W) in [0, 1] have a dark background, judged by their border."""
    x = np.asarray(images, np.float32)
    border = np.concatenate([x[..., 0, :].ravel(), x[..., -1, :].ravel(),
                             x[..., :, 0].ravel(), x[..., :, -1].ravel()])
    return bool(border.mean() < 0.5)


def _ink(pixels: np.ndarray, dark_background: bool) -> np.ndarray:
    """(H, W, C) uint8 or (H, W) float to (H, W, C) float in [0, 1], inverted when the picture's
    background (its border) is not as dark or light as the model's data expects."""
    x = np.asarray(pixels)
    x = x.astype(np.float32) / 255 if x.dtype == np.uint8 else x.astype(np.float32)
    if x.ndim == 2:
        x = x[..., None]
    if background_is_dark(x.transpose(2, 0, 1)[None]) != dark_background:
        x = 1 - x
    return x


def drawing_to_digit(drawing: np.ndarray) -> np.ndarray:
    """A drawing (H, W) with ink > 0.5 as scikit-learn's digits are made: the ink's bounding box
    scaled (nearest pixels) to the full height of a 32 x 32 bitmap and centred, then averaged
    over 4 x 4 blocks into 8 x 8 pixels of 17 grey levels k/16. Shape (1, 1, 8, 8); an empty
    drawing gives a blank image."""
    ink = np.asarray(drawing, np.float32) > 0.5
    out = np.zeros((1, 1, 8, 8), np.float32)
    if not ink.any():
        return out
    rows, cols = np.flatnonzero(ink.any(1)), np.flatnonzero(ink.any(0))
    box = ink[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
    h, w = box.shape
    scale = min(32 / h, 32 / w)
    new_h, new_w = max(1, round(h * scale)), max(1, round(w * scale))
    resized = np.asarray(Image.fromarray(box).resize((new_w, new_h), Image.Resampling.NEAREST))
    bitmap = np.zeros((32, 32), np.float32)
    top, left = (32 - new_h) // 2, (32 - new_w) // 2
    bitmap[top:top + new_h, left:left + new_w] = resized
    out[0, 0] = bitmap.reshape(8, 4, 8, 4).sum((1, 3)) / 16
    return out


def picture_to_input(pixels: np.ndarray, image_shape: tuple[int, int, int], *,
                     dark_background: bool = True, digits: bool = False) -> np.ndarray:
    """A picture (H, W, C) uint8 or (H, W) in [0, 1] in a model's input format (1, C, H, W) in
    [0, 1]: grey or colour as the model has, inverted when its background does not match the
    model's data, resized to the model's image size. `digits` uses `drawing_to_digit`."""
    x = _ink(pixels, dark_background=True if digits else dark_background)
    if digits:
        gray = x.mean(2)
        low, high = float(gray.min()), float(gray.max())
        if high - low < 1e-6:
            return np.zeros((1, 1, 8, 8), np.float32)
        return drawing_to_digit((gray - low) / (high - low))
    c, h, w = image_shape
    x = x.mean(2, keepdims=True) if c == 1 else np.repeat(x, 3, 2) if x.shape[2] == 1 else x
    channels = [Image.fromarray(x[..., i]).resize((w, h), Image.Resampling.BOX)
                for i in range(c)]
    return np.clip(np.stack([np.asarray(ch) for ch in channels])[None], 0, 1).astype(np.float32)
