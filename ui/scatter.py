"""Plotly scatter maps of latent codes, readable on a projector: labelled axes, a legend."""

from __future__ import annotations

import html

import numpy as np
import plotly.graph_objects as go

from ui.charts import class_marker
from vae.latent import Posteriors

# Above this many points the browser draws with WebGL: SVG gets sluggish.
WEBGL_FROM = 1500
RING_CAPTION = "Each ring: where the encoder puts one test image, ±1σ."


def posterior_rings(handful: Posteriors, class_names: list[str]) -> list[dict]:
    """Each posterior of `handful` as a ring μ ± σ (docs/design.md §3, posteriors): its centre,
    radii, colour (its class's, as the map's dots) and name (its class, or its number)."""
    rows = []
    for i, index in enumerate(handful.index):
        label = None if handful.label is None else int(handful.label[i])
        rows.append({
            "index": int(index), "mean": [round(float(v), 4) for v in handful.mean[i]],
            "sd": [round(float(v), 4) for v in handful.sd[i]],
            "colour": class_marker(i if label is None else label)["color"],
            "name": (str(class_names[label]) if label is not None and label < len(class_names)
                     else f"test image #{index}")})
    return rows


def latent_map(coords: np.ndarray, axes: tuple[str, str], *, groups: np.ndarray | None = None,
               group_names: list[str] | None = None, values: np.ndarray | None = None,
               colour_title: str = "", marked: int | None = None,
               rings: list[dict] | None = None, large: bool = False) -> go.Figure:
    """One dot per code at `coords` (n, 2), carrying its index as customdata.

    Colour by `groups` (ints, named by `group_names`, one legend entry each) or by continuous
    `values` (a colour bar), or neither; `marked` rings one point; `rings` (posterior_rings, in
    the same coordinates) are drawn as ellipses μ ± σ with a cross at each centre.
    """
    index = np.arange(len(coords))
    scatter = go.Scattergl if len(coords) >= WEBGL_FROM else go.Scatter
    size = 11 if large else 7
    font = {"size": 22 if large else 15}
    fig = go.Figure()
    if groups is not None:
        for k, name in enumerate(group_names):
            members = index[groups == k]
            if not len(members):
                continue
            # Names may come from user files: plotly would read tags in them.
            label = html.escape(str(name))
            fig.add_trace(scatter(
                x=coords[members, 0], y=coords[members, 1], mode="markers", name=label,
                customdata=members, marker={"size": size, **class_marker(k)},
                hovertemplate=f"#%{{customdata}} · {label}<extra></extra>"))
    else:
        marker = {"size": size}
        if values is not None:
            marker |= {"color": values, "colorscale": "Viridis", "showscale": True,
                       "colorbar": {"title": {"text": html.escape(colour_title), "font": font},
                                    "tickfont": font}}
        fig.add_trace(scatter(x=coords[:, 0], y=coords[:, 1], mode="markers", customdata=index,
                              marker=marker, showlegend=False,
                              hovertemplate="#%{customdata}<extra></extra>"))
    if marked is not None:
        # No customdata: a click on the ring is not a pick of another image. Same trace type
        # as the dots, or WebGL dots would cover an SVG ring.
        fig.add_trace(scatter(
            x=coords[[marked], 0], y=coords[[marked], 1], mode="markers", name="selected",
            marker={"size": size * 3, "color": "rgba(0,0,0,0)",
                    "line": {"width": 3, "color": "black"}}, hoverinfo="skip",
            showlegend=groups is not None))  # a colour bar has the legend's place
    if rings:
        _draw_rings(fig, rings, scatter, size, shown=groups is not None)
    # Sizes set on each part: Streamlit's chart theme overrides the layout-wide font.
    fig.update_layout(
        height=470 if large else 600, font=font, margin={"l": 10, "r": 10, "t": 30, "b": 10},
        legend={"itemsizing": "constant", "font": font,
                "title": {"text": html.escape(colour_title), "font": font}})
    for axis, title in (fig.layout.xaxis, axes[0]), (fig.layout.yaxis, axes[1]):
        axis.update(title={"text": title, "font": font}, tickfont=font)
    return fig


def _draw_rings(fig: go.Figure, rings: list[dict], scatter: type, size: int, shown: bool) -> None:
    """Each ring as an ellipse shape in data coordinates (axis-aligned: the encoder's Gaussian
    is diagonal), above the dots, and a cross at its centre that names it on hover and picks
    its image on a click like a dot."""
    for ring in rings:
        (x, y), (sx, sy) = ring["mean"], ring["sd"]
        fig.add_shape(type="circle", xref="x", yref="y", x0=x - sx, x1=x + sx, y0=y - sy,
                      y1=y + sy, layer="above", fillcolor=_translucent(ring["colour"], 0.12),
                      line={"color": ring["colour"], "width": 3})
    fig.add_trace(scatter(
        x=[r["mean"][0] for r in rings], y=[r["mean"][1] for r in rings], mode="markers",
        name="±1σ ring centres", customdata=[r["index"] for r in rings], showlegend=shown,
        marker={"size": size + 3, "symbol": "x-thin", "color": "black",
                "line": {"width": 2, "color": "black"}},
        text=[html.escape(r["name"]) for r in rings],
        hovertemplate=[f"#{r['index']} · %{{text}}: μ = ({r['mean'][0]:.2f}, "
                       f"{r['mean'][1]:.2f}), σ = ({r['sd'][0]:.2f}, {r['sd'][1]:.2f})"
                       f"<extra></extra>" for r in rings]))


def _translucent(colour: str, alpha: float) -> str:
    """'#rrggbb' as an rgba() string with `alpha`."""
    red, green, blue = (int(colour[i:i + 2], 16) for i in (1, 3, 5))
    return f"rgba({red}, {green}, {blue}, {alpha})"
