"""Plotly figures of the disentanglement lab, as plain dicts (see ui/charts.py): the
rate-distortion plane of a sweep, where each model's KL goes, and the latent x factor MI
heatmap. They take rows and matrices and know nothing of checkpoints."""

from __future__ import annotations

import html

from ui.charts import figure_layout

SELECTED = "#d62728"
PARTS = (("mutual_information", "index-code MI", "#1f77b4"),
         ("total_correlation", "total correlation", "#ff7f0e"),
         ("dimension_wise_kl", "dimension-wise KL", "#2ca02c"))


def _score(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def _beta(row: dict) -> str:
    return f"β = {row['beta']:g}" + (" TC" if row["objective"] == "betatcvae" else "")


def rate_distortion_plane(rows: list[dict], selected: str, *, large: bool = False) -> dict:
    """Each model a point at (rate, distortion), labelled by beta and joined in beta order;
    the selected one ringed; hover shows its scores."""
    rows = sorted(rows, key=lambda r: (r["beta"], r["objective"]))
    hover = [f"<b>{html.escape(r['name'])}</b><br>{_beta(r)}<br>rate {r['rate']:.2f}"
             f" nats, distortion {r['distortion']:.2f} nats<br>MIG {_score(r['mig'])}, "
             f"SAP {_score(r['sap'])} (R² {_score(r['sap_continuous'])}), "
             f"FactorVAE {_score(r['factor_vae'])}<br>DCI "
             f"D {_score(r['dci_disentanglement'])} C {_score(r['dci_completeness'])} "
             f"I {_score(r['dci_informativeness'])}" for r in rows]
    size = 16 if large else 11
    data = [{"type": "scatter", "mode": "lines+markers+text", "name": "models",
             "x": [r["rate"] for r in rows], "y": [r["distortion"] for r in rows],
             "text": [_beta(r) for r in rows], "cliponaxis": False,
             # alternate sides, so that neighbouring labels do not print over each other
             "textposition": ["top right" if i % 2 else "bottom left" for i in range(len(rows))],
             "hovertext": hover, "hoverinfo": "text",
             "marker": {"size": size, "color": "#1f77b4"}, "line": {"color": "#9ecae1"}}]
    chosen = [r for r in rows if r["name"] == selected]
    if chosen:
        data.append({"type": "scatter", "mode": "markers", "name": "selected",
                     "x": [chosen[0]["rate"]], "y": [chosen[0]["distortion"]],
                     "hoverinfo": "skip", "marker": {"size": size * 2.2, "color": "rgba(0,0,0,0)",
                                                     "line": {"color": SELECTED, "width": 3}}})
    return {"data": data, "layout": figure_layout(
        "Rate–distortion: what each β pays for its code", large, 380, showlegend=False,
        xaxis={"title": {"text": "rate = KL (nats)"}, "rangemode": "tozero"},
        yaxis={"title": {"text": "distortion = −E[log p(x|z)] (nats)"}})}


def kl_split_bars(rows: list[dict], selected: str, *, large: bool = False) -> dict:
    """Stacked bars per model: the average KL split into index-code MI, total correlation and
    dimension-wise KL; the selected model's bars outlined."""
    rows = sorted(rows, key=lambda r: (r["beta"], r["objective"]))
    labels = [_beta(r) for r in rows]
    outline = [3 if r["name"] == selected else 0 for r in rows]
    data = [{"type": "bar", "name": title, "x": labels,
             "y": [r["kl_decomposition"][key] for r in rows],
             "marker": {"color": color, "line": {"width": outline, "color": SELECTED}},
             "hovertemplate": f"{title}: %{{y:.2f}} nats<extra></extra>"}
            for key, title, color in PARTS]
    return {"data": data, "layout": figure_layout(
        "Where the KL goes", large, 420, barmode="stack",
        # below the bars: three names wrap in a half-width column and ran into the title
        legend={"orientation": "h", "yanchor": "top", "y": -0.28, "xanchor": "left", "x": 0},
        margin={"l": 70, "r": 30, "t": 60, "b": 120},
        xaxis={"title": {"text": "model"}, "type": "category"},
        yaxis={"title": {"text": "nats"}, "rangemode": "tozero"})}


def mi_heatmap(matrix: list[list[float]], dims: list[int], factor_names: list[str], *,
               large: bool = False) -> dict:
    """Normalized mutual information of each latent dimension (rows, in the order given, most
    KL first) with each factor (columns), 0 to 1."""
    z = [[matrix[j][k] for k in range(len(factor_names))] for j in dims]
    names = [html.escape(n) for n in factor_names]
    data = [{"type": "heatmap", "z": z, "x": names, "y": [f"z{j}" for j in dims],
             "zmin": 0, "zmax": 1, "colorscale": "Blues",
             "colorbar": {"title": {"text": "MI / H(factor)"}},
             "text": [[f"{v:.2f}" for v in row] for row in z], "texttemplate": "%{text}",
             "hovertemplate": "%{y} and %{x}: %{z:.2f}<extra></extra>"}]
    return {"data": data, "layout": figure_layout(
        "Mutual information, dimension × factor", large, 120 + 32 * len(dims),
        xaxis={"title": {"text": "factor"}, "side": "bottom"},
        yaxis={"title": {"text": "dimension (most KL on top)"}, "autorange": "reversed",
               "type": "category"})}
