"""Plotly figures for training: loss curves with β, per-dimension KL bars, a 2-D latent map.

Figures are plain dicts (st.plotly_chart validates them once): building them through plotly's
figure methods (make_subplots, add_vline) costs tenths of a second, too slow for a panel that
redraws every second. With `large` (presentation mode) fonts and plots grow for a projector.
They take plain lists and arrays and know nothing of jobs or checkpoints.
"""

from __future__ import annotations

import html
import textwrap

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio

from vae.latent import dimension_name

MAX_POINTS = 600
LABEL_GAP = 0.2  # of the step axis: about the width of a "β set to 1.5" label
COLORS = {"recon": "#1f77b4", "kl": "#ff7f0e", "elbo": "#2ca02c", "val": "#145214",
          "beta": "#555555", "active": "#1f77b4", "unused": "#c7c7c7"}
# Ten classes told apart without relying on hue alone: Paul Tol's colour-blind safe "muted"
# scheme (its nine colours, then dark grey) and a marker shape per class as a second channel.
CLASS_COLORS = ["#332288", "#CC6677", "#117733", "#DDCC77", "#88CCEE", "#882255", "#44AA99",
                "#999933", "#AA4499", "#4D4D4D"]
CLASS_SYMBOLS = ["circle", "square", "diamond", "triangle-up", "triangle-down", "cross", "x",
                 "star", "pentagon", "hexagon"]


def prevalidated(figure: dict) -> go.Figure:
    """A figure made here, for st.plotly_chart to send without validating it again: each
    redraw of the live panel (every second, per tab watching) spent 24 of the training
    curves' 26 ms and 6 of the KL bars' 7 in plotly's validation. tests/test_charts.py
    validates every kind of figure this module makes."""
    return go.Figure(figure, _validate=False)


def class_marker(k: int) -> dict:
    """Class k's colour and shape (they repeat, offset, past ten classes)."""
    return {"color": CLASS_COLORS[k % len(CLASS_COLORS)],
            "symbol": CLASS_SYMBOLS[(k + k // len(CLASS_COLORS)) % len(CLASS_SYMBOLS)]}


def _light_template() -> dict:
    """plotly_white's look for the traces drawn here (lines, bars, heatmaps, WebGL dots): a
    figure copies its whole template as it is validated, and all of plotly_white (its geo,
    3-D and ternary defaults among them) took 19 ms a figure, where this takes 3-6 ms."""
    white = pio.templates["plotly_white"].to_plotly_json()
    return {"layout": {k: v for k, v in white["layout"].items()
                       if k not in ("polar", "ternary", "scene", "geo", "shapedefaults",
                                    "annotationdefaults")},
            "data": {k: white["data"][k] for k in ("bar", "heatmap", "scatter", "scattergl")}}


TEMPLATE = _light_template()


# Characters a large title keeps on a line: plotly never wraps a title, and in a half-width
# column on a 1024-px projector a longer line ran under the chart's edge. A chart as wide as
# the page keeps twice as many.
LARGE_TITLE_LINE = 30


def figure_layout(title: str, large: bool, height: int, *, line: int = LARGE_TITLE_LINE,
                  **extra) -> dict:
    lines = textwrap.wrap(title, line) if large else [title]
    return {
        "title": {"text": "<br>".join(lines), "font": {"size": 24 if large else 17}},
        "font": {"size": 18 if large else 13}, "height": int(height * (1.3 if large else 1)),
        "margin": {"l": 70, "r": 30, "t": 30 + 30 * len(lines), "b": 60}, "template": TEMPLATE,
        "legend": {"orientation": "h", "yanchor": "bottom", "y": 1.02, "xanchor": "right",
                   "x": 1},
        **extra,
    }


def _thin(records: list[dict]) -> list[dict]:
    """At most MAX_POINTS records, evenly spaced, always keeping the last."""
    if len(records) <= MAX_POINTS:
        return records
    stride = -(-len(records) // MAX_POINTS)
    return records[::stride] + ([records[-1]] if (len(records) - 1) % stride else [])


def _grouped(changes: list[dict], gap: float) -> list[dict]:
    """β changes closer than `gap` steps to the previous one merged, keeping the last value."""
    groups: list[dict] = []
    for change in sorted(changes, key=lambda c: c["step"]):
        if groups and change["step"] - groups[-1]["step"] <= gap:
            groups[-1] = change
        else:
            groups.append(change)
    return groups


# The training panels, top to bottom: (key, axis title, share of the height); each term on
# an axis of its own, so the KL's few nats are not flattened under the ELBO's hundreds.
PANELS = (("elbo", "ELBO: higher is better", 0.33),
          ("recon", "reconstruction E[log p(x|z)]: higher is better", 0.19),
          ("kl", "KL: the code's cost in nats, lower raises the ELBO", 0.19), ("beta", "β", 0.1))
PANEL_GAP = 0.06
KL_FLOOR = 1.0  # nats: the least height of the KL-per-dimension chart


def training_curves(steps: list[dict], epochs: list[dict], beta_changes: list[dict], *,
                    total_steps: int = 0, large: bool = False) -> dict:
    """Per step, each on its own axis: the ELBO (validation ELBO per epoch beside it), the
    reconstruction term E[log p(x|z)] and the KL (β = 1 terms, docs/design.md §3), then β, with
    a dotted line across all where β was set by hand."""
    points = _thin(steps)
    x = [r["step"] for r in points]
    width = 3 if large else 2
    last = max(total_steps, x[-1] if x else 0, 1)
    names = {"elbo": "ELBO = reconstruction − KL", "recon": "reconstruction E[log p(x|z)]",
             "kl": "KL(q(z|x) ‖ p(z))", "beta": "β"}
    data, axes, titles, top = [], {}, [], 1.0
    for i, (key, title, share) in enumerate(PANELS):
        n = "" if i == 0 else str(i + 1)
        axes[f"yaxis{n}"] = {"anchor": "x", "domain": [round(top - share, 4), round(top, 4)]}
        # Above its panel, level: a rotated axis title was longer than the panel is high.
        titles.append({"text": f"<b>{title}</b>", "x": 0, "y": 1, "xref": "paper",
                       "yref": f"y{n} domain", "xanchor": "left", "yanchor": "bottom",
                       "showarrow": False})
        top -= share + PANEL_GAP
        data.append({"type": "scatter", "mode": "lines", "x": x, "y": [r[key] for r in points],
                     "name": names[key], "yaxis": f"y{n}", "showlegend": key != "beta",
                     "line": {"color": COLORS[key], "width": width,
                              **({"shape": "hv"} if key == "beta" else {})}})
    if epochs:
        data.append({"type": "scatter", "mode": "markers", "name": "validation ELBO",
                     "x": [e["step"] for e in epochs], "y": [e["val_elbo"] for e in epochs],
                     "marker": {"color": COLORS["val"], "size": 10 if large else 7,
                                "symbol": "diamond"}})
    beta_axis = f"yaxis{len(PANELS)}"
    betas = [r["beta"] for r in points]
    axes[beta_axis]["range"] = [0, 1.2 * max([*betas, *(c["beta"] for c in beta_changes), 1e-3])]
    shapes = [{"type": "line", "x0": c["step"], "x1": c["step"], "xref": "x", "y0": 0,
               "y1": 1, "yref": "paper", "line": {"color": "#444", "dash": "dot", "width": 1}}
              for c in beta_changes]
    # One label per burst of changes (a slider moved key by key), spaced so labels never meet.
    labels = [{"x": c["step"], "y": 1, "xref": "x", "yref": f"y{len(PANELS)} domain",
               "yanchor": "top", "xanchor": "left", "showarrow": False,
               "text": f" {'continued at β =' if c.get('continued') else 'β set to'} "
                       f"{c['beta']:g}"}
              for c in _grouped(beta_changes, LABEL_GAP * last)]
    layout = figure_layout(
        "Training curves (β = 1 terms, nats)", large, 600,
        xaxis={"title": {"text": "training step"}, "range": [0, last],
               "anchor": f"y{len(PANELS)}"},
        shapes=shapes, annotations=titles + labels, **axes)
    layout["legend"] = {"orientation": "h", "yanchor": "top", "y": -0.12, "x": 0,
                        "xanchor": "left"}
    layout["margin"] = {**layout["margin"], "b": 110}
    return {"data": data, "layout": layout}


def kl_bars(kl_per_dim: list[float], active: set[int], *, large: bool = False) -> dict:
    """KL per latent dimension (docs/design.md §3), dimensions in use coloured, unused ones grey."""
    data = []
    for name, used in (("in use", True), ("unused", False)):
        dims = [j for j in range(len(kl_per_dim)) if (j in active) == used]
        data.append({"type": "bar", "name": name, "x": [dimension_name(j) for j in dims],
                     "y": [kl_per_dim[j] for j in dims],
                     "marker": {"color": COLORS["active" if used else "unused"]},
                     "hovertemplate": "%{x}: %{y:.3f} nats<extra></extra>"})
    order = [dimension_name(j) for j in range(len(kl_per_dim))]
    return {"data": data, "layout": figure_layout(
        "KL per latent dimension (validation)", large, 340, barmode="overlay", showlegend=True,
        xaxis={"title": {"text": "latent dimension"}, "type": "category",
               "categoryorder": "array", "categoryarray": order},
        # At least 0 to KL_FLOOR nats: a collapsed code's few thousandths stay flat, as they are.
        yaxis={"title": {"text": "KL (nats)"},
               "range": [0, max(KL_FLOOR, 1.1 * max(kl_per_dim, default=0))]})}


def latent_map(points: np.ndarray, labels: np.ndarray | None, class_names: list[str],
               axis_titles: tuple[str, str], *, extent: float | None = None,
               large: bool = False) -> dict:
    """A scatter of 2-D codes coloured by class; `extent` fixes both axes to ±extent."""
    groups = [(None, np.arange(len(points)))] if labels is None else [
        (int(k), np.flatnonzero(labels == k)) for k in np.unique(labels)]
    data = []
    for k, index in groups:
        name = "codes" if k is None else (class_names[k] if k < len(class_names) else str(k))
        name = html.escape(name)  # class names can be user text; plotly reads tags in labels
        data.append({"type": "scattergl", "mode": "markers", "name": name,
                     "x": points[index, 0].tolist(), "y": points[index, 1].tolist(),
                     "marker": {"size": 8 if large else 6, "opacity": 0.8,
                                **class_marker(k or 0)}})
    axis_range = None if extent is None else [-extent, extent]
    layout = figure_layout("Latent map of validation images", large, 420,
                     xaxis={"title": {"text": axis_titles[0]}, "range": axis_range},
                     yaxis={"title": {"text": axis_titles[1]}, "range": axis_range})
    layout["legend"] = {"orientation": "v", "x": 1.02, "xanchor": "left", "y": 1}
    return {"data": data, "layout": layout}


def code_lengths(t: np.ndarray, lengths: dict[str, np.ndarray], large: bool = False) -> dict:
    """The length ‖z‖ of the code along each interpolation path (Interpolate's expander)."""
    traces = [{"type": "scatter", "x": list(map(float, t)), "y": list(map(float, y)),
               "mode": "lines+markers", "name": name} for name, y in lengths.items()]
    return {"data": traces, "layout": {
        "height": 420 if large else 320, "font": {"size": 22 if large else 14},
        "xaxis": {"title": {"text": "t"}}, "yaxis": {"title": {"text": "‖z‖ (length of the code)"}},
        "margin": {"l": 10, "r": 10, "t": 30, "b": 10}}}
