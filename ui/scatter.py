"""Plotly scatter maps of latent codes, readable on a projector: labelled axes, a legend."""

from __future__ import annotations

import html

import numpy as np
import plotly.graph_objects as go

from ui.charts import class_marker

# Above this many points the browser draws with WebGL: SVG gets sluggish.
WEBGL_FROM = 1500


def latent_map(coords: np.ndarray, axes: tuple[str, str], *, groups: np.ndarray | None = None,
               group_names: list[str] | None = None, values: np.ndarray | None = None,
               colour_title: str = "", marked: int | None = None,
               large: bool = False) -> go.Figure:
    """One dot per code at `coords` (n, 2), carrying its index as customdata.

    Colour by `groups` (ints, named by `group_names`, one legend entry each) or by continuous
    `values` (a colour bar), or neither; `marked` rings one point.
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
    # Sizes set on each part: Streamlit's chart theme overrides the layout-wide font.
    fig.update_layout(
        height=720 if large else 600, font=font, margin={"l": 10, "r": 10, "t": 30, "b": 10},
        legend={"itemsizing": "constant", "font": font,
                "title": {"text": html.escape(colour_title), "font": font}})
    for axis, title in (fig.layout.xaxis, axes[0]), (fig.layout.yaxis, axes[1]):
        axis.update(title={"text": title, "font": font}, tickfont=font)
    return fig
