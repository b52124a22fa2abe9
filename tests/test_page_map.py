"""The Map page in AppTest: PCA at once, t-SNE when ready, colouring, a picked point, CSV."""

import base64
import json

import numpy as np
import pytest
from bad_input import untrained
from tiny_models import app_on, image_urls, page_alone, use_tree

from vae import checkpoints, projection
from vae.derived import encode_split, tsne_file


@pytest.fixture
def tree(tiny_models, tmp_path, monkeypatch):
    return use_tree(tiny_models, tmp_path, monkeypatch)[0]


def chart(at) -> dict:
    charts = at.get("plotly_chart")
    assert len(charts) == 1
    return json.loads(charts[0].proto.spec)


def values(axis) -> np.ndarray:
    """A trace's coordinates: plotly writes numpy arrays as base64 with their dtype."""
    if isinstance(axis, list):
        return np.array(axis)
    return np.frombuffer(base64.b64decode(axis["bdata"]), dtype=axis["dtype"])


def image_captions(at) -> list[str]:
    return [image.caption for element in at.get("image") for image in element.proto.imgs]


def axis_titles(at) -> tuple[str, str]:
    layout = chart(at)["layout"]
    return layout["xaxis"]["title"]["text"], layout["yaxis"]["title"]["text"]


def test_pca_at_once_then_tsne_when_it_is_ready(tree):
    at = app_on("pages/map.py", "tiny-vae-4d")
    assert not at.exception
    assert axis_titles(at)[0].startswith("PC 1")
    names = {trace["name"] for trace in chart(at)["data"][:-1]}
    assert names == {str(k) for k in range(10)}  # one legend entry per class

    at.radio(key="map_method").set_value("t-SNE").run()
    if at.get("progress"):  # still computing in its worker: PCA meanwhile
        assert axis_titles(at)[0].startswith("PC 1")
    # Whoever finishes first, worker or this test, the page draws the cached map.
    path = checkpoints.RUNS_DIR / "tiny-vae-4d"
    file = tsne_file(checkpoints.load(path))
    tsne = projection.cached_tsne(encode_split(path)["mu"], file)
    at.run()
    assert not at.exception and not at.get("progress")
    assert axis_titles(at) == ("t-SNE 1", "t-SNE 2")
    drawn = np.concatenate([values(trace["x"]) for trace in chart(at)["data"][:-1]])
    assert np.array_equal(np.sort(drawn), np.sort(tsne[:, 0]))


def test_a_picked_image_shows_with_its_reconstruction_and_opens_in_explore(tree):
    at = app_on("pages/map.py", "tiny-vae-4d")
    before = image_urls(at)
    at.number_input(key="map_index").set_value(7).run()
    assert not at.exception
    assert image_urls(at) != before
    mu = encode_split(checkpoints.RUNS_DIR / "tiny-vae-4d")["mu"]
    y = encode_split(checkpoints.RUNS_DIR / "tiny-vae-4d")["y"]
    assert f"Class: {y[7]}" in [t.value for t in at.text]
    # Its 8 nearest neighbours by code, in all dimensions, nearest first.
    nearest = np.argsort(((mu - mu[7]) ** 2).sum(1))[1:9]
    caption = next(c for c in image_captions(at) if "nearest neighbours" in c)
    assert caption.endswith("#" + ", #".join(map(str, nearest)))
    # The ring marking the pick sits on image 7.
    ring = chart(at)["data"][-1]
    assert ring["name"] == "selected"

    next(b for b in at.button if b.label == "Open in Explore").click().run()
    assert not at.exception
    assert at.title[0].value.startswith("Explore")
    assert at.query_params["model"] == "tiny-vae-4d"
    # Explore took the code (its sliders round it to their step).
    shown = np.array(at.query_params["z"].split(","), float)
    assert np.allclose(shown, mu[7], atol=0.03)


def test_a_2d_model_is_plotted_directly_with_a_csv_download(tree):
    at = app_on("pages/map.py", "tiny-vae-2d")
    assert not at.exception
    assert not at.radio  # nothing to project
    assert axis_titles(at) == ("z0", "z1")
    labels = [d.proto.label for d in at.get("download_button")]
    assert labels == ["Download encodings (CSV)", "Vectors (TSV)", "Metadata (TSV)"]


def test_shapes_maps_colour_by_a_chosen_factor(tree):
    untrained(checkpoints.RUNS_DIR / "tiny-shapes", "shapes")
    at = page_alone("pages/map.py", "tiny-shapes")
    assert not at.exception
    colour = at.selectbox(key="map_colour")
    assert colour.options == ["class", "shape", "scale", "rotation", "x", "y"]
    by_class = chart(at)
    assert {t["name"] for t in by_class["data"][:-1]} == {"square", "ellipse", "heart"}
    colour.set_value("rotation").run()
    by_rotation = chart(at)
    assert by_rotation != by_class
    marker = by_rotation["data"][0]["marker"]
    assert marker["colorbar"]["title"]["text"] == "rotation (level)"
