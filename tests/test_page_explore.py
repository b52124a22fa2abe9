"""The Explore page in AppTest: sliders, buttons, the URL and a CVAE's class selector."""

import json

import pytest
from streamlit.testing.v1 import AppTest
from tiny_models import picture_rows

from ui import latent_pad, render
from vae import checkpoints

SCRIPT = "../app.py"  # Explore is the app's default page


@pytest.fixture
def explore(tiny_models, tmp_path, monkeypatch):
    monkeypatch.setattr(checkpoints, "RUNS_DIR", tiny_models)
    monkeypatch.setattr(checkpoints, "CACHE_DIR", tmp_path / "cache")

    def open_page(name: str, **query: str) -> AppTest:
        at = AppTest.from_file(SCRIPT, default_timeout=60)
        at.session_state["model_name"] = name
        # AppTest cannot drive the in-page latent pad (docs/design.md §6): these tests take the
        # server path, its fallback; the pad itself is tested in Chromium.
        at.session_state[latent_pad.PREFERENCE] = False
        at.query_params.update(query)
        at.run()
        assert not at.exception, [e.value for e in at.exception]
        return at

    return open_page


def decoded_url(at: AppTest) -> str:
    """The big decoded picture: the page's first image."""
    return at.get("image")[0].proto.imgs[0].url


def slider_values(at: AppTest, d: int) -> list[float]:
    return [at.slider(key=f"z{j}").value for j in range(d)]


@pytest.mark.parametrize(("name", "d"), [("tiny-vae-4d", 4), ("tiny-vae-2d", 2),
                                         ("tiny-cvae", 3)])
def test_renders_one_slider_per_dimension(explore, name, d):
    at = explore(name)
    assert sorted(s.key for s in at.slider) == [f"z{j}" for j in range(d)]
    assert slider_values(at, d) == [0.0] * d
    assert at.get("image"), "no decoded picture"
    # A 2-D model also shows its whole decoded plane; the others do not.
    assert (len(at.get("vega_lite_chart")) == 1) == (d == 2)


def test_headings_carry_their_link_anchor(explore):
    # Named here, not slugified by the browser at each of a move's redraws (ui/render.py).
    at = explore("tiny-vae-2d")
    anchors = {h.value: h.proto.anchor for h in [*at.title, *at.header, *at.subheader]}
    assert anchors["Explore the latent space"] == "explore-the-latent-space"
    assert anchors["The whole latent plane"] == "the-whole-latent-plane"
    assert all(anchors.values()), anchors


def test_the_explanation_is_sent_only_while_its_box_is_open(explore):
    # A closed box's text and formula would be redrawn by the browser at every slider move.
    at = explore("tiny-vae-2d")
    assert [e.label for e in at.expander] == ["What am I seeing?"]
    assert not at.latex
    assert not any("Each slider is one coordinate" in m.value for m in at.markdown)
    at.session_state[render.EXPLAIN] = True
    at.run()
    assert any("Each slider is one coordinate" in m.value for m in at.markdown)
    assert "KL" in at.latex[0].value


@pytest.mark.parametrize(("text", "expected"), [
    ("β sweep", "beta-sweep"),  # ASCII: the page compares it with a percent-encoded #fragment
    ("Lesson · 2 of 8: What a β-VAE gives up", "lesson-2-of-8-what-a-beta-vae-gives-up"),
    (r"Traversals of fashion\-vae\-2d\-b0\_25", "traversals-of-fashion-vae-2d-b0-25"),
    ("A/B comparison", "a-b-comparison"),
])
def test_an_anchor_is_a_heading_s_words_in_ascii(text, expected):
    assert render.anchor(text) == expected


def test_moving_a_slider_changes_the_picture(explore):
    at = explore("tiny-vae-4d")
    before = decoded_url(at)
    at.slider(key="z0").set_value(2.0).run()
    assert decoded_url(at) != before
    assert at.query_params["z"] == "2.00,0.00,0.00,0.00"


def test_a_slider_moves_every_traversal_row_but_its_own(explore):
    # Row j runs z_j through fixed values with the others where the sliders are, so moving
    # z1 leaves z1's own row as it was and changes every other row.
    at = explore("tiny-vae-4d")
    [before] = picture_rows(at)
    at.slider(key="z0").set_value(2.0).run()
    [after] = picture_rows(at)
    assert [label for label, _ in after] == [label for label, _ in before]
    assert sorted(label for label, _ in after) == ["z1", "z2", "z3", "z4"]
    for (label, old), (_, new) in zip(before, after, strict=True):
        assert (new == old) == (label == "z1"), label


def test_the_url_sets_the_sliders(explore):
    at = explore("tiny-vae-4d", z="1.00,-0.50,0.25,9")
    assert slider_values(at, 4) == [1.0, -0.5, 0.25, 4.0]  # clipped to the sliders' range
    assert not at.warning


@pytest.mark.parametrize("garbage", ["abc,1,2,3", "1,2", "nan,0,0,0", ""])
def test_a_bad_url_value_is_ignored_with_a_note(explore, garbage):
    at = explore("tiny-vae-4d", z=garbage)
    assert slider_values(at, 4) == [0.0] * 4
    assert any("ignored" in w.value for w in at.warning)


def test_buttons_move_the_sliders(explore):
    at = explore("tiny-vae-4d")
    at.button[1].click().run()  # Random sample
    assert any(v != 0 for v in slider_values(at, 4))
    at.button[0].click().run()  # Zero
    assert slider_values(at, 4) == [0.0] * 4
    at.number_input(key="explore_test").set_value(7).run()
    at.button[3].click().run()  # Encode it
    assert any(v != 0 for v in slider_values(at, 4))
    assert any(t.value.startswith("Test image 7") for t in at.text)


def test_cvae_class_selector_changes_the_picture(explore):
    at = explore("tiny-cvae", c="1")
    assert at.selectbox(key="explore_class").value == 1
    before = decoded_url(at)
    at.selectbox(key="explore_class").set_value(5).run()
    assert decoded_url(at) != before
    assert at.query_params["c"] == "5"


def test_cvae_encodes_a_test_image_with_its_label(explore):
    at = explore("tiny-cvae")
    at.button[2].click().run()  # Random test image
    assert not at.exception
    index = at.number_input(key="explore_test").value
    shown = next(t.value for t in at.text if t.value.startswith("Test image"))
    label = int(shown.rsplit("class ", 1)[1])
    assert shown.startswith(f"Test image {index}")
    assert at.selectbox(key="explore_class").value == label


def test_the_pad_replaces_the_sliders_by_default(tiny_models, tmp_path, monkeypatch):
    monkeypatch.setattr(checkpoints, "RUNS_DIR", tiny_models)
    monkeypatch.setattr(checkpoints, "CACHE_DIR", tmp_path / "cache")
    at = AppTest.from_file(SCRIPT, default_timeout=60)
    at.session_state["model_name"] = "tiny-vae-4d"
    at.run()
    assert not at.exception and not at.slider
    assert at.toggle(key="decode_in_page_switch").value


def test_a_model_the_page_cannot_decode_falls_back_with_a_sentence(tiny_models, tmp_path,
                                                                   monkeypatch):
    from ui import state
    from vae import decoder_payload

    monkeypatch.setattr(checkpoints, "RUNS_DIR", tiny_models)
    monkeypatch.setattr(checkpoints, "CACHE_DIR", tmp_path / "cache")
    monkeypatch.setattr(decoder_payload, "MAX_FLOATS", 100)
    state.decoder_payload.clear()
    try:
        at = AppTest.from_file(SCRIPT, default_timeout=60)
        at.session_state["model_name"] = "tiny-vae-4d"
        at.run()
    finally:
        state.decoder_payload.clear()
    assert not at.exception
    assert any("decoded by the server instead of in the page" in i.value for i in at.info)
    assert sorted(s.key for s in at.slider) == [f"z{j}" for j in range(4)]


def test_a_pad_the_browser_could_not_run_falls_back_with_a_sentence(tiny_models, tmp_path,
                                                                   monkeypatch):
    from ui import latent_pad

    monkeypatch.setattr(checkpoints, "RUNS_DIR", tiny_models)
    monkeypatch.setattr(checkpoints, "CACHE_DIR", tmp_path / "cache")
    at = AppTest.from_file(SCRIPT, default_timeout=60)
    at.session_state["model_name"] = "tiny-vae-4d"
    # What the pad's "error" message leaves behind (ui/latent_pad.py _on_error).
    at.session_state[latent_pad.FAILED] = {
        latent_pad.model_key(str(tiny_models / "tiny-vae-4d")):
            "the browser could not run its decoder (unknown layer gelu)"}
    at.run()
    assert not at.exception
    [note] = [i.value for i in at.info if "decoded by the server" in i.value]
    assert "unknown layer gelu" in note
    assert sorted(s.key for s in at.slider) == [f"z{j}" for j in range(4)]


def test_a_2d_models_manifold_puts_z1_across_and_its_cross_at_the_code(explore):
    # The pad beside it moves z1 across (tests/test_browser_latent_pad.py drags it), so a drag
    # to the right moves this cross to the right.
    at = explore("tiny-vae-2d")
    at.slider(key="z0").set_value(2.0).run()
    spec = json.loads(at.get("vega_lite_chart")[0].proto.spec)
    picture, cross = spec["layer"]
    assert picture["encoding"]["x"]["title"] == "z1" and picture["encoding"]["y"]["title"] == "z2"
    point = cross["data"]["values"][0]
    assert point[cross["encoding"]["x"]["field"]] == pytest.approx(2.0)
    assert point[cross["encoding"]["y"]["field"]] == pytest.approx(0.0)
