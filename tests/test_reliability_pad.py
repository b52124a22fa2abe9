"""Crafted latent-pad messages: the pad's "code" state comes from the browser, so a hand-made
websocket message can put anything there. The server must keep the sliders where they were."""

import math

import pytest
import reliability
from streamlit.testing.v1 import AppTest

pytestmark = pytest.mark.reliability

D, K = 3, 4
CRAFTED = {
    "not an object": "z=1,2,3",
    "too few values": {"z": [0.5, 0.5], "label": 1},
    "a string among the values": {"z": [0.5, "1", 0.5], "label": 1},
    "NaN": {"z": [0.5, math.nan, 0.5], "label": 1},
    "beyond the sliders' range": {"z": [0.5, 1e9, 0.5], "label": 1},
    "a class that does not exist": {"z": [0.5, 0.5, 0.5], "label": 99},
    "a class given as text": {"z": [0.5, 0.5, 0.5], "label": "2"},
}


def script(code) -> None:
    import streamlit as st

    from ui import latent_pad
    from ui import latent_sliders as sliders

    st.session_state["pad"] = {"code": code}
    latent_pad._on_code("pad", "z", 3, "cls", 4)
    st.session_state["seen"] = ([float(v) for v in sliders.current_code("z", 3)],
                                st.session_state.get("cls"))


@pytest.mark.parametrize("name", list(CRAFTED))
def test_a_crafted_pad_message_moves_nothing(name):
    at = AppTest.from_function(script, args=(CRAFTED[name],))
    at.session_state["z_last"] = [0.0] * D
    at.run()
    assert not at.exception
    z, label = at.session_state["seen"]
    moved = z != [0.0] * D
    # A well-formed code with an impossible class moves the sliders but never the class.
    assert not moved or "class" in name
    assert label is None
    reliability.record("Bad input: crafted messages", f"latent pad: {name}",
                       f"a websocket message setting the pad's code to {CRAFTED[name]!r}",
                       "ignored: sliders and class unchanged" if not moved else
                       "the code was taken, the impossible class was not")


def test_a_well_formed_pad_message_moves_the_sliders_and_the_class():
    at = AppTest.from_function(script, args=({"z": [0.5, -1.25, 4.0], "label": 2},))
    at.run()
    assert at.session_state["seen"] == ([0.5, -1.25, 4.0], 2)
