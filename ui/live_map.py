"""The Train page's live latent map: while a run trains, the codes of a fixed sample of
validation images under its newest weight snapshot, redrawn as snapshots arrive (as GAN Lab
shows its generator's output space live), not only in the timeline afterwards.

The live panel redraws every second, so nothing here is computed per redraw: a snapshot's
codes are the timeline's pictures of that step (`runs.snapshot_pictures`, encoded once per
snapshot and shared with the timeline and every tab), and its figure is validated once.
"""

from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st

from ui import charts, render, runs


@st.cache_resource(max_entries=16, show_spinner=False)
def _figure(key: str, large: bool, _pics: runs.Pictures) -> go.Figure:
    """The timeline's map of one snapshot as a validated figure: st.plotly_chart validates a
    dict on every call (about 8 ms for 500 points, every second per tab), a Figure never."""
    return go.Figure(charts.latent_map(_pics.codes, _pics.labels, _pics.class_names,
                                       _pics.axis_titles, extent=_pics.extent, large=large))


def _axes(pics: runs.Pictures) -> str:
    if pics.extent is not None:
        across, up = pics.axis_titles
        return f"{across} across, {up} up, fixed at ±{pics.extent:g}"
    # The timeline's projection, refit per snapshot: an honest picture of each snapshot, its
    # axes ordered and signed as the map before it (ui/runs.py), but free to turn.
    return ("this snapshot's PCA, as in the timeline, refit at each snapshot with its axes "
            "ordered and signed as the map before, so the cloud stays put unless the codes "
            "themselves turn")


def show(run: runs.Run) -> None:
    """The map under the run's newest snapshot, or a line saying when it will appear."""
    shots = runs.snapshots(run)
    if not shots:
        st.caption("The latent map appears with the run's first weight snapshot.")
        return
    step = max(shots)
    pics = runs.snapshot_pictures(run, step, shots[step])
    if pics is None:
        return
    st.plotly_chart(_figure(f"{run.job.id}:{step}", render.presentation(), pics),
                    key=f"live_map_{run.job.id}", config={"displayModeBar": False})
    st.caption(f"Step {step}, snapshot {len(shots)}, redrawn as each arrives: the posterior "
               f"means of {len(pics.codes)} fixed validation images. Axes: {_axes(pics)}.")
