"""Disentanglement lab: step through a β sweep, see what each dimension encodes and what it
costs, and compare any two models side by side."""

import streamlit as st

from ui import lab, render, state
from ui.lab_charts import kl_split_bars, mi_heatmap, rate_distortion_plane, score_multiples
from ui.latent_views import traversal_rows
from vae import checkpoints, sweep
from vae.derived import cached_metrics
from vae.disentanglement import METRICS

POLL_S = 1.0
ROWS = 6  # traversal rows: the dimensions with most KL
PRESENTED_ROWS = 4  # as many as an 800-px-high projector shows with their caption
MEDIAN = "median member (by MIG)"
VIEW, SCORES = "view", "scores"  # ?view=scores: the scores against β come first (the lesson)
# The scores whose seed spread the reading weighs against beta: one of each metric.
SPREAD_SCORES = {"mig": "MIG", "sap": "SAP", "factor_vae": "FactorVAE",
                 "dci_disentanglement": "DCI disentanglement"}
# The small multiples: the ELBO and every score.
PANELS = {"elbo": "ELBO (nats)", "mig": "MIG", "sap": "SAP", "sap_continuous": "SAP (R²)",
          "factor_vae": "FactorVAE", "dci_disentanglement": "DCI disentanglement",
          "dci_completeness": "DCI completeness", "dci_informativeness": "DCI informativeness"}

render.heading("Disentanglement lab", 1)
render.explain(
    "A β-VAE weights the KL term by β. Raising β squeezes the code: fewer dimensions stay in "
    "use, and each tends to follow one generative factor (x, y, scale...), at the price of "
    "blurrier reconstructions. The **β slider** steps through models trained alike but for β; "
    "the **rate–distortion plane** shows the price; the **heatmap** shows which factor each "
    "dimension carries (mutual information over the factor's entropy: 1 = the dimension "
    "determines the factor). Every score runs from 0 to 1, higher being better:\n\n"
    + "\n".join(f"- **{METRICS[key]}**: {text}" for key, text in lab.SCORE_MEANINGS.items()),
    r"\mathcal{L}_\beta = \mathbb{E}_{q}[\log p(x\mid z)] - \beta\,\mathrm{KL}(q(z\mid x)\,"
    r"\Vert\,p(z)),\qquad \overline{\mathrm{KL}} = I(x;z) + \mathrm{TC}(z) + "
    r"\textstyle\sum_j \mathrm{KL}(q(z_j)\,\Vert\,p(z_j))")

models = [c for c in state.model_list() if not c.config["model"]["num_classes"]]
sweeps = sweep.find_sweeps(models)

if not render.presentation():  # the β slider says it on a projector, where height is short
    render.heading("β sweep")
if not sweeps:
    st.info("No β sweep is here yet: start one at the bottom of this page, or with "
            "`python -m vae sweep`.")
else:
    names = list(sweeps)
    chosen = st.selectbox("Sweep", names, key="lab_sweep") if len(names) > 1 else names[0]
    members = sweeps[chosen]
    groups = sweep.by_beta(members)
    presenting = render.presentation()
    rows = sweep.rate_distortion(members, compute=False)
    summary = sweep.spread(rows)
    scores_first = st.query_params.get(VIEW) == SCORES

    def score_chart() -> None:
        if rows:
            st.plotly_chart(score_multiples(rows, summary, PANELS, large=presenting),
                            width="stretch", theme=None)

    # On a projector the traversals start beside the controls, high enough to fit the screen,
    # unless the scores come first, under the controls.
    beside = presenting and not scores_first
    left, right = st.columns([1, 1], gap="large") if beside else (None, None)
    beta_column, seed_column = (right, right) if beside else st.columns(
        [3, 2], gap="large", vertical_alignment="bottom")
    at = beta_column.select_slider(
        "β", options=range(len(groups)), value=min(len(groups) - 1, 2),
        format_func=lambda i: sweep.member_label(groups[i][0]), key="lab_beta",
        help="Step through the sweep: every panel follows.")
    group = groups[at]
    pick = MEDIAN
    if len(group) > 1:  # a study: several seeds of this beta
        pick = seed_column.radio(
            "Seed", [MEDIAN, *(f"seed {sweep.seed_of(m)}" for m in group)], horizontal=True,
            key="lab_seed", help="Which of this β's models the traversals and the heatmap show.")

    def shown_of(group: list[checkpoints.Checkpoint]) -> checkpoints.Checkpoint:
        """The member of a beta's group the seed pick shows: its median or that seed."""
        if pick == MEDIAN:
            return sweep.median_member(group, {m.name: (cached_metrics(m) or {}).get("mig")
                                               for m in group})
        return next((m for m in group if f"seed {sweep.seed_of(m)}" == pick), group[0])

    member = shown_of(group)
    if scores_first:
        with st.container(key="picture"):
            score_chart()
    queue = [member, *(m for m in members if m is not member)]  # the one on screen first
    progress = [state.request_metrics(m) for m in queue]
    done = sum(p.state in ("ready", "failed") for p in progress)
    if done < len(queue):
        lab.metrics_progress(queue, done)
    for m, p in zip(queue, progress, strict=True):
        if p.state == "failed":
            st.error(f"The metrics of {render.escape(m.name)} could not be computed "
                     f"({render.escape(p.message)}).")

    metrics = cached_metrics(member)
    model, _ = state.load(member.path)
    health = state.test_evaluation(str(member.path), member.key)
    dims = lab.dims_by_kl(health["kl_per_dim"])
    if not beside:
        left, right = st.columns([1, 1], gap="large")
    with left:
        render.heading(f"Traversals of {render.escape(member.name)}", 3)  # a name is user text
        # On a projector the rows come first and fewer, so they fit the first screen.
        shown = dims[:PRESENTED_ROWS if presenting else ROWS]
        if beside:
            rows_box, input_box = st.container(key="picture"), st.container()
        else:
            input_box, rows_box = st.container(), st.container(
                key=None if scores_first else "picture")
        with input_box:
            z = lab.input_code(member, key="lab_input")
        with rows_box:
            traversal_rows(model, z, shown, width=420, fixed="at the input's code",
                           names=[lab.dimension_label(metrics, j) for j in shown])
    with right:
        render.heading("What each dimension encodes", 3)
        if metrics is None:
            st.info("The metrics of this model are being computed in the background.")
        else:
            st.plotly_chart(mi_heatmap(metrics["mi_matrix"], dims, metrics["factor_names"],
                                       large=render.presentation()), width="stretch", theme=None)
            earlier = cached_metrics(shown_of(groups[at - 1])) if at else None
            before = (f"β = {sweep.member_label(groups[at - 1][0])}", earlier) if earlier else None
            for line in lab.plain_reading(metrics, dims, before):
                st.text(line)
            st.table(lab.score_table(metrics), hide_index=True)

    measured = [r for r in rows if r["mig"] is not None]
    plane, split = st.columns(2, gap="large")
    if rows:
        plane.plotly_chart(rate_distortion_plane(rows, summary, member.name,
                                                 large=render.presentation()),
                           width="stretch", theme=None)
        render.download_button(plane, "Download the table (CSV)", data=sweep.table_csv(rows),
                               file_name=f"{chosen}-rate-distortion.csv", mime="text/csv",
                               icon=":material/download:")
    decomposed = [{**r, "kl_decomposition": cached_metrics(m)["kl_decomposition"]}
                  for m in members for r in measured if r["name"] == m.name]
    if decomposed:
        split.plotly_chart(kl_split_bars(decomposed, member.name, large=render.presentation()),
                           width="stretch", theme=None)
    if not scores_first:
        score_chart()
    if len(groups) < len(members):  # seeds: can they tell two betas apart, score by score?
        render.heading("Seeds against β", 3)
        lines = sweep.seed_spread_readings(summary, SPREAD_SCORES)
        for line in lines or ["At every two neighbouring β values, each score's means differ "
                              "by more than either β's seeds spread: the differences between "
                              "β values stand out of the seeds' spread."]:
            st.text(line)

render.heading("A/B comparison")
lab.ab_comparison(models)

render.heading("Start a sweep")
lab.sweep_form()
