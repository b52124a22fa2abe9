"""Image grids and files: arrays in [0, 1] shaped (n, C, H, W) to uint8 pictures."""

from __future__ import annotations

import io
import math
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image, ImageColor, ImageDraw, ImageFont

if TYPE_CHECKING:  # vae.latent imports torch, which drawing a picture does not need
    from vae.latent import Posteriors

RULE = 4  # pixels of the dark rule between a slide's panels
INK, PAPER = (40, 40, 40), (255, 255, 255)
# Viridis at five stops, for points coloured by a continuous value (as the page's chart is).
VIRIDIS = np.array([(68, 1, 84), (59, 82, 139), (33, 145, 140), (94, 201, 98), (253, 231, 37)])


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


def _marker(draw: ImageDraw.ImageDraw, x: float, y: float, r: float, shape: str,
            colour: tuple[int, int, int]) -> None:
    """One point as the page's chart draws it: a filled shape of radius r (plotly's names)."""
    x, y, r = float(x), float(y), float(r)  # Pillow refuses numpy's float32
    sides = {"triangle-up": (3, 0), "triangle-down": (3, 180), "square": (4, 45),
             "diamond": (4, 0), "pentagon": (5, 0), "hexagon": (6, 30)}
    if shape in sides:
        n, turn = sides[shape]
        draw.regular_polygon((x, y, r * 1.2), n, rotation=turn, fill=colour)
    elif shape in ("cross", "x", "star"):
        points = 5 if shape == "star" else 4
        inner = 0.45 if shape == "star" else 0.35
        turn = {"cross": 0, "x": 45, "star": -90}[shape]
        # A star polygon: outer tips and inner notches alternate (a cross is a 4-point star
        # with a wide waist).
        angles = np.radians(turn + np.arange(2 * points) * 180 / points)
        radii = np.where(np.arange(2 * points) % 2, r * 1.3 * inner, r * 1.3)
        draw.polygon(list(zip(x + radii * np.cos(angles), y + radii * np.sin(angles),
                              strict=True)), fill=colour)
    else:
        draw.ellipse((x - r, y - r, x + r, y + r), fill=colour)


def map_picture(coords: np.ndarray, title: str, axes: tuple[str, str], *,
                groups: np.ndarray | None = None,
                styles: list[tuple[str, str]] | None = None, names: list[str] | None = None,
                values: np.ndarray | None = None, value_title: str = "",
                rings: Posteriors | None = None, side: int = 900) -> Image.Image:
    """A map of codes ready for a slide: each point of `coords` (n, 2) in its group's
    (colour, shape) `styles` with a legend of `names`, or coloured by `values` on Viridis with
    its range said, the title above and each axis named with its range. `rings`, on a map of a
    2-D model's codes, draws each posterior as an ellipse μ ± σ in its class's colour."""
    font = ImageFont.load_default(size=side // 40)
    line = int(font.size * 1.6)
    legend = [(names[k], styles[k]) for k in range(len(names))
              if groups is not None and (groups == k).any()] if names else []
    key = int(max((font.getlength(n) for n, _ in legend), default=0)) + 3 * line \
        if legend else 0
    picture = Image.new("RGB", (line + side + key, line + side + 2 * line), PAPER)
    draw = ImageDraw.Draw(picture)
    draw.text((line // 2, line // 2), title, fill=INK, font=font, anchor="lm")
    box = (line, line, line + side, line + side)
    draw.rectangle(box, outline=INK, width=2)
    reach = coords if rings is None else np.concatenate(
        [coords, rings.mean - rings.sd, rings.mean + rings.sd])
    lo, hi = reach.min(axis=0), reach.max(axis=0)
    span = np.where(hi > lo, hi - lo, 1.0)
    scale = (side - 2 * line) / span  # pixels per unit: a margin of one line inside the frame
    if rings is not None:  # the latent plane: a unit is as long up as across, rings true
        scale = np.full(2, scale.min())
        half = (side - 2 * line) / scale / 2
        lo, hi = (lo + hi) / 2 - half, (lo + hi) / 2 + half

    def place(points: np.ndarray) -> np.ndarray:
        at = (points - lo) * scale
        return np.stack([2 * line + at[:, 0], side - at[:, 1]], axis=1)  # up is up

    at = place(coords)
    r = max(2.0, side / 220)
    if values is not None:
        v = (values - values.min()) / max(float(np.ptp(values)), 1e-12) * (len(VIRIDIS) - 1)
        low = np.minimum(v.astype(int), len(VIRIDIS) - 2)
        rgb = VIRIDIS[low] + (VIRIDIS[low + 1] - VIRIDIS[low]) * (v - low)[:, None]
        for (x, y), c in zip(at, rgb.astype(int), strict=True):
            _marker(draw, x, y, r, "circle", tuple(c))
        value_title = f"colour: {value_title} from {values.min():.3g} (purple) to " \
                      f"{values.max():.3g} (yellow)"
    else:
        value_title = ""  # the legend names the groups
        for i, (x, y) in enumerate(at):
            colour, shape = styles[groups[i]] if groups is not None else ("#4D4D4D", "circle")
            _marker(draw, x, y, r, shape, ImageColor.getrgb(colour))
    if rings is not None:
        for i, (x, y) in enumerate(place(rings.mean)):
            rx, ry = rings.sd[i] * scale
            colour = INK if rings.label is None or not styles else \
                ImageColor.getrgb(styles[int(rings.label[i]) % len(styles)][0])
            draw.ellipse((x - rx, y - ry, x + rx, y + ry), outline=colour,
                         width=max(2, side // 300))
        # Words, not μ and σ: Pillow's own font has no Greek letters.
        value_title = value_title or "each ring: one test image's posterior, mean ± 1 sd"
    draw.text((line + side / 2, line + side + line // 2),
              f"{axes[0]}: {lo[0]:.3g} to {hi[0]:.3g}", fill=INK, font=font, anchor="mm")
    draw.text((line + side / 2, line + side + 3 * line // 2), value_title or "", fill=INK,
              font=font, anchor="mm")
    across = Image.new("RGB", (side, line), PAPER)
    ImageDraw.Draw(across).text((side / 2, line / 2), f"{axes[1]}: {lo[1]:.3g} to {hi[1]:.3g}",
                                fill=INK, font=font, anchor="mm")
    picture.paste(across.rotate(90, expand=True), (0, line))
    for row, (name, (colour, shape)) in enumerate(legend):
        y = 2 * line + row * line
        _marker(draw, line + side + line, y, font.size / 2.5, shape, ImageColor.getrgb(colour))
        draw.text((line + side + 2 * line, y), name, fill=INK, font=font, anchor="lm")
    return picture


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
