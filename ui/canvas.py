"""A drawing canvas (a Streamlit v2 custom component, docs/design.md §6): draw with the mouse,
a finger or a pen on a grid of binary pixels; each finished stroke sends the whole drawing back.

Everything it needs ships here (canvas.js, canvas.css): nothing is fetched at run time.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import streamlit as st

GRID = 32  # scikit-learn's digits were drawn as 32 x 32 bitmaps, then averaged 4 x 4
_HERE = Path(__file__).parent
_HTML = ('<div class="latent-canvas"><canvas aria-label="Drawing area: draw with the mouse">'
         '</canvas><button type="button">Clear the drawing</button></div>')

_component = st.components.v2.component(
    "latent_lab.drawing_canvas", html=_HTML, css=(_HERE / "canvas.css").read_text(),
    js=(_HERE / "canvas.js").read_text())


def drawing_canvas(key: str, on_drawing: Callable[[], None], *, size: int = 256,
                   grid: int = GRID, brush: float = 1.7) -> None:
    """Draw the canvas; `on_drawing` runs (as a widget callback, before the page's script)
    after every stroke and after "Clear"; read the drawing there with `drawing(key)`."""
    _component(key=key, data={"size": size, "grid": grid, "brush": brush},
               on_drawing_change=on_drawing, height=size + 56)


def drawing(key: str, grid: int = GRID) -> np.ndarray | None:
    """The last drawing sent by the canvas `key`, (grid, grid) with ink = 1, or None when
    there is none or it is malformed."""
    state = st.session_state.get(key)
    bits = state.get("drawing") if state is not None else None
    if not isinstance(bits, str) or len(bits) != grid * grid or set(bits) - {"0", "1"}:
        return None
    return (np.frombuffer(bits.encode(), np.uint8) - ord("0")).reshape(grid, grid).astype(
        np.float32)
