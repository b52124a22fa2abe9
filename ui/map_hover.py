"""Pictures on hover for the Map page (a Streamlit v2 custom component, docs/design.md §6): the
test image under the pointer, drawn in the page from one sprite sheet of all shown images.

A rerun per hovered dot would take a server round trip each and restart the page's script,
fighting the click that selects a dot; the sheet crosses the network once instead, as an image
file the browser keeps (a hidden st.image serves it), and later reruns only name it again.
Everything it needs ships here (map_hover.js, map_hover.css): nothing is fetched at run time.
"""

from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np
import streamlit as st
from PIL import Image

from ui import render, state
from vae.images import to_uint8

# Bytes of raw pixels in a sheet: Fashion's 10,000 images of 28 x 28 (7.8 MB, a 4 MB PNG)
# fit whole; larger or coloured sets are shrunk to fit, so no page waits for a huge sheet.
MAX_SHEET_BYTES = 8_000_000
HOVER_SIZE = 112  # px a side on screen, enlarged with nearest-neighbour pixels
SHEET = "map_hover_sheet"  # the key of the hidden image that serves the sheet

_HERE = Path(__file__).parent
_component = st.components.v2.component(
    "latent_lab.map_hover",
    html='<div class="map-hover" hidden><canvas></canvas><p></p></div>',
    css=(_HERE / "map_hover.css").read_text(), js=(_HERE / "map_hover.js").read_text())


def sprite_sheet(images: np.ndarray, max_bytes: int = MAX_SHEET_BYTES
                 ) -> tuple[bytes, int, int, int]:
    """Images (n, C, H, W) in [0, 1] tiled row-major, without gutters, into one PNG: its bytes,
    the tile height and width and the number of columns. Tiles are the images' own size
    unless the sheet would pass `max_bytes` of pixels; then each is shrunk (never enlarged)."""
    n, c, h, w = images.shape
    shrink = min(1.0, math.sqrt(max_bytes / (n * c * h * w)))
    th, tw = max(1, int(h * shrink)), max(1, int(w * shrink))
    columns = math.ceil(math.sqrt(n))
    rows = math.ceil(n / columns)
    sheet = np.zeros((rows * th, columns * tw, c), np.uint8)
    # A row of tiles at a time: float temporaries of the whole set (four copies of 31 MB for
    # Fashion's test split) stayed in the server's memory after the sheet was built.
    for r in range(rows):
        tiles = to_uint8(images[r * columns:(r + 1) * columns])
        if (th, tw) != (h, w):
            tiles = np.stack([np.asarray(Image.fromarray(t.squeeze(-1) if c == 1 else t).resize(
                (tw, th), Image.BOX)).reshape(th, tw, c) for t in tiles])
        strip = np.zeros((th, columns * tw, c), np.uint8)
        strip[:, :len(tiles) * tw] = tiles.transpose(1, 0, 2, 3).reshape(th, -1, c)
        sheet[r * th:(r + 1) * th] = strip
    png = io.BytesIO()
    Image.fromarray(sheet.squeeze(-1) if c == 1 else sheet).save(png, format="PNG")
    return png.getvalue(), th, tw, columns


# One per model version and split, shared by every session: 0.8 s to build for Fashion.
@st.cache_resource(max_entries=4, show_spinner=False)
def _sheet(path: str, key: str, split: str) -> tuple[bytes, dict]:
    png, th, tw, columns = sprite_sheet(state.test_images(path, key))
    return png, {"sheet_key": f"{key}-{split}", "tile": [th, tw], "columns": columns,
                 "width": columns * tw}


def hover_pictures(path: str, key: str, chart_key: str, labels: np.ndarray | None,
                   class_names: list[str]) -> None:
    """Show the test image of the dot under the pointer on the plotly chart `chart_key`,
    with its number and, given `labels`, its class; the dots' customdata is their index."""
    png, sheet = _sheet(path, key, state.shown_split(path, key))
    # The sheet goes as an image file, not as text in the component's data: a 4 MB PNG as a
    # data URL cost the server 44 MB (its text, JSON and message copies) on Fashion's Map.
    with st.container(key=SHEET):
        st.html(f"<style>.st-key-{SHEET} {{ display: none; }}</style>")
        # At its own width and as PNG it is served as it is: neither resized nor made a JPEG.
        st.image(png, width=sheet["width"], output_format="PNG")
    data = {**sheet, "sheet": SHEET, "chart": chart_key, "size": render.image_width(HOVER_SIZE),
             "labels": None if labels is None else labels.tolist(),
             "class_names": [str(name) for name in class_names]}
    _component(key="map_hover", data=data, height="content")
