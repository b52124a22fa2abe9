"""Pieces of the disentanglement lab page: the metrics' progress, plain readings of the MI
matrix, the synchronized A/B comparison and the form that starts a sweep."""

from __future__ import annotations

import numpy as np
import streamlit as st
from PIL import Image

from ui import render, session, state
from ui.latent_views import traversal_images, traversal_rows
from vae import checkpoints, sweep
from vae.derived import cached_metrics
from vae.disentanglement import METRICS, ROLE_THRESHOLD
from vae.images import frames_gif, png_of, slide
from vae.jobs import JobError
from vae.latent import dimension_name
from vae.runner import RunSpec

AB_STEPS = 7
DOWNLOAD_SCALE = 4
SWEEP_RECIPES = {  # dataset -> (preset, training defaults): the same budget for every member
    "digits": ("digits-sweep", {}),
    "shapes": ("shapes-conv", {"beta_schedule": "linear:1500"}),
}


def dims_by_kl(kl_per_dim: list[float]) -> list[int]:
    return [int(j) for j in np.argsort(kl_per_dim)[::-1]]


def _role(metrics: dict | None, j: int) -> str | None:
    if metrics is None:
        return None
    factor = metrics["roles"]["roles"].get(str(j))  # JSON keys are strings
    return None if factor is None else metrics["factor_names"][factor]


def dimension_label(metrics: dict | None, j: int) -> str:
    """'z3 · x' where the metrics say z3 mostly encodes x, else 'z3'."""
    role = _role(metrics, j)
    return dimension_name(j) if role is None else f"{dimension_name(j)} · {role}"


# What each score measures, in one sentence a class can follow; every score runs from 0 to 1,
# higher meaning more disentangled (or, for DCI informativeness, better predicted).
SCORE_MEANINGS = {
    "mig": "The gap between the two dimensions that know a factor best, as a share of the "
           "factor's information, averaged over factors: high when each factor has one "
           "dimension of its own.",
    "sap": "For each factor, how much better the best dimension alone predicts it (a linear "
           "classifier's accuracy) than the second best, averaged over factors.",
    "sap_continuous": "SAP with a linear fit's R² in place of the classifier's accuracy: suits "
                      "factors that vary smoothly, such as position.",
    "factor_vae": "How often a simple vote names which factor was held fixed in a batch of "
                  "images from the one dimension that varied least.",
    "dci_disentanglement": "How much each dimension's importance for predicting the factors "
                           "(gradient-boosted trees) falls on a single factor.",
    "dci_completeness": "How much each factor's importance falls on a single dimension.",
    "dci_informativeness": "How accurately the trees predict the factors from the code on "
                           "images they did not train on.",
}
SCORE_RANGE = "score (0 to 1, higher is better)"
MOSTLY = 0.5  # the share of a factor's entropy a dimension "mostly encodes"


def plain_reading(metrics: dict, dims: list[int],
                  before: tuple[str, dict] | None = None) -> list[str]:
    """The MI matrix in sentences, dimensions in KL order: what each dimension encodes, which
    factors are split over several dimensions (none holding most of it) or carried by none,
    and, given `before` (the previous beta's label and metrics), which factors that one did
    not carry, or did."""
    names, matrix = metrics["factor_names"], np.asarray(metrics["mi_matrix"])
    lines = [f"Dimension {dimension_name(j)} "
             f"{'mostly encodes' if matrix[j].max() >= MOSTLY else 'carries some of'} {role} "
             f"({matrix[j].max():.2f} of {role}'s entropy)."
             for j in dims if (role := _role(metrics, j))]
    for k, name in enumerate(names):
        carriers = _carriers(matrix, k, dims)
        if len(carriers) > 1 and matrix[:, k].max() < MOSTLY:
            lines.append(f"{_capital(name)} is split over {_listed(carriers)}: no single "
                         "dimension holds most of it.")
    earlier = None if before is None else np.asarray(before[1]["mi_matrix"])
    for k, name in enumerate(names):
        now = _carriers(matrix, k, dims)
        then = [] if earlier is None else _carriers(earlier, k, range(len(earlier)))
        if not now:
            lines.append(f"No dimension captures {name}" + (
                f" any more (at {before[0]}, {_listed(then)} carried it)." if then else "."))
        elif earlier is not None and not then:
            lines.append(f"{_capital(name)} is now carried by {_listed(now)} (at {before[0]}, "
                         "no dimension captured it).")
    return lines or ["No dimension carries much about any factor."]


def _carriers(matrix: np.ndarray, k: int, dims) -> list[int]:
    """The dimensions (in `dims` order) holding at least ROLE_THRESHOLD of factor k."""
    return [j for j in dims if matrix[j, k] >= ROLE_THRESHOLD]


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def _listed(dims: list[int]) -> str:
    names = [dimension_name(j) for j in dims]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def score_table(metrics: dict) -> list[dict]:
    return [{"metric": title, SCORE_RANGE: "n/a: " + metrics.get(f"{key}_reason", "undefined")
             if metrics.get(key) is None else f"{metrics[key]:.3f}",
             "what it measures": SCORE_MEANINGS[key]}
            for key, title in METRICS.items()]


def metrics_progress(members: list[checkpoints.Checkpoint], done: int) -> None:
    """A line that follows the background metrics and redraws the page as each model's
    metrics come in; `done` of them were in when the page was drawn."""
    st.session_state["lab_metrics_done"] = done

    @st.fragment(run_every=1.0)
    def poll() -> None:
        progress = [state.request_metrics(m) for m in members]
        done = sum(p.state in ("ready", "failed") for p in progress)
        if done > st.session_state["lab_metrics_done"]:
            st.rerun()
        st.progress(done / len(members), text=f"Computing the metrics in the background: "
                    f"{done} of {len(members)} models ready. The page stays usable.")

    poll()


def input_code(ckpt: checkpoints.Checkpoint, *, key: str) -> np.ndarray:
    """A test image picked by number, shown small, and the mean of its code."""
    path, key = str(ckpt.path), ckpt.key
    mu = state.encodings(path, key)["mu"]
    pick, show = st.columns([3, 1], vertical_alignment="bottom")
    index = int(pick.number_input("Input: test image number", 0, len(mu) - 1, 0, key=key,
                                  help="The traversals start from this image's code."))
    with show:
        render.show_images(state.test_images(path, key)[index:index + 1],
                           width=render.image_width(64), frame=True)
    return mu[index]


def ab_comparison(models: list[checkpoints.Checkpoint]) -> None:
    """Two models side by side with one input and one traversal: the same test image, the same
    range, each model's own dimensions (most KL first) labelled by the factor they carry."""
    by_name = {m.name: m for m in models}
    first, second = st.columns(2)
    default_a = next((n for n in by_name if n.endswith("-b1")), next(iter(by_name)))
    a = by_name[first.selectbox("Model A", list(by_name), index=list(by_name).index(default_a),
                                key="ab_a")]
    dataset = a.config["data"]["dataset"]
    partners = [n for n, m in by_name.items() if m.config["data"]["dataset"] == dataset]
    default_b = next((n for n in reversed(partners) if n != a.name), a.name)
    b = by_name[second.selectbox("Model B (same dataset as A, for a shared input)", partners,
                                 index=partners.index(default_b), key="ab_b")]
    index_col, rows_col, range_col, match_col = st.columns(4)
    mu_a = state.encodings(str(a.path), a.key)["mu"]
    index = int(index_col.number_input("Input: test image number", 0, len(mu_a) - 1, 0,
                                       key="ab_input"))
    rows = int(rows_col.slider("Dimensions per model", 1, 8, 4, key="ab_rows"))
    extent = float(range_col.slider("Traversal range ±", 1.0, 4.0, 3.0, 0.5, key="ab_range"))
    same = match_col.radio("Rows", ["rank", "number"], key="ab_match", format_func={
        "rank": "each model's most used dimensions", "number": "the same dimensions in both "
        "(A's most used)"}.get, help="Dimension numbers mean nothing across two trainings; "
        "ranking by KL compares what each model uses most.") == "number"
    values = np.linspace(-extent, extent, AB_STEPS, dtype=np.float32)
    with index_col:
        render.show_images(state.test_images(str(a.path), a.key)[index:index + 1],
                           width=render.image_width(64), frame=True)

    def top_dims(ckpt: checkpoints.Checkpoint) -> list[int]:
        return dims_by_kl(state.test_evaluation(str(ckpt.path), ckpt.key)["kl_per_dim"])

    panels = []
    for column, ckpt, tag in zip(st.columns(2), (a, b), "AB", strict=True):
        model, _ = state.load(ckpt.path)
        state.request_metrics(ckpt)  # for the row labels; they appear once computed
        z = state.encodings(str(ckpt.path), ckpt.key)["mu"][index]
        dims = [j for j in top_dims(a if same else ckpt) if j < len(z)][:rows]
        metrics = cached_metrics(ckpt)
        labels = [dimension_label(metrics, j) for j in dims]
        with column, st.container(key=f"fill_ab_{tag}"):  # fills a projector's column
            render.heading(f"{tag}: {render.escape(ckpt.name)}", 3)  # a name is user text
            traversal_rows(model, z, dims, width=420, values=values, fixed="at the input's code",
                           names=labels)
        panels.append((f"{tag}: {ckpt.name}", traversal_images(model, z, dims, values=values),
                       labels))
    _downloads(panels, f"{a.name}-vs-{b.name}")


def _downloads(panels: list[tuple[str, np.ndarray, list[str]]], stem: str) -> None:
    """The A/B traversal ready for a slide, each model under its name and each row after its
    dimension's label: one PNG (A's rows above B's, a rule between) and an animated GIF whose
    frames move every row's dimension together, A on the left and B on the right."""

    def frame(t: int) -> Image.Image:
        return slide([(title, images.reshape(-1, AB_STEPS, *images.shape[1:])[:, t], labels)
                      for title, images, labels in panels], 1, scale=DOWNLOAD_SCALE,
                     across=True)

    buttons = st.container(horizontal=True)
    render.download_button(buttons, "Download traversals (PNG)", icon=":material/download:",
                           data=lambda: png_of(slide(panels, AB_STEPS, scale=DOWNLOAD_SCALE)),
                           file_name=f"{stem}.png", mime="image/png")
    render.download_button(buttons, "Download animation (GIF)", icon=":material/movie:",
                           data=lambda: frames_gif([frame(t) for t in range(AB_STEPS)]),
                           file_name=f"{stem}.gif", mime="image/gif")


def sweep_form() -> None:
    """Queue one training per beta and seed, same recipe and budget, as one study; they run
    one at a time."""
    with st.form("sweep_form"):
        data_col, betas_col, seeds_col, epochs_col, objective_col = st.columns(5)
        dataset = data_col.radio("Dataset", list(SWEEP_RECIPES), horizontal=True)
        betas_text = betas_col.text_input("β values", "0.5,1,2,4,8")
        seeds_text = seeds_col.text_input(
            "Seeds", "0", help="One model per β and seed: several seeds show how far apart "
                               "models trained alike land (at most "
                               f"{sweep.MAX_PAGE_MEMBERS} models in all).")
        epochs = int(epochs_col.number_input("Epochs (0: the recipe's)", 0, 1000, 0))
        objective = objective_col.radio("Objective", ["betavae", "betatcvae"],
                                        format_func={"betavae": "β-VAE",
                                                     "betatcvae": "β-TCVAE"}.get)
        name = st.text_input("Sweep name", "my-sweep")
        submitted = st.form_submit_button("Start the sweep", icon=":material/play_arrow:")
    st.caption("Digits members train in about 10 s each; a shapes member takes several "
               "minutes. Follow them on the Train page.")
    if not submitted:
        return
    preset, train = SWEEP_RECIPES[dataset]
    train = {**train, "objective": objective, **({"epochs": epochs} if epochs else {})}
    try:
        betas, seeds = sweep.parse_betas(betas_text), sweep.parse_seeds(seeds_text)
        sweep.check_size(betas, seeds, sweep.MAX_PAGE_MEMBERS)
        jobs = sweep.submit(state.job_manager(), RunSpec(dataset=dataset, preset=preset,
                                                         train=train),
                            betas, name, seeds=seeds, owner=session.session_owner())
    except (ValueError, JobError) as err:  # CheckpointError is a ValueError
        st.error(render.escape(str(err)))
        return
    if not jobs:
        st.info(f"Every member of {render.escape(name)} is trained already: pick that sweep "
                "above, or give other β values to extend it.")
        return
    st.success(f"{len(jobs)} trainings queued as one study. The sweep appears above as its "
               "models finish.")
