"""A few test images' posteriors q(z|x), drawn as rings μ ± σ on a 2-D model's latent pad
(Explore) and map: which images, their σ, and that both pages hand the rings over (only for a
2-D model). The rings' physics on the shipped β = 0.25, 1, 4 and 64 models is in test_shipped.py."""

import json

import numpy as np
import pytest
from tiny_models import app_on, use_tree

from ui import latent_pad, state
from vae.latent import posterior_handful


def test_one_image_per_class_first_in_the_split_with_sigma_from_log_variance():
    labels = np.array([2, 0, 1, 0, 2, 1])
    mu = np.arange(12, dtype=np.float32).reshape(6, 2)
    logvar = np.log(np.array([[4.0, 1.0], [0.25, 9.0], [1.0, 1.0], [1, 1], [1, 1], [1, 1]]))
    handful = posterior_handful(mu, logvar, labels)
    assert handful.index.tolist() == [1, 2, 0]  # the first 0, the first 1, the first 2
    assert handful.label.tolist() == [0, 1, 2]
    assert handful.mean.tolist() == [[2, 3], [4, 5], [0, 1]]
    assert handful.sd == pytest.approx(np.array([[0.5, 3.0], [1.0, 1.0], [2.0, 1.0]]))


def test_without_labels_a_handful_spread_over_the_split():
    mu, logvar = np.zeros((100, 2)), np.zeros((100, 2))
    handful = posterior_handful(mu, logvar, count=5)
    assert handful.index.tolist() == [0, 25, 50, 74, 99]
    assert handful.label is None and (handful.sd == 1).all()  # log σ² = 0: the prior's σ
    assert len(posterior_handful(mu[:3], logvar[:3], count=5).index) == 3


@pytest.fixture
def tree(tiny_models, tmp_path, monkeypatch):
    return use_tree(tiny_models, tmp_path, monkeypatch)[0]


def expected_rings(tree, name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The first test image of each digit class: its μ and σ as the encoder gives them."""
    enc = state.encodings(str(tree / "runs" / name), state.key_of(str(tree / "runs" / name)))
    first = [int(np.flatnonzero(enc["y"] == c)[0]) for c in range(10)]
    return np.array(first), enc["mu"][first], np.exp(enc["logvar"][first] / 2)


def pad_data(at) -> dict:
    [pad] = [e for e in at.get("bidi_component") if "latent_pad" in e.proto.component_name]
    return json.loads(pad.proto.json)


@pytest.mark.parametrize("name", ["tiny-vae-2d", "tiny-vae-4d"])
def test_the_explore_pad_gets_rings_for_a_2d_model_only(tree, name):
    at = app_on("pages/explore.py", name)
    # Rings travel with the test codes, once per model and tab: a first visit's run.
    at.session_state[latent_pad.SENT] = set()
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    data = pad_data(at)
    assert data["codes"] is not None
    rings = data["posteriors"]
    if name == "tiny-vae-4d":
        assert rings is None
        return
    index, mean, sd = expected_rings(tree, name)
    assert [r["index"] for r in rings["rows"]] == index.tolist()
    assert [r["name"] for r in rings["rows"]] == [str(c) for c in range(10)]
    assert np.array([r["mean"] for r in rings["rows"]]) == pytest.approx(mean, abs=1e-4)
    assert np.array([r["sd"] for r in rings["rows"]]) == pytest.approx(sd, abs=1e-4)
    assert "±1σ" in rings["caption"]


@pytest.mark.parametrize("name", ["tiny-vae-2d", "tiny-vae-4d"])
def test_the_map_of_a_2d_model_draws_the_rings(tree, name):
    at = app_on("pages/map.py", name)
    assert not at.exception, [e.value for e in at.exception]
    [chart] = at.get("plotly_chart")
    figure = json.loads(chart.proto.spec)
    shapes = [s for s in figure["layout"].get("shapes", []) if s["type"] == "circle"]
    if name == "tiny-vae-4d":
        assert not shapes
        return
    _, mean, sd = expected_rings(tree, name)
    corners = np.array([[s["x0"], s["x1"], s["y0"], s["y1"]] for s in shapes])
    assert corners[:, 0] == pytest.approx(mean[:, 0] - sd[:, 0], abs=1e-3)
    assert corners[:, 1] == pytest.approx(mean[:, 0] + sd[:, 0], abs=1e-3)
    assert corners[:, 2] == pytest.approx(mean[:, 1] - sd[:, 1], abs=1e-3)
    assert corners[:, 3] == pytest.approx(mean[:, 1] + sd[:, 1], abs=1e-3)
    assert any("Each ring" in c.value for c in at.caption)
