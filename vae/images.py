"""Image grids and files: arrays in [0, 1] shaped (n, C, H, W) to uint8 pictures."""

from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

RULE = 4  # pixels of the dark rule between a slide's panels
INK, PAPER = (40, 40, 40), (255, 255, 255)


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
    return png_of(to_pil(grid(x, columns), scale))


def gif_bytes(x: np.ndarray, scale: int = 8, frame_ms: int = 120,
              pingpong: bool = True) -> bytes:
    """An animated GIF, one frame per image, looping forever; ping-pong plays it forth and back
    without repeating the end frames."""
    return frames_gif([to_pil(grid(image[None], pad=0), scale) for image in x], frame_ms,
                      pingpong)


def slide(panels: list[tuple[str, np.ndarray, list[str]]], columns: int, *, scale: int = 4,
          across: bool = False) -> Image.Image:
    """Panels of image rows made ready for a slide: each panel (title, images (n, C, H, W) in
    rows of `columns`, one label per row) under its title with every row's label on its left,
    the panels one above the other (or side by side `across`) with a dark rule between."""
    font = ImageFont.load_default(size=4 * scale)
    pages = []
    for title, images, labels in panels:
        picture = to_pil(grid(images, columns), scale).convert("RGB")
        gutter = int(max((font.getlength(label) for label in labels), default=0)) + 3 * scale
        band = 7 * scale
        page = Image.new("RGB", (max(gutter + picture.width, int(font.getlength(title)) +
                                     2 * scale), band + picture.height), PAPER)
        page.paste(picture, (gutter, band))
        draw = ImageDraw.Draw(page)
        draw.text((scale, band // 2), title, fill=INK, font=font, anchor="lm")
        row = picture.height / max(len(labels), 1)
        for r, label in enumerate(labels):
            draw.text((scale, band + (r + 0.5) * row), label, fill=INK, font=font,
                      anchor="lm")
        pages.append(page)
    long = sum(p.width if across else p.height for p in pages) + RULE * (len(pages) - 1)
    wide = max(p.height if across else p.width for p in pages)
    out, at = Image.new("RGB", (long, wide) if across else (wide, long), INK), 0
    for page in pages:
        cell = Image.new("RGB", (page.width, wide) if across else (wide, page.height), PAPER)
        cell.paste(page, (0, 0))
        out.paste(cell, (at, 0) if across else (0, at))
        at += (page.width if across else page.height) + RULE
    return out


def png_of(picture: Image.Image) -> bytes:
    out = io.BytesIO()
    picture.save(out, format="PNG")
    return out.getvalue()


def frames_gif(frames: list[Image.Image], frame_ms: int = 120, pingpong: bool = True) -> bytes:
    """Pictures as an animated GIF looping forever; ping-pong plays it forth and back without
    repeating the end frames."""
    if pingpong and len(frames) > 2:
        frames = frames + frames[-2:0:-1]
    out = io.BytesIO()
    frames[0].save(out, format="GIF", save_all=True, append_images=frames[1:],
                   duration=frame_ms, loop=0)
    return out.getvalue()
