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


def strip_png(x: np.ndarray, title: str, captions: list[str], scale: int = 4) -> bytes:
    """A row of images (n, C, H, W) as a PNG file's bytes ready for a slide: the title above,
    each image's caption below it, pixels enlarged `scale` times."""
    return png_of(slide([(title, x, [])], len(x), scale=scale, captions=captions))


def strip_gif(x: np.ndarray, title: str, captions: list[str], scale: int = 8,
              frame_ms: int = 120) -> bytes:
    """The same row as an animated GIF, one image a frame under the title with its caption,
    played forth and back, looping forever."""
    return frames_gif([slide([(title, image[None], [])], 1, scale=scale, captions=[caption])
                       for image, caption in zip(x, captions, strict=True)], frame_ms)


def slide(panels: list[tuple[str, np.ndarray, list[str]]], columns: int, *, scale: int = 4,
          across: bool = False, captions: list[str] | None = None) -> Image.Image:
    """Panels of image rows made ready for a slide: each panel (title, images (n, C, H, W) in
    rows of `columns`, one label per row) under its title with every row's label on its left
    and `captions` (one per column: a traversal's values, an interpolation's t) below, the
    panels one above the other (or side by side `across`) with a dark rule between."""
    font = ImageFont.load_default(size=4 * scale)
    band = 7 * scale  # one line of text
    pages = []
    for title, images, labels in panels:
        picture = to_pil(grid(images, columns), scale).convert("RGB")
        gutter = int(max((font.getlength(label) for label in labels), default=0)) + 3 * scale
        width = max(gutter + picture.width, int(font.getlength(title)) + 2 * scale)
        foot = band if captions else 0
        page = Image.new("RGB", (width, band + picture.height + foot), PAPER)
        left = gutter + (width - gutter - picture.width) // 2  # centred under a longer title
        page.paste(picture, (left, band))
        draw = ImageDraw.Draw(page)
        draw.text((scale, band // 2), title, fill=INK, font=font, anchor="lm")
        row = picture.height / max(len(labels), 1)
        for r, label in enumerate(labels):
            draw.text((scale, band + (r + 0.5) * row), label, fill=INK, font=font,
                      anchor="lm")
        side = images.shape[-1] + 1  # an image and its gutter, as grid lays them out
        for c, caption in enumerate(captions or []):
            draw.text((left + (1 + c * side + side // 2) * scale, band + picture.height +
                       foot // 2), caption, fill=INK, font=font, anchor="mm")
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
