"""Plotly figures of the disentanglement lab, as plain dicts (see ui/charts.py): the
rate-distortion plane of a sweep, where each model's KL goes, and the latent x factor MI
heatmap. They take rows and matrices and know nothing of checkpoints."""

from __future__ import annotations

import html

from ui.charts import LARGE_TITLE_LINE, figure_layout
from vae.disentanglement import METRICS
from vae.latent import dimension_name

SELECTED = "#d62728"
PARTS = (("mutual_information", "index-code MI", "#1f77b4"),
         ("total_correlation", "total correlation", "#ff7f0e"),
         ("dimension_wise_kl", "dimension-wise KL", "#2ca02c"))


def _score(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def _beta(row: dict) -> str:
    return f"β = {_short_beta(row)}"


def _short_beta(row: dict) -> str:
    """A beta as a small panel's tick label: '4', '12 TC'."""
    return f"{row['beta']:g}" + (" TC" if row["objective"] == "betatcvae" else "")


def _hover(r: dict) -> str:
    return (f"<b>{html.escape(r['name'])}</b><br>{_beta(r)}, seed {r['seed']}<br>rate "
            f"{r['rate']:.2f} nats, distortion {r['distortion']:.2f} nats<br>MIG "
            f"{_score(r['mig'])}, SAP {_score(r['sap'])} (R² {_score(r['sap_continuous'])}), "
            f"FactorVAE {_score(r['factor_vae'])}<br>DCI "
            f"D {_score(r['dci_disentanglement'])} C {_score(r['dci_completeness'])} "
            f"I {_score(r['dci_informativeness'])}")


def rate_distortion_plane(rows: list[dict], summary: list[dict], selected: str, *,
                          large: bool = False) -> dict:
    """Each beta a point at its mean (rate, distortion) over seeds (`summary`, sweep.spread's),
    with one standard deviation each way where there are several, labelled and joined in beta
    order; every model faint behind, the selected one ringed; hover shows a model's scores."""
    size = 16 if large else 11
    seeded = any(len(e["seeds"]) > 1 for e in summary)
    means = {"type": "scatter", "mode": "lines+markers+text", "name": "β",
             "x": [e["rate"]["mean"] for e in summary],
             "y": [e["distortion"]["mean"] for e in summary],
             "text": [_beta(e) for e in summary], "cliponaxis": False,
             # alternate sides, so that neighbouring labels do not print over each other
             "textposition": ["top right" if i % 2 else "bottom left"
                              for i in range(len(summary))],
             "marker": {"size": size, "color": "#1f77b4"}, "line": {"color": "#9ecae1"}}
    if seeded:
        means |= {"hovertemplate": "%{text}: mean of its seeds<extra></extra>",
                  "error_x": {"array": [e["rate"]["sd"] for e in summary], "thickness": 2},
                  "error_y": {"array": [e["distortion"]["sd"] for e in summary],
                              "thickness": 2}}
        models = [{"type": "scatter", "mode": "markers", "name": "models",
                   "x": [r["rate"] for r in rows], "y": [r["distortion"] for r in rows],
                   "hovertext": [_hover(r) for r in rows], "hoverinfo": "text",
                   "marker": {"size": size * 0.8, "color": "#1f77b4", "opacity": 0.3}}]
    else:  # one model a beta: the mean is the model
        by_beta = sorted(rows, key=lambda r: (r["beta"], r["objective"]))
        means |= {"hovertext": [_hover(r) for r in by_beta], "hoverinfo": "text"}
        models = []
    data = [*models, means]
    chosen = [r for r in rows if r["name"] == selected]
    if chosen:
        data.append({"type": "scatter", "mode": "markers", "name": "selected",
                     "x": [chosen[0]["rate"]], "y": [chosen[0]["distortion"]],
                     "hoverinfo": "skip", "marker": {"size": size * 2.2, "color": "rgba(0,0,0,0)",
                                                     "line": {"color": SELECTED, "width": 3}}})
    title = ("Rate–distortion, mean ± sd over seeds" if seeded
             else "Rate–distortion: what each β pays for its code")
    return {"data": data, "layout": figure_layout(
        title, large, 380, showlegend=False,
        xaxis={"title": {"text": "rate = KL (nats)"}, "rangemode": "tozero"},
        yaxis={"title": {"text": "distortion = −E[log p(x|z)] (nats)"}})}


def score_multiples(rows: list[dict], summary: list[dict], panels: dict[str, str], *,
                    large: bool = False, columns: int = 4) -> dict:
    """One small panel per score (`panels`: key -> title; scores run from 0 to 1, any other
    key, such as the ELBO, on its own scale) against beta, so a class sees which scores agree:
    the means over seeds joined in beta order (`summary`, sweep.spread's) and, where a beta
    has several seeds, a box of them with every seed a point (hover names the model)."""
    rows = sorted(rows, key=lambda r: (r["beta"], r["objective"], r["seed"]))
    seeded = any(len(e["seeds"]) > 1 for e in summary)
    grid = -(-len(panels) // columns)
    gap_x, gap_y = 0.05, 0.22
    width, height = (1 - gap_x * (columns - 1)) / columns, (1 - gap_y * (grid - 1)) / grid
    data, axes, titles = [], {}, []
    for i, (key, title) in enumerate(panels.items()):
        n = "" if i == 0 else str(i + 1)
        left = round((i % columns) * (width + gap_x), 4)
        top = round(1 - (i // columns) * (height + gap_y), 4)
        score = key in METRICS
        axes[f"xaxis{n}"] = {"domain": [left, round(left + width, 4)], "anchor": f"y{n}",
                             "type": "category", "tickangle": 0}
        axes[f"yaxis{n}"] = {"domain": [round(top - height, 4), top], "anchor": f"x{n}",
                             **({"range": [0, 1.05]} if score else {})}
        titles.append({"text": f"<b>{title}</b> ↑", "x": left + width / 2, "y": top,
                       "xref": "paper", "yref": "paper", "xanchor": "center",
                       "yanchor": "bottom", "showarrow": False})
        on = {"xaxis": f"x{n}", "yaxis": f"y{n}", "showlegend": False}
        value = "%{y:.2f}" if score else "%{y:.1f}"  # a non-score's unit is in its title
        means = [e for e in summary if e[key]["mean"] is not None]
        data.append({"type": "scatter", "mode": "lines+markers", **on,
                     "x": [_short_beta(e) for e in means], "y": [e[key]["mean"] for e in means],
                     "line": {"color": "#1f77b4"}, "marker": {"size": 7, "color": "#1f77b4"},
                     "hovertemplate": f"{title} at β = %{{x}}: {value}"
                                      f"{', mean of its seeds' if seeded else ''}"
                                      "<extra></extra>"})
        if seeded:
            scored = [r for r in rows if r.get(key) is not None]
            data.append({"type": "box", **on, "x": [_short_beta(r) for r in scored],
                         "y": [r[key] for r in scored], "boxpoints": "all", "jitter": 0.3,
                         "pointpos": 0, "fillcolor": "rgba(31, 119, 180, 0.1)",
                         "line": {"color": "#9ecae1"}, "marker": {"color": "#1f77b4",
                                                                   "opacity": 0.5},
                         "text": [f"{r['name']} (seed {r['seed']})" for r in scored],
                         "hovertemplate": f"{title}: {value}<br>%{{text}}<extra></extra>"})
    what = ("the line joins the means over seeds, a box shows each β's seeds" if seeded
            else "one model per β")
    layout = figure_layout(f"Every score against β, higher is better ({what})", large,
                           250 * grid, line=2 * LARGE_TITLE_LINE, annotations=titles, **axes)
    # The first row's panel titles sit between the chart's title and its plots.
    layout["margin"] = {"l": 50, "r": 20, "t": layout["margin"]["t"] + 30, "b": 70}
    return {"data": data, "layout": layout}


def kl_split_bars(rows: list[dict], selected: str, *, large: bool = False) -> dict:
    """Stacked bars per model: the average KL split into index-code MI, total correlation and
    dimension-wise KL; the selected model's bars outlined."""
    rows = sorted(rows, key=lambda r: (r["beta"], r["objective"], r["seed"]))
    seeded = len({(r["beta"], r["objective"]) for r in rows}) < len(rows)
    labels = [_beta(r) + (f" s{r['seed']}" if seeded else "") for r in rows]
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
    data = [{"type": "heatmap", "z": z, "x": names, "y": [dimension_name(j) for j in dims],
             "zmin": 0, "zmax": 1, "colorscale": "Blues",
             "colorbar": {"title": {"text": "MI / H(factor)"}},
             "text": [[f"{v:.2f}" for v in row] for row in z], "texttemplate": "%{text}",
             "hovertemplate": "%{y} and %{x}: %{z:.2f}<extra></extra>"}]
    return {"data": data, "layout": figure_layout(
        "Mutual information, dimension × factor", large, 120 + 32 * len(dims),
        xaxis={"title": {"text": "factor"}, "side": "bottom"},
        yaxis={"title": {"text": "dimension (most KL on top)"}, "autorange": "reversed",
               "type": "category"})}
