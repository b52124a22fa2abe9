"""The Conditional page in AppTest: a polite refusal without a CVAE; class, style and swap."""

import pytest
from streamlit.testing.v1 import AppTest

from ui import latent_pad
from vae import checkpoints


@pytest.fixture
def conditional(tiny_models, tmp_path, monkeypatch):
    monkeypatch.setattr(checkpoints, "RUNS_DIR", tiny_models)
    monkeypatch.setattr(checkpoints, "CACHE_DIR", tmp_path / "cache")

    def open_page(name: str) -> AppTest:
        at = AppTest.from_file("../app.py", default_timeout=60)
        at.session_state["model_name"] = name
        # AppTest cannot drive the in-page latent pad (docs/design.md §6): these tests take the
        # server path, its fallback; the pad itself is tested in Chromium.
        at.session_state[latent_pad.PREFERENCE] = False
        at.run()
        at.switch_page("pages/conditional.py").run()
        assert not at.exception, [e.value for e in at.exception]
        return at

    return open_page


def image_urls(at: AppTest) -> list[str]:
    return [image.proto.imgs[0].url for image in at.get("image")]


@pytest.mark.parametrize("name", ["tiny-vae-4d", "tiny-vae-2d"])
def test_a_plain_vae_gets_a_sentence_not_a_crash(conditional, name):
    at = conditional(name)
    assert any("digits-cvae" in i.value for i in at.info)
    assert not at.slider


def test_class_selector_changes_the_picture(conditional):
    at = conditional("tiny-cvae")
    # The picture, one style across 10 classes, the test image and its 10 swaps.
    assert len(image_urls(at)) == 1 + 10 + 1 + 10
    before = image_urls(at)[0]
    at.selectbox(key="cond_class").set_value(7).run()
    assert image_urls(at)[0] != before
    assert "Class 7" in [t.value for t in at.text]


def test_style_slider_changes_the_picture_and_the_row(conditional):
    at = conditional("tiny-cvae")
    before = image_urls(at)
    at.slider(key="cz0").set_value(-2.5).run()
    after = image_urls(at)
    assert after[0] != before[0]
    assert after[1:11] != before[1:11]


def test_class_swap_labels_every_class(conditional):
    at = conditional("tiny-cvae")
    labels = [t.value for t in at.text]
    own = next(v for v in labels if v.startswith("The test image, class "))
    digit = own.rsplit(" ", 1)[1]
    assert f"{digit} (own)" in labels
    before = image_urls(at)[11:]
    at.number_input(key="cond_swap").set_value(3).run()
    assert image_urls(at)[11:] != before


def test_the_example_button_switches_to_the_shipped_cvae(conditional):
    if not (checkpoints.SHIPPED_DIR / "digits-cvae" / "CURRENT").exists():
        pytest.skip("the shipped digits-cvae is not built")
    at = conditional("tiny-vae-4d")
    at.button[0].click().run()
    assert not at.exception
    assert at.session_state["model_name"] == "digits-cvae"
    assert at.selectbox(key="cond_class").value == 0
