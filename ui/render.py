"""Drawing helpers: crisp enlarged images, presentation mode, explanations."""

from __future__ import annotations

import numpy as np
import streamlit as st

from vae.images import grid, to_pil

PRESENTATION_CSS = """
<style>
html, body, [class*="st-"], .stMarkdown p, label, .stCaption { font-size: 22px !important; }
h1 { font-size: 44px !important; } h2 { font-size: 34px !important; }
h3 { font-size: 28px !important; }
.stApp { background: #ffffff; color: #000000; }
[data-testid="stSidebar"] { display: none; }
</style>
"""


def presentation() -> bool:
    return bool(st.session_state.get("presentation", False))


def image_width(normal: int = 256) -> int:
    """Projector rule: images at least 320 px wide in presentation mode."""
    return max(normal, 320) if presentation() else normal


def show_images(x: np.ndarray, *, columns: int | None = None, width: int | None = None,
                caption: str | None = None) -> None:
    """Images (n, C, H, W) in [0, 1] as one grid, enlarged with nearest-neighbour pixels."""
    picture = grid(x, columns, pad=1 if x.shape[0] > 1 else 0)
    width = width or image_width()
    scale = max(1, round(width / picture.shape[1]))
    st.image(to_pil(picture, scale), width=width, caption=caption)


def explain(text: str, formula: str | None = None) -> None:
    """The "What am I seeing?" box every page has: plain words, then the formula."""
    with st.expander("What am I seeing?"):
        st.markdown(text)
        if formula:
            st.latex(formula)
