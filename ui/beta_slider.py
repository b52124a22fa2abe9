"""The Train page's β slider (a Streamlit v2 custom component, docs/design.md §6): it sends a
value once, when a drag is let go or when its arrow keys have rested SETTLE_MS, so a β moved
key by key is one change in the run's history, not one per value on its way.

A native slider sends every key press as a rerun of its own, and behind the live panel's
reruns the presses reached the server a second apart, too far apart for a server-side wait to
tell them from separate changes. Here the page itself waits: only the browser knows when the
hand has stopped.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import streamlit as st

from ui import render

STEP = 0.1
SETTLE_MS = 500  # after the last key press; a drag is sent on release

_HERE = Path(__file__).parent
_component = st.components.v2.component(
    "latent_lab.beta_slider", html='<div class="beta-slider"></div>',
    css=(_HERE / "beta_slider.css").read_text(),
    js=(_HERE / "pointer.js").read_text() + (_HERE / "beta_slider.js").read_text())


def beta_slider(label: str, value: float, maximum: float, *, key: str,
                on_change: Callable[[float], None], disabled: bool = False) -> None:
    """A slider over [0, maximum] in steps of STEP showing `value`; `on_change(beta)` runs (as
    a widget callback) once per change the user lets go of."""
    data = {
        "label": label,
        "value": float(value),
        "max": float(maximum),
        "step": STEP,
        "settle_ms": SETTLE_MS,
        "disabled": disabled,
        # The last change the server has taken: the page keeps its own value until then.
        "ack": st.session_state.get(f"{key}_ack", 0),
        "present": render.presentation(),
    }
    _component(key=key, data=data, height="content",
               on_beta_change=lambda: _on_beta(key, maximum, on_change))


def _on_beta(key: str, maximum: float, on_change: Callable[[float], None]) -> None:
    """The value the page sent; a malformed one (only a crafted message makes one) is ignored."""
    sent = (st.session_state.get(key) or {}).get("beta")
    if not isinstance(sent, dict):
        return
    if isinstance(sent.get("n"), int):
        st.session_state[f"{key}_ack"] = sent["n"]
    beta = sent.get("value")
    if isinstance(beta, int | float) and math.isfinite(beta) and 0 <= beta <= maximum:
        on_change(float(beta))
