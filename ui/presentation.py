"""Presentation mode, for a projector at 1280×800 or 1024×768: type that scales with the
screen, the pages' navigation across the top, no sidebar, and the model picker, the join link
and the way out in one row above the page, so nothing a teacher needs is off screen."""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from ui import join
from ui.render import PRESENTATION

# Sizes follow the window's width (vw) between a floor a back row can read and the sizes that
# still fit a 1024-px-wide projector; the main block loses Streamlit's tall top padding.
CSS = """
<style>
html, body, [class*="st-"], .stMarkdown p, label, .stCaption {
  font-size: clamp(17px, 1.65vw, 22px) !important; }
.stApp h1, .stApp h1 * { font-size: clamp(28px, 2.9vw, 40px) !important; }
.stApp h2, .stApp h2 * { font-size: clamp(24px, 2.4vw, 32px) !important; }
.stApp h3, .stApp h3 * { font-size: clamp(20px, 2vw, 26px) !important; }
.stApp { background: #ffffff; color: #000000; }
[data-testid="stSidebar"], [data-testid="stSidebarCollapsedControl"],
[data-testid="stExpandSidebarButton"] { display: none; }
[data-testid="stMainBlockContainer"] { padding: 3.6rem 1.5rem 2rem; }
.stApp h1 { padding: 0.2rem 0 0.4rem; }
/* Pictures drawn at a laptop's size grow to fill their column on a projector, pixels kept
   square: the 2-D plane (a Vega chart, whose SVG scales whole, axes and all) up to a screen's
   height under its heading, and the A/B traversal rows. */
[class*="st-key-fill_"] .stElementContainer:has(img, svg.marks),
[class*="st-key-fill_"] .stElementContainer:has(img, svg.marks) div { width: 100% !important; }
[class*="st-key-fill_"] img { width: 100% !important; height: auto; }
.st-key-fill_plane svg.marks { width: min(100%, calc(100vh - 200px)); height: auto; }
[class*="st-key-fill_"] img, [class*="st-key-fill_"] svg.marks image {
  image-rendering: pixelated; }
</style>
"""


def from_url() -> None:
    """`?presentation=1` opens a session in presentation mode (a bookmark for the projector)."""
    if PRESENTATION not in st.session_state and st.query_params.get(PRESENTATION) == "1":
        st.session_state[PRESENTATION] = True


def set_mode(on: bool) -> None:
    st.session_state[PRESENTATION] = on
    if on:
        st.query_params[PRESENTATION] = "1"
    else:
        st.query_params.pop(PRESENTATION, None)


def top_row(model_picker: Callable[[DeltaGenerator, str], None]) -> None:
    """The sidebar's essentials in one row above the page; `model_picker(container,
    label_visibility)` draws the picker into the container it is given."""
    st.markdown(CSS, unsafe_allow_html=True)
    picker, invite, leave = st.columns([5, 1.6, 1.6], vertical_alignment="bottom")
    model_picker(picker, "collapsed")
    join.join_panel(invite, key="join_link_top")
    leave.button("Exit presentation", on_click=set_mode, args=(False,), width="stretch")
