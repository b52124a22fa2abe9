"""Drawing helpers: crisp enlarged images, presentation mode, explanations."""

from __future__ import annotations

import base64
import collections
import hashlib
import html
import io
import json
import re
import threading
import unicodedata
from functools import cache
from pathlib import Path
from typing import Literal

import numpy as np
import streamlit as st
from PIL import ImageOps

from vae.images import grid, to_pil

PRESENTATION = "presentation"  # session key, and the URL's ?presentation=1


def presentation() -> bool:
    """Projector mode (ui/presentation.py): large type, no sidebar, the picker on top."""
    return bool(st.session_state.get(PRESENTATION, False))


def heading(text: str, level: Literal[1, 2, 3] = 2) -> None:
    """A title (level 1), header (2) or subheader (3) whose link anchor is named here. Left
    unnamed, the browser names it again at each redraw of the heading, through a
    transliterating slugify of about 1 ms, and a rerun redraws every element of the page
    several times: Explore's headings cost 15 of the 170 ms of browser time of a slider
    move."""
    draw = {1: st.title, 2: st.header, 3: st.subheader}[level]
    draw(text, anchor=anchor(text) or None)


def anchor(text: str) -> str:
    """A heading's link name: its words in lower-case ASCII joined by '-', a Greek letter by its
    name ("β sweep" -> "beta-sweep"), markdown's escapes dropped. ASCII, because the page
    compares the name with the link's percent-encoded #fragment."""
    words = "".join(
        unicodedata.normalize("NFKD", c).encode("ascii", "ignore").decode()
        or (f" {unicodedata.name(c).rsplit(' ', 1)[-1]} "
            if unicodedata.name(c, "").startswith("GREEK") else " ")
        for c in text)
    return re.sub(r"[^a-z0-9]+", "-", words.lower()).strip("-")


def image_width(normal: int = 256) -> int:
    """Projector rule: images at least 320 px wide in presentation mode."""
    return max(normal, 320) if presentation() else normal


def show_images(x: np.ndarray, *, columns: int | None = None, width: int | None = None,
                caption: str | None = None, frame: bool = False,
                inline: bool = False) -> None:
    """Images (n, C, H, W) in [0, 1] as one grid, enlarged with nearest-neighbour pixels to
    about `width` (a whole multiple of the grid's size, shown unresampled). `frame` draws a grey
    line around it, so white ink at an image's edge does not melt into a white page. `inline`
    puts the PNG in the page itself: for pictures redrawn on every slider move (no file to
    store, hash and serve per picture and rerun) and for self-refreshing fragments, whose
    previous images Streamlit drops as each run lands, so a browser a run behind would fetch a
    missing file."""
    png, shown_width = _grid_png(x, columns, width, frame)
    if inline:
        st.image(_data_url(png), width=shown_width, caption=caption)
    else:
        st.image(png, width=shown_width, caption=caption, output_format="PNG")


def show_rows(rows: list[np.ndarray], labels: list[str], *, width: int,
              label_share: float = 0.1) -> None:
    """Rows of images (each (n, C, H, W), framed, about `width` wide) with a label to the left
    of each, as one element. A rerun redraws every element of the page in the browser, several
    times (the run starting, its messages, the URL, the run ending): as columns, a label and
    an image, eight traversal rows were 40 of Explore's elements, and their redraws 40 of the
    200 ms of browser time a slider move cost."""
    cells = []
    for label, row in zip(labels, rows, strict=True):
        png, shown_width = _grid_png(row, len(row), width, frame=True)
        # tests/tiny_models.py's picture_rows reads this markup.
        cells.append(f'<div class="ll-row-label" style="overflow-wrap: anywhere">'
                     f'{html.escape(label)}</div>'
                     f'<img src="{_data_url(png)}" width="{shown_width}" '
                     f'alt="{html.escape(label)}" decoding="sync" '
                     f'style="max-width: 100%; height: auto">')
    st.html(f'<div class="ll-rows" style="display: grid; align-items: center; gap: 0.25rem '
            f'1rem; grid-template-columns: minmax(0, {label_share:g}fr) '
            f'minmax(0, {1 - label_share:g}fr)">' + "".join(cells) + "</div>")


def _grid_png(x: np.ndarray, columns: int | None, width: int | None,
              frame: bool) -> tuple[bytes, int]:
    picture = grid(x, columns, pad=1 if x.shape[0] > 1 else 0)
    scale = max(1, round((width or image_width()) / picture.shape[1]))
    return _png(picture, scale, frame)


def _data_url(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode()


FAVICON = _data_url((Path(__file__).parent / "favicon.png").read_bytes())


# By content: many pictures of a rerun are those of the last one (the traversal row of the
# dimension moved, the nearest training image, another session at the same code). Keyed by a
# digest of the pixels, so the cache holds PNGs (a few kB each on Explore), not pixels.
_PNGS: collections.OrderedDict[tuple, tuple[bytes, int]] = collections.OrderedDict()
_PNGS_LOCK = threading.Lock()
PNGS_KEPT = 256


def _png(picture: np.ndarray, scale: int, frame: bool) -> tuple[bytes, int]:
    """A grid's PNG, enlarged `scale` times and framed, and its width in pixels."""
    key = (hashlib.blake2b(picture, digest_size=16).digest(), picture.shape, scale, frame)
    with _PNGS_LOCK:
        if (kept := _PNGS.get(key)) is not None:
            _PNGS.move_to_end(key)
            return kept
    image = to_pil(picture, scale)
    if frame:
        image = ImageOps.expand(image, border=2, fill=128 if image.mode == "L" else (128,) * 3)
    # PNG, as JPEG (Streamlit's automatic choice here) would blur the crisp pixels; encoded
    # here with light compression, twice as fast as Streamlit's default.
    png = io.BytesIO()
    image.save(png, format="PNG", compress_level=1)
    with _PNGS_LOCK:
        _PNGS[key] = png.getvalue(), image.width
        while len(_PNGS) > PNGS_KEPT:
            _PNGS.popitem(last=False)
    return png.getvalue(), image.width


EXPLAIN = "explain_open"  # session key: whether the box is open


def explain(text: str, formula: str | None = None) -> None:
    """The "What am I seeing?" box of every page but the Lesson: plain words, then the
    formula. Its content exists only while it is open: the browser redraws every element of a
    page several times a rerun, a closed box's text and formula included (docs/design.md §6)."""
    box = st.expander("What am I seeing?", key=EXPLAIN, on_change="rerun")
    if box.open:
        with box:
            st.markdown(text)
            if formula:
                st.latex(formula)


_MARKDOWN_SPECIALS = str.maketrans({c: f"\\{c}" for c in "\\`*_{}[]()<>#+-.!|~$:"})


def escape(text: str) -> str:
    """User text (names, file names) made literal inside markdown-rendering elements such as
    st.error: no emphasis, links, LaTeX or HTML can come from it, and invisible characters (a
    right-to-left override that would reverse the rest of the sentence) show as escapes."""
    return visible(str(text)).translate(_MARKDOWN_SPECIALS)


def visible(text: str) -> str:
    """Control and format characters written as their escapes (\\x1b, \\u202e); the rest as is."""
    return "".join(c if c.isprintable() or c in "\n\t" else repr(c)[1:-1] for c in text)


def show_row(x: np.ndarray, captions: list[str], *, width: int | None = None) -> None:
    """Images (n, C, H, W) side by side, each enlarged with nearest-neighbour pixels and
    captioned; the row wraps onto more lines when the page is too narrow."""
    width = width or image_width(128)
    scale = max(1, round(width / x.shape[-1]))
    # A white margin keeps dark-background neighbours from merging into one band.
    pictures = [ImageOps.expand(to_pil(grid(image[None], pad=0), scale), border=4,
                                fill=255 if x.shape[1] == 1 else (255,) * 3) for image in x]
    st.image(pictures, caption=captions, width=pictures[0].width, output_format="PNG")


def download_button(where, label: str, data, **kwargs) -> None:
    """A download button in `where` (st or a container). A click does not rerun the page: a
    rerun replaces a lazy `data` callable while the click's request for it is in flight,
    and the button then spins forever."""
    where.download_button(label, data=data, on_click="ignore", **kwargs)


_CHART_MODULE = "PlotlyChart.*.js"  # Streamlit's chart code, named with its build's hash
_PRELOADED = "charts_preloaded"  # session key
_PRELOADER = "chart_preloader"  # the key of the hidden element that asks for the module
# The module's address, beside the one Streamlit's own code was loaded from.
_IMPORT = ("import(new URL({}, document.querySelector("
           "'script[type=module][src*=\"static/js/index.\"]').src).href)")


@cache
def _chart_module() -> str | None:
    found = sorted((Path(st.__file__).parent / "static" / "static" / "js").glob(_CHART_MODULE))
    return found[0].name if found else None


def preload_charts() -> None:
    """Once a session, from a page that draws charts: start the browser loading Streamlit's
    chart module now. Streamlit imports its 4.7 MB only when a page's first chart arrives; on a
    first visit that came after the server's second or two of work, and running the module took
    another two seconds before any chart was drawn. Asked for as the page opens, it loads while
    the server works. Same file, same module: the chart's own import then finds it loaded."""
    name = _chart_module()
    if name is None or st.session_state.get(_PRELOADED):
        return
    st.session_state[_PRELOADED] = True
    with st.container(key=_PRELOADER):
        # Its wrapper too: shown, it took a gap of the page's height (21 px on a projector).
        st.html(f'<style>[data-testid="stLayoutWrapper"]:has(> .st-key-{_PRELOADER}) '
                "{ display: none; }</style>")
        st.html(f"<script>{_IMPORT.format(json.dumps(name))}</script>",
                unsafe_allow_javascript=True)
