"""Image grids and files: arrays in [0, 1] shaped (n, C, H, W) to uint8 pictures."""

from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np
from PIL import Image


def to_uint8(x: np.ndarray) -> np.ndarray:
    """(n, C, H, W) floats in [0, 1] to (n, H, W, C) uint8."""
    return (np.clip(x, 0, 1) * 255 + 0.5).astype(np.uint8).transpose(0, 2, 3, 1)


def grid(x: np.ndarray, columns: int | None = None, pad: int = 1) -> np.ndarray:
    """Tile images into one (H, W, C) uint8 picture, row-major, with a white gutter."""
    n, c, h, w = x.shape
    columns = columns or math.ceil(math.sqrt(n))
    rows = math.ceil(n / columns)
    out = np.full((rows * (h + pad) + pad, columns * (w + pad) + pad, c), 255, np.uint8)
    for i, image in enumerate(to_uint8(x)):
        r, col = divmod(i, columns)
        out[pad + r * (h + pad):pad + r * (h + pad) + h,
            pad + col * (w + pad):pad + col * (w + pad) + w] = image
    return out


def to_pil(picture: np.ndarray, scale: int = 1) -> Image.Image:
    """An (H, W, C) uint8 array as a PIL image, enlarged with nearest-neighbour pixels."""
    image = Image.fromarray(picture[..., 0] if picture.shape[-1] == 1 else picture)
    if scale > 1:
        image = image.resize((image.width * scale, image.height * scale), Image.NEAREST)
    return image


def save_grid(x: np.ndarray, path: str | Path, columns: int | None = None,
              scale: int = 4) -> None:
    to_pil(grid(x, columns), scale).save(path)


def png_bytes(x: np.ndarray, columns: int | None = None, scale: int = 4) -> bytes:
    """The grid of images as a PNG file's bytes, enlarged with nearest-neighbour pixels."""
    out = io.BytesIO()
    to_pil(grid(x, columns), scale).save(out, format="PNG")
    return out.getvalue()


def gif_bytes(x: np.ndarray, scale: int = 8, frame_ms: int = 120,
              pingpong: bool = True) -> bytes:
    """An animated GIF, one frame per image, looping forever; ping-pong plays it forth and back
    without repeating the end frames."""
    frames = [to_pil(grid(image[None], pad=0), scale) for image in x]
    if pingpong and len(frames) > 2:
        frames += frames[-2:0:-1]
    out = io.BytesIO()
    frames[0].save(out, format="GIF", save_all=True, append_images=frames[1:],
                   duration=frame_ms, loop=0)
    return out.getvalue()
