"""Views of latent space shared by Explore and Conditional: traversal rows, the 2-D manifold
with the current point marked, strips of images labelled by class."""

from __future__ import annotations

import base64
import io

import numpy as np
import streamlit as st

from ui import render, state
from vae.images import grid, to_pil
from vae.latent import decode_images, dimension_name, manifold_grid, traversal
from vae.models import VAE

TRAVERSAL_VALUES = np.linspace(-3.0, 3.0, 7, dtype=np.float32)
MANIFOLD_SIDE = 15  # codes per axis
MANIFOLD_EXTENT = 3.0


def _labels(n: int, label: int | None) -> np.ndarray | None:
    return None if label is None else np.full(n, label)


def traversal_images(model: VAE, z: np.ndarray, dims: list[int], label: int | None = None,
                     values: np.ndarray = TRAVERSAL_VALUES) -> np.ndarray:
    """Decoded traversal, row by row: (len(dims) * len(values), C, H, W)."""
    codes = traversal(z, dims, values)
    return decode_images(model, codes, _labels(len(codes), label))


def traversal_rows(model: VAE, z: np.ndarray, dims: list[int], label: int | None = None,
                   width: int = 448, names: list[str] | None = None,
                   values: np.ndarray = TRAVERSAL_VALUES, fixed: str = "where its slider is",
                   images: np.ndarray | None = None) -> None:
    """One row per dimension in `dims`: that dimension through `values`, the others fixed at
    z, each about `width` pixels wide, labelled z<j> or by `names`. All rows come from one
    batched decode, or are `images` (traversal_images' result) decoded by the caller."""
    n = len(values)
    if images is None:
        images = traversal_images(model, z, dims, label, values)
    render.show_rows([images[r * n:(r + 1) * n] for r in range(len(dims))],
                     names or [dimension_name(j) for j in dims],
                     # a name ("z3 · x position") needs more room than "z3"
                     width=render.image_width(width), label_share=0.18 if names else 0.1)
    # Below the rows, as a figure's caption: above, it pushed them off a projector's screen.
    st.caption("Left to right: the row's dimension at "
               + ", ".join(f"{v:g}".replace("-", "−") for v in values)
               + f"; every other dimension stays {fixed}.")


def labelled_strip(images: np.ndarray, labels: list[str]) -> None:
    """Images (n, C, H, W) side by side, each with its label underneath as plain text
    (labels may come from users); fewer and larger per row in presentation mode."""
    per_row = 5 if render.presentation() else 10
    for start in range(0, len(images), per_row):
        columns = st.columns(per_row)
        for column, image, label in zip(columns, images[start:start + per_row],
                                        labels[start:start + per_row], strict=False):
            with column:
                render.show_images(image[None], width=render.image_width(96), frame=True)
            column.text(label, width="stretch", text_alignment="center")


@st.cache_data(max_entries=16, show_spinner=False)
def _manifold_url(path: str, key: str, label: int | None, size: int) -> tuple[str, int]:
    """The decoded plane as a PNG data URL, enlarged with nearest pixels to a whole multiple of
    its size close to `size` (returned), so the chart shows it unresampled and crisp."""
    model, _ = state.load(path)
    codes = manifold_grid(MANIFOLD_SIDE, MANIFOLD_EXTENT)
    picture = grid(decode_images(model, codes, _labels(len(codes), label)), MANIFOLD_SIDE, pad=0)
    image = to_pil(picture, max(1, round(size / picture.shape[1])))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode(), image.width


def manifold_chart(path: str, key: str, z: np.ndarray, label: int | None = None) -> None:
    """A 2-D model's decoded plane (Kingma & Welling, fig. 4) on labelled axes, with a cross
    where the sliders are."""
    half = MANIFOLD_EXTENT / (MANIFOLD_SIDE - 1)  # the images are centred on the grid codes
    edge = MANIFOLD_EXTENT + half
    url, size = _manifold_url(path, key, label, render.image_width(480))

    font = 22 if render.presentation() else 15

    def axis(field: str, title: str) -> dict:
        return {"field": field, "type": "quantitative", "title": title,
                "scale": {"domain": [-edge, edge], "nice": False, "zero": False},
                "axis": {"titleFontSize": font + 2, "labelFontSize": font, "grid": False}}

    spec = {
        "width": size, "height": size,
        "autosize": {"type": "pad"},  # width and height are the plot's: the image is unscaled
        "layer": [
            {"data": {"values": [{"x": -edge, "x2": edge, "y": -edge, "y2": edge,
                                  "url": url}]},
             "mark": {"type": "image", "aspect": False},
             "encoding": {"x": axis("x", dimension_name(0)), "x2": {"field": "x2"},
                          "y": axis("y", dimension_name(1)), "y2": {"field": "y2"},
                          "url": {"field": "url", "type": "nominal"}}},
            {"data": {"values": [{"z0": float(np.clip(z[0], -edge, edge)),
                                  "z1": float(np.clip(z[1], -edge, edge))}]},
             "mark": {"type": "point", "shape": "cross", "size": 500, "filled": True,
                      "color": "#ff2d2d", "stroke": "#ffffff", "strokeWidth": 1.5},
             "encoding": {"x": axis("z0", dimension_name(0)),
                          "y": axis("z1", dimension_name(1))}},
        ],
    }
    with st.container(key="fill_plane"):  # grows with a projector's screen (ui/presentation.py)
        st.vega_lite_chart(spec, width="content", theme=None)
