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
    # It points to a CVAE of the same data, with a button that picks it.
    named = [n for n in ("digits-cvae", "tiny-cvae") if any(f"e.g. {n}" in i.value
                                                             for i in at.info)]
    assert named and any(b.label == f"Use {named[0]}" for b in at.button)
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


def test_the_words_follow_the_data(tmp_path, monkeypatch):
    """A CVAE of clothes is not told about handwriting: every text on its Conditional and
    Interpolate pages speaks of its data."""
    from test_fashion import fake_fashion

    from vae import fashion
    from vae.runner import RunSpec, train_run

    monkeypatch.setenv(fashion.ENV, str(fake_fashion(tmp_path)))
    monkeypatch.setattr(checkpoints, "RUNS_DIR", tmp_path / "runs")
    monkeypatch.setattr(checkpoints, "CACHE_DIR", tmp_path / "cache")
    train_run(RunSpec(dataset="fashion", kind="cvae", model={"hidden": [32], "latent_dim": 2},
                      train={"epochs": 2, "threads": 1}), tmp_path / "runs" / "clothes")
    texts = []
    for page in ("pages/conditional.py", "pages/interpolate.py"):
        at = AppTest.from_file("../app.py", default_timeout=60)
        at.session_state["model_name"] = "clothes"
        at.session_state[latent_pad.PREFERENCE] = False
        at.run()
        at.switch_page(page).run()
        assert not at.exception, [e.value for e in at.exception]
        texts += [e.value for kind in ("markdown", "caption", "info", "text")
                  for e in at.get(kind)]
    words = " ".join(texts).lower()
    assert "garment" in words and "Ankle boot".lower() in words
    for wrong in ("digit", "handwriting", "slant"):
        assert wrong not in words, wrong
