"""The Interpolate page in AppTest: steps, lerp / slerp, two classes, a CVAE, downloads."""

import io

import numpy as np
import pytest
from PIL import Image
from tiny_models import app_on, image_urls, record_downloads, use_tree

from vae import checkpoints
from vae.derived import encode_split


@pytest.fixture
def tree(tiny_models, tmp_path, monkeypatch):
    return use_tree(tiny_models, tmp_path, monkeypatch)[0]


def strip(at) -> list[str]:
    """The strip: the one image element holding more than one picture."""
    [pictures] = [urls for urls in image_urls(at) if len(urls) > 1]
    return pictures


def captions(at) -> list[str]:
    [element] = [e for e in at.get("image") if len(e.proto.imgs) > 1]
    return [img.caption for img in element.proto.imgs]


def test_steps_and_method_change_the_strip(tree):
    at = app_on("pages/interpolate.py", "tiny-vae-4d")
    assert not at.exception
    assert len(strip(at)) == 8
    assert captions(at)[0] == "t = 0.00" and captions(at)[-1] == "t = 1.00"

    at.slider(key="interp_steps").set_value(5).run()
    assert len(strip(at)) == 5 and captions(at)[2] == "t = 0.50"
    lerp = strip(at)
    at.radio(key="interp_method").set_value("slerp").run()
    assert not at.exception
    slerp = strip(at)
    # Same ends, another path between them.
    assert slerp[0] == lerp[0] and slerp[-1] == lerp[-1] and slerp[2] != lerp[2]

    at.number_input(key="interp_b").set_value(40).run()
    assert strip(at)[-1] != slerp[-1]
    labels = [b.proto.label for b in at.get("download_button")]
    assert labels == ["Download strip (PNG)", "Download animation (GIF)"]


def test_two_classes_picks_one_image_of_each_and_another_pair_on_demand(tree):
    at = app_on("pages/interpolate.py", "tiny-vae-4d")
    at.radio(key="interp_mode").set_value("Two classes").run()
    at.selectbox(key="interp_class_a").set_value(3)
    at.selectbox(key="interp_class_b").set_value(7).run()
    assert not at.exception
    assert [t.value for t in at.text] == ["A: class 3 · B: class 7"]
    first = strip(at)
    at.button[0].click().run()  # "Another pair"
    assert [t.value for t in at.text] == ["A: class 3 · B: class 7"]
    assert strip(at) != first


def test_a_cvae_interpolates_within_one_chosen_class(tree):
    at = app_on("pages/interpolate.py", "tiny-cvae")
    assert not at.exception
    y = encode_split(checkpoints.RUNS_DIR / "tiny-cvae")["y"]
    chosen = at.selectbox(key="interp_class")
    assert chosen.value == y[0]  # image A's class to begin with
    before = strip(at)
    chosen.set_value((y[0] + 1) % 10).run()
    assert not at.exception
    assert strip(at) != before


def test_the_downloads_name_the_model_and_label_the_strip_for_a_slide(tree, monkeypatch):
    offered = record_downloads(monkeypatch)
    at = app_on("pages/interpolate.py", "tiny-vae-4d")
    at.slider(key="interp_steps").set_value(5).run()
    assert not at.exception
    side = checkpoints.load(checkpoints.RUNS_DIR / "tiny-vae-4d").config["model"]["image_shape"][-1]
    scale = max(1, 256 // side)  # the page's DOWNLOAD_SIDE
    band, bare = 7 * scale, (side + 2) * scale  # a line of text; a row of images and gutters
    data, name = offered["Download strip (PNG)"]
    png = np.asarray(Image.open(io.BytesIO(data())).convert("L"))
    assert name.startswith("tiny-vae-4d-lerp-") and name.endswith(".png")
    # The bare strip (5 images in one-pixel gutters) with a band of words above and below.
    assert png.shape[0] == band + bare + band and png.shape[1] >= (5 * (side + 1) + 1) * scale
    assert (png[:band] < 128).any() and (png[-band:] < 128).any()  # the title, each t
    data, name = offered["Download animation (GIF)"]
    gif = Image.open(io.BytesIO(data()))
    assert name.startswith("tiny-vae-4d-lerp-") and gif.n_frames == 8
    frame = np.asarray(gif.convert("L"))
    assert frame.shape[0] == band + bare + band and (frame[:band] < 128).any()
