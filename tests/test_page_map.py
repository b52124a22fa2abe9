"""The Map page in AppTest: PCA at once, t-SNE when ready, colouring, a picked point, CSV,
the pictures sent for hovering."""

import base64
import io
import json

import numpy as np
import pytest
from bad_input import untrained
from PIL import Image
from tiny_models import app_on, image_urls, page_alone, record_downloads, use_tree

from ui import map_hover, state
from ui.charts import CLASS_COLORS
from ui.map_hover import sprite_sheet
from vae import checkpoints, projection
from vae.data import Split
from vae.derived import checkpoint_data, encode_split, tsne_file
from vae.images import to_uint8


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
    assert axis_titles(at) == ("z1", "z2")
    labels = [d.proto.label for d in at.get("download_button")]
    assert labels == ["Download map (PNG)", "Download encodings (CSV)", "Vectors (TSV)",
                      "Metadata (TSV)"]


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


def sheet_tiles(png: bytes, th: int, tw: int, columns: int, n: int) -> np.ndarray:
    """The sheet's tiles back, (n, th, tw, C) uint8."""
    sheet = np.asarray(Image.open(io.BytesIO(png)))
    sheet = sheet[..., None] if sheet.ndim == 2 else sheet
    return np.stack([sheet[r * th:(r + 1) * th, c * tw:(c + 1) * tw]
                     for r, c in (divmod(i, columns) for i in range(n))])


def test_hover_pictures_get_every_shown_image_in_one_sheet_with_its_class(tree):
    at = app_on("pages/map.py", "tiny-vae-4d")
    (hover,) = [e for e in at.get("bidi_component")
                if e.proto.component_name == "latent_lab.map_hover"]
    data = json.loads(hover.proto.json)
    assert data["chart"] == "map_chart" and data["size"] >= 100
    ckpt = checkpoints.load(checkpoints.RUNS_DIR / "tiny-vae-4d")
    x, part = checkpoint_data(ckpt)
    images = to_uint8(Split(x).images())
    # The sheet is served as an image of the page, at its own width (so never resized), in
    # the hidden container the component reads its address from.
    png, sheet = map_hover._sheet(str(ckpt.path), ckpt.key, state.shown_split(str(ckpt.path),
                                                                              ckpt.key))
    assert data["sheet"] == map_hover.SHEET and data["width"] == sheet["width"]
    served = [img for e in at.get("image") for img in e.proto.imgs if not img.caption]
    assert [img.url.rsplit(".", 1)[1] for img in served] == ["png"]  # lossless
    assert np.array_equal(sheet_tiles(png, *data["tile"], data["columns"], len(images)), images)
    assert data["labels"] == part.y.tolist()
    assert data["class_names"] == [str(k) for k in range(10)]


def test_a_sheet_keeps_colour_and_shrinks_large_sets_to_its_budget():
    rng = np.random.default_rng(0)
    rgb = rng.random((7, 3, 10, 12)).astype(np.float32)
    png, th, tw, columns = sprite_sheet(rgb)
    assert (th, tw, columns) == (10, 12, 3)
    assert np.array_equal(sheet_tiles(png, th, tw, columns, 7), to_uint8(rgb))
    # 2,000 images of 64 x 64 are 8 MB of pixels: shrunk to fit a quarter of that.
    big = np.zeros((2000, 1, 64, 64), np.float32)
    big[:, :, :32] = 1  # the top half white, which shrinking must keep
    png, th, tw, columns = sprite_sheet(big, max_bytes=2_048_000)
    assert (th, tw) == (32, 32) and th * tw * 2000 <= 2_048_000
    tiles = sheet_tiles(png, th, tw, columns, 2000)
    assert (tiles[:, :16] == 255).all() and (tiles[:, 16:] == 0).all()


def test_the_map_download_names_the_model_and_draws_its_classes_and_rings(tree, monkeypatch):
    offered = record_downloads(monkeypatch)
    at = app_on("pages/map.py", "tiny-vae-2d")
    assert not at.exception
    data, name = offered["Download map (PNG)"]
    assert name == "tiny-vae-2d-map-plane.png"
    png = np.asarray(Image.open(io.BytesIO(data())).convert("RGB"))
    line = int(900 // 40 * 1.6)  # the title's band, above the frame
    assert (png[:line].min(axis=-1) < 128).any()
    y = encode_split(checkpoints.RUNS_DIR / "tiny-vae-2d")["y"]
    colours = {tuple(c) for c in png.reshape(-1, 3)}
    for k in np.unique(y):  # every class the test split holds, in its chart colour
        assert tuple(int(CLASS_COLORS[k][i:i + 2], 16) for i in (1, 3, 5)) in colours
    # A 2-D model's posterior rings are drawn too, and the line under the axis says what they
    # are (a map coloured by class has nothing else to say there).
    assert (png[2 * line + 900:3 * line + 900].min(axis=-1) < 128).any()
