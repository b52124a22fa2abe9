"""The latent pad (a Streamlit v2 custom component, docs/design.md §6): latent sliders, a 2-D
pad over the test codes and the decoded picture, decoded in the page on every pointer move.

A native slider sends its value only on release, and each value costs a server round trip;
the pad decodes in the browser from the model's weights (vae/decoder_payload.py), which cross
the network once per model and tab. On release the code comes back here and moves the
sliders' state, so the URL, the traversals and every other panel follow.
"""

from __future__ import annotations

import hashlib
import math
from pathlib import Path

import numpy as np
import streamlit as st

from ui import latent_sliders as sliders
from ui import render, state
from ui.scatter import RING_CAPTION, posterior_rings
from vae.decoder_payload import float_payload
from vae.latent import dimension_name, posterior_handful

_HERE = Path(__file__).parent
SENT = "latent_pad_sent"  # model keys whose decoder this browser tab holds
FAILED = "latent_pad_failed"  # model key -> why the page could not decode it
PREFERENCE = "decode_in_page"
MAX_CODES = 2_000  # dots under the pad: enough to see where the data lives

_component = st.components.v2.component(
    "latent_lab.latent_pad", html='<div class="latent-pad"></div>',
    css=(_HERE / "latent_pad.css").read_text(),
    js=(_HERE / "pointer.js").read_text() + (_HERE / "latent_pad.js").read_text())


def preferred() -> bool:
    """Whether this session decodes in the page (the switch below; on by default)."""
    return bool(st.session_state.get(PREFERENCE, True))


def toggle() -> bool:
    """The "Decode in the browser" switch, one choice for every page that has a pad."""
    def remember() -> None:
        st.session_state[PREFERENCE] = st.session_state["decode_in_page_switch"]

    st.session_state["decode_in_page_switch"] = st.session_state.get(PREFERENCE, True)
    return st.toggle("Decode in the browser", key="decode_in_page_switch", on_change=remember,
                     help="On: the picture is decoded in this page while you drag, at display "
                          "rate. Off: native sliders, each value decoded by the server when "
                          "you let go.")


def model_key(path: str, weights_key: str | None = None) -> str:
    """The pad's name for a checkpoint's version (its current one by default): opaque to the
    browser, and new whenever the weights change (also when a name is reused)."""
    weights_key = state.key_of(path) if weights_key is None else weights_key
    return hashlib.sha1(f"{path}@{weights_key}".encode()).hexdigest()[:16]


def unavailable(path: str) -> str | None:
    """Why this model cannot be decoded in the page (a sentence), or None when it can."""
    payload = state.decoder_payload(path, state.key_of(path))
    reason = payload if isinstance(payload, str) else st.session_state.get(FAILED, {}).get(
        model_key(path))
    if reason is None:
        return None
    return (f"This model is decoded by the server instead of in the page: {reason}. The "
            f"sliders below send their value when you let go.")


def latent_pad(key: str, prefix: str, path: str, kl_per_dim: list[float], order: list[int],
               unused: list[int], label: int | None = None, class_key: str | None = None,
               class_names: list[str] | None = None) -> None:
    """The pad for the sliders named `prefix` (see ui/latent_sliders.py): it starts at their
    code and moves them on release; for a CVAE the class is chosen in it (`class_key`)."""
    d = len(order)
    shown, rest = sliders.shown_and_rest(order, unused)
    sent = st.session_state.setdefault(SENT, set())
    weights_key = state.key_of(path)
    model = model_key(path, weights_key)
    data = {
        "model": model,
        # Rounded past float32's noise, so the page can tell its own code coming back.
        "z": [round(float(v), 6) for v in sliders.current_code(prefix, d)],
        # The last release the server has taken: the page ignores codes older than its own.
        "ack": st.session_state.get(f"{key}_ack", 0),
        "label": label,
        "class_names": class_names,
        "dims": [{"j": j, "name": dimension_name(j), "kl": float(kl_per_dim[j]),
                  "unused": j in unused} for j in shown + rest],
        "shown": len(shown),
        "hidden_unused": sum(j in unused for j in rest),
        # A 2-D model's manifold beside the pad puts z1 across and z2 up: so does the pad, and
        # a drag moves its cross the same way. Otherwise the two dimensions with most KL.
        "pad": [0, 1] if d == 2 else (shown + rest)[:2],
        "limit": sliders.LIMIT,
        "image_size": render.image_width(256),
        "pad_size": render.image_width(256),
        "present": render.presentation(),
        "decoder": None,
        "codes": None,
        "posteriors": None,
    }
    data["layout_key"] = f"{data['pad_size']}-{data['present']}-{len(shown)}"
    if model not in sent:
        data["decoder"] = state.decoder_payload(path, weights_key)
        data["codes"] = float_payload(_codes(path, weights_key))
        data["posteriors"] = posteriors(path, weights_key) if d == 2 else None
        sent.add(model)
    _component(key=key, data=data, height="content",
               on_code_change=lambda: _on_code(key, prefix, d, class_key, len(class_names or [])),
               on_missing_change=lambda: _on_missing(key),
               on_error_change=lambda: _on_error(key, model))


def _codes(path: str, weights_key: str) -> np.ndarray:
    mu = state.encodings(path, weights_key)["mu"]
    if len(mu) > MAX_CODES:
        mu = mu[np.sort(np.random.default_rng(0).choice(len(mu), MAX_CODES, replace=False))]
    return mu


def posteriors(path: str, weights_key: str) -> dict:
    """A few test images' posteriors as rings for the pad to draw (ui/scatter.py)."""
    enc = state.encodings(path, weights_key)
    handful = posterior_handful(enc["mu"], enc["logvar"], enc.get("y"))
    names = state.load(path)[1].config["data"].get("class_names") or []
    return {"rows": posterior_rings(handful, names), "caption": RING_CAPTION}


def _on_code(key: str, prefix: str, d: int, class_key: str | None, k: int) -> None:
    """The code the pad sent on release: move the sliders there. A malformed one (only a
    crafted message can make it) is ignored."""
    code = (st.session_state.get(key) or {}).get("code")
    if not isinstance(code, dict):
        return
    if isinstance(code.get("n"), int):
        st.session_state[f"{key}_ack"] = code["n"]
    z, label = code.get("z"), code.get("label")
    if not (isinstance(z, list) and len(z) == d and all(
            isinstance(v, int | float) and math.isfinite(v) and abs(v) <= sliders.LIMIT
            for v in z)):
        return
    sliders.store_code(prefix, z)
    if class_key is not None and isinstance(label, int) and 0 <= label < k:
        st.session_state[class_key] = label


def _on_missing(key: str) -> None:
    model = (st.session_state.get(key) or {}).get("missing")
    if isinstance(model, str) and model not in st.session_state.get(FAILED, {}):
        st.session_state.setdefault(SENT, set()).discard(model)


def _on_error(key: str, model: str) -> None:
    message = render.escape(str((st.session_state.get(key) or {}).get("error"))[:200])
    st.session_state.setdefault(FAILED, {})[model] = (
        f"the browser could not run its decoder ({message})")
