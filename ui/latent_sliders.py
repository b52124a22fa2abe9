"""Latent sliders shared by Explore and Conditional: one per dimension, ordered by KL, moved by
buttons, pictures, other pages and the URL.

A widget's value can only be set before the widget is drawn, so everything that moves the
sliders leaves a *pending* code (`set_code`, from a callback or before `st.rerun`/`st.switch_page`)
that `prepare` applies at the top of the next run, before any slider exists.
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from ui.latent_url import format_code, parse_code
from vae.latent import dimension_name

LIMIT = 4.0  # sliders span [-LIMIT, LIMIT]: the prior N(0, 1) puts 99.99 % of its mass inside
STEP = 0.05
TOP = 8  # sliders shown before the "more dimensions" expander


def _key(prefix: str, j: int) -> str:
    return f"{prefix}{j}"


def snap(value: float) -> float:
    """A value as the URL and the latent pad keep it: two decimals, inside the sliders' range
    (a native slider takes it and moves in STEPs from there)."""
    return round(float(np.clip(value, -LIMIT, LIMIT)), 2)


def set_code(prefix: str, z: np.ndarray | list[float], label: int | None = None) -> None:
    """Move the sliders (and, with a label, the class selector) to z on the next run that draws
    them; call it from a widget callback, or before `st.rerun()` / `st.switch_page()`."""
    st.session_state[f"{prefix}_pending"] = ([float(v) for v in np.ravel(z)], label)


def store_code(prefix: str, z: list[float]) -> None:
    """Move the sliders to z now, from a callback of a control that is not one of them (the
    latent pad): the values are kept even on runs that draw no slider."""
    for j, value in enumerate(z):
        st.session_state[_key(prefix, j)] = float(value)
    st.session_state[f"{prefix}_last"] = [float(v) for v in z]


def prepare(prefix: str, model_key: str, latent_dim: int, class_key: str | None = None) -> None:
    """Before the sliders are drawn: zero them for a newly picked model, keep the position
    when the user comes back from another page, then apply a pending code."""
    keys = [_key(prefix, j) for j in range(latent_dim)]
    last = st.session_state.get(f"{prefix}_last")
    if st.session_state.get(f"{prefix}_model") != model_key:
        st.session_state[f"{prefix}_model"] = model_key
        st.session_state.pop(f"{prefix}_last", None)
        last = None
        for key in keys:
            st.session_state[key] = 0.0
    for j, key in enumerate(keys):
        # Streamlit forgets a widget's value on a run that does not draw it (another page).
        if key not in st.session_state:
            st.session_state[key] = snap(last[j]) if last and len(last) == latent_dim else 0.0
    pending = st.session_state.pop(f"{prefix}_pending", None)
    if pending is None:
        return
    z, label = pending
    if len(z) == latent_dim:
        for key, value in zip(keys, z, strict=True):
            st.session_state[key] = snap(value)
    if label is not None and class_key is not None:
        st.session_state[class_key] = int(label)


def current_code(prefix: str, latent_dim: int) -> np.ndarray:
    """The code the sliders hold at the start of this run, (latent_dim,) float32: readable
    before they are drawn, so a page can decode while the server is quiet (drawing sends
    messages that the server's main thread serializes, competing for the GIL)."""
    last = st.session_state.get(f"{prefix}_last") or []
    z = np.zeros(latent_dim, np.float32)
    for j in range(latent_dim):
        value = st.session_state.get(_key(prefix, j))
        if value is None:  # not drawn last run: Streamlit dropped its state, keep the value
            value = last[j] if len(last) == latent_dim else 0.0
        z[j] = value
    return z


def shown_and_rest(order: list[int], unused: list[int],
                   top: int = TOP) -> tuple[list[int], list[int]]:
    """The dimensions shown at once (the `top` used ones, by KL; two at least) and the rest."""
    idle = set(unused)
    shown = [j for j in order if j not in idle][:top] or order[:min(len(order), 2)]
    return shown, [j for j in order if j not in shown]


def sliders(prefix: str, kl_per_dim: list[float], order: list[int], unused: list[int],
            top: int = TOP) -> np.ndarray:
    """One slider per latent dimension in `order` (most KL first): the `top` used ones shown,
    the rest behind a switch, "unused" written on the inactive ones. Returns z, (latent_dim,).

    Hidden sliders are not drawn at all (a slider costs about half a millisecond a run, and
    more in the browser); their dimensions keep their values."""
    shown, rest = shown_and_rest(order, unused, top)
    z = current_code(prefix, len(order))  # the hidden ones keep these values

    def slider(j: int) -> None:
        tag = " · unused" if j in unused else ""
        # Given its value (the one session state holds): without one, each slider copied the
        # whole session state to find out whether it is a range (docs/design.md §6).
        z[j] = st.slider(f"{dimension_name(j)}  ·  KL {kl_per_dim[j]:.2f} nats{tag}", -LIMIT,
                         LIMIT, float(z[j]), step=STEP, key=_key(prefix, j), format="%.2f",
                         help="KL: how much this dimension tells about the input, averaged "
                              "over the test set. Moving an unused one barely changes the "
                              "picture.")

    for j in shown:
        slider(j)
    if rest:
        n_unused = sum(j in unused for j in rest)
        if st.toggle(f"Show {len(rest)} more dimensions ({n_unused} unused)",
                     key=f"{prefix}_more"):
            for j in rest:
                slider(j)
    st.session_state[f"{prefix}_last"] = z.tolist()
    return z


def read_url(prefix: str, latent_dim: int, param: str = "z") -> str | None:
    """Apply a code shared in the URL (`?z=0.50,-1.20,...`) when it is new. A value that cannot
    be used is ignored; the sentence returned says why."""
    text = st.query_params.get(param)
    if text is None or text == st.session_state.get(f"{prefix}_url"):
        return None
    st.session_state[f"{prefix}_url"] = text
    try:
        z = parse_code(text, latent_dim, LIMIT)
    except ValueError as e:
        return f"The position in the link was ignored: {e}. The sliders start where they were."
    pending = st.session_state.get(f"{prefix}_pending")
    set_code(prefix, z, pending[1] if pending else None)
    return None


def read_class_url(class_key: str, num_classes: int, param: str = "c") -> str | None:
    """Apply a class shared in the URL (`?c=3`) when it is new; a sentence if it is unusable."""
    text = st.query_params.get(param)
    if text is None or text == st.session_state.get(f"{class_key}_url"):
        return None
    st.session_state[f"{class_key}_url"] = text
    if not text.strip().isdigit() or int(text) >= num_classes:
        return (f"The class in the link was ignored: it must be a number from 0 to "
                f"{num_classes - 1}.")
    st.session_state[class_key] = int(text)
    return None


def write_url(prefix: str, z: np.ndarray, model_name: str, param: str = "z",
              class_key: str | None = None, label: int | None = None) -> None:
    """Keep the URL in step with the sliders (and the model and class), so it can be shared."""
    values = {"model": model_name, param: format_code(z)}
    if class_key is not None and label is not None:
        values["c"] = str(label)
        st.session_state[f"{class_key}_url"] = values["c"]
    elif "c" in st.query_params:  # left over from a CVAE picked before
        del st.query_params["c"]
    for name, text in values.items():
        if st.query_params.get(name) != text:
            st.query_params[name] = text
    st.session_state[f"{prefix}_url"] = values[param]
