"""The training charts a class reads off the projector: each term on a scale that shows its own
change, directions said, and collapse that looks like collapse."""

import itertools

import numpy as np
import plotly.graph_objects as go
import pytest

from ui import charts


def test_elbo_reconstruction_and_kl_each_get_an_axis_with_their_direction():
    steps = [{"step": s, "recon": -60.0 + s / 10, "kl": 2.0 + s / 100, "elbo": -62.0 + s / 20,
              "beta": 1.0 if s < 50 else 4.0} for s in range(1, 101)]
    figure = charts.training_curves(steps, [], [{"step": 50, "beta": 4.0}], total_steps=100)
    axis_of = {t["name"]: t["yaxis"] for t in figure["data"]}
    kl, recon, elbo = (axis_of[name] for name in ("KL(q(z|x) ‖ p(z))",
                                                  "reconstruction E[log p(x|z)]",
                                                  "ELBO = reconstruction − KL"))
    assert len({kl, recon, elbo, axis_of["β"]}) == 4
    layout = figure["layout"]
    title = {a["yref"].split()[0]: a["text"] for a in layout["annotations"]
             if a["yref"].endswith("domain")}  # each panel's title, above it
    assert "lower raises the ELBO" in title[kl]
    assert "higher is better" in title[recon] and "higher is better" in title[elbo]
    # Free ranges: plotly fits each axis to its own curve (the KL's 2-3 nats fill its panel).
    assert all("range" not in layout[f"yaxis{a[1:]}"] for a in (kl, recon, elbo))
    domains = sorted(layout[key]["domain"] for key in layout if key.startswith("yaxis"))
    assert all(low[1] <= high[0] for low, high in itertools.pairwise(domains))  # no overlap
    [line] = figure["layout"]["shapes"]  # the hand-set β, across every panel
    assert line["x0"] == 50 and (line["y0"], line["y1"], line["yref"]) == (0, 1, "paper")


@pytest.mark.parametrize(("kl", "top"), [([0.003, 0.007, 0.0], 1.0), ([3.0, 5.0], 5.5)])
def test_the_kl_bars_keep_a_one_nat_floor(kl, top):
    figure = charts.kl_bars(kl, {1})
    assert figure["layout"]["yaxis"]["range"] == pytest.approx([0, top])


def test_classes_differ_in_shape_as_well_as_colour():
    ten = [charts.class_marker(k) for k in range(10)]
    assert len({m["color"] for m in ten}) == len({m["symbol"] for m in ten}) == 10
    many = [charts.class_marker(k) for k in range(40)]  # past ten, the pairs still differ
    assert len({(m["color"], m["symbol"]) for m in many}) == 40


@pytest.mark.parametrize("large", [False, True])
def test_every_kind_of_figure_passes_plotly_validation(large):
    # The live panel sends them unvalidated (charts.prevalidated): plotly's validation here
    # raises on any property it does not know or value it would refuse.
    steps = [{"step": s, "recon": -60.0, "kl": 2.0, "elbo": -62.0, "beta": 1.0}
             for s in range(1, 1001)]
    epochs = [{"epoch": 1, "step": 500, "val_elbo": -61.0, "val_recon": -59.0, "val_kl": 2.0}]
    points = np.random.default_rng(0).normal(size=(50, 2))
    figures = [
        charts.training_curves(steps, epochs, [{"step": 400, "beta": 4.0}], total_steps=2000,
                               large=large),
        charts.kl_bars([0.5, 0.0, 2.0], {0, 2}, large=large),
        charts.latent_map(points, np.arange(50) % 3, ["a", "b", "c"], ("z1", "z2"), extent=3,
                          large=large),
        charts.code_lengths(np.linspace(0, 1, 5), {"linear": np.ones(5)}, large=large),
    ]
    for figure in figures:
        validated = go.Figure(**figure)
        assert validated.to_dict()["data"] == charts.prevalidated(figure).to_dict()["data"]
