"""The Disentangle page in AppTest: the β slider moves every panel, A/B follows its pickers,
and the sweep form queues one job per β or refuses with a sentence."""

import io
import json

import numpy as np
import pytest
from conftest import TINY_SWEEP as SWEEP
from PIL import Image
from tiny_models import app_on, picture_rows, record_downloads, use_tree

from ui import lab
from ui.lab_charts import score_multiples
from vae import checkpoints, sweep
from vae.derived import disentanglement_metrics, evaluate_checkpoint
from vae.disentanglement import dimension_roles


@pytest.fixture
def tree(tiny_models, tiny_sweep, tmp_path, monkeypatch):
    tree, manager = use_tree(tiny_models, tmp_path, monkeypatch)
    for member in tiny_sweep.iterdir():
        checkpoints.save(tree / "runs" / member.name, **_copy(member))
    for member in checkpoints.list_checkpoints([tree / "runs"]):
        if member.name.startswith(SWEEP):
            evaluate_checkpoint(member.path, iwae_samples=1)
            disentanglement_metrics(member.path)
    return manager


def _copy(path):
    ckpt = checkpoints.load(path)
    return {"config": ckpt.config, "weights": ckpt.weights(), "history": ckpt.history}


def test_the_beta_slider_moves_the_traversals_heatmap_and_highlight(tree):
    at = app_on("pages/disentangle.py", "tiny-vae-4d")
    assert not at.exception
    slider = at.select_slider(key="lab_beta")
    assert slider.options == ["1", "8"] and slider.value == 1  # indices into the sweep
    before = (picture_rows(at), [c.proto.spec for c in at.get("plotly_chart")])
    assert any("Mutual information, dimension" in s for s in before[1])
    texts = " ".join(t.value for t in at.text)
    assert "of label (" in texts or "No dimension captures label" in texts
    slider.set_value(0).run()
    assert not at.exception
    after = (picture_rows(at), [c.proto.spec for c in at.get("plotly_chart")])
    assert after[0] != before[0]  # other model, other traversals
    assert after[1] != before[1]  # heatmap, ring and outline follow
    scores = at.table[0].value
    assert list(scores["metric"])[:1] == ["MIG"]
    assert "n/a" in " ".join(scores[lab.SCORE_RANGE])  # FactorVAE is undefined for one factor
    assert list(scores["what it measures"]) == list(lab.SCORE_MEANINGS.values())


def test_ab_comparison_follows_its_models_and_range(tree):
    at = app_on("pages/disentangle.py", "tiny-vae-4d")
    before = picture_rows(at)
    at.selectbox(key="ab_b").set_value("tiny-vae-2d").run()
    assert not at.exception
    assert picture_rows(at)[-1] != before[-1] and picture_rows(at)[-2] == before[-2]
    changed = picture_rows(at)
    at.slider(key="ab_range").set_value(1.5).run()
    assert picture_rows(at)[-1] != changed[-1] and picture_rows(at)[-2] != changed[-2]
    captions = [c.value for c in at.caption]
    assert any("−1.5" in c and "at the input's code" in c for c in captions)


def form_field(at, label: str):
    return next(t for t in at.text_input if t.label == label)


def test_the_sweep_form_queues_one_job_per_beta_and_seed_as_one_study(tree):
    at = app_on("pages/disentangle.py", "tiny-vae-4d")
    form_field(at, "β values").set_value("0.5,2,4")
    form_field(at, "Seeds").set_value("0,1")
    form_field(at, "Sweep name").set_value("class-sweep")
    at.button[-1].click().run()
    assert not at.exception
    names = [job["name"] for job in tree.submitted]
    assert names == ["class-sweep-b0.5", "class-sweep-b0.5-s1", "class-sweep-b2",
                     "class-sweep-b2-s1", "class-sweep-b4", "class-sweep-b4-s1"]
    assert {job["spec"].sweep for job in tree.submitted} == {"class-sweep"}
    assert {job["study"] for job in tree.submitted} == {"class-sweep"}
    assert [(job["spec"].train["beta"], job["spec"].train["seed"])
            for job in tree.submitted] == [(b, s) for b in (0.5, 2.0, 4.0) for s in (0, 1)]
    assert "6 trainings queued as one study" in at.success[0].value


def test_a_study_larger_than_the_page_takes_gets_one_sentence(tree):
    at = app_on("pages/disentangle.py", "tiny-vae-4d")
    form_field(at, "β values").set_value("1,2,4,8,16")
    form_field(at, "Seeds").set_value("0,1,2,3,4")
    at.button[-1].click().run()
    assert not at.exception and not tree.submitted
    assert "at most 24 members" in at.error[0].value and "this one has 25" in at.error[0].value


def test_bad_betas_get_one_sentence(tree):
    at = app_on("pages/disentangle.py", "tiny-vae-4d")
    form_field(at, "β values").set_value("1,abc")
    at.button[-1].click().run()
    assert not at.exception and not tree.submitted
    assert "must be numbers separated by commas" in at.error[0].value


def test_ab_rows_can_follow_the_same_dimension_numbers(tree):
    at = app_on("pages/disentangle.py", "tiny-vae-4d")
    def ab_rows() -> tuple[list[str], list[str]]:
        """The row labels of A and of B, the page's last two blocks of rows."""
        a, b = ([label.split(" ")[0] for label, _ in rows] for rows in picture_rows(at)[-2:])
        return a, b

    for other in at.selectbox(key="ab_b").options:  # a model B that ranks its dimensions
        at.selectbox(key="ab_b").set_value(other).run()  # otherwise than A
        a, b = ab_rows()
        if a != b:
            break
    assert sorted(a) == sorted(b) == ["z1", "z2", "z3", "z4"] and a != b
    at.radio(key="ab_match").set_value("number").run()
    assert not at.exception
    a_same, b_same = ab_rows()
    assert a_same == b_same == a  # B now shows A's dimensions, in A's order


def test_a_sweep_already_trained_says_so_instead_of_queueing(tree):
    at = app_on("pages/disentangle.py", "tiny-vae-4d")
    form_field(at, "β values").set_value("1,8")
    form_field(at, "Sweep name").set_value(SWEEP)  # both members exist and are complete
    at.button[-1].click().run()
    assert not at.exception and not tree.submitted
    assert "is trained already" in at.info[-1].value


def test_a_study_groups_seeds_by_beta_with_a_seed_picker_error_bars_and_boxes(tree):
    from vae.runner import RunSpec, train_run

    runs = checkpoints.RUNS_DIR  # the tree's, set by the fixture
    recipe = checkpoints.load(runs / f"{SWEEP}-b1").config["spec"]
    for beta in (1.0, 8.0):  # seed 1 of each member: the study the page groups
        spec = RunSpec.from_dict({**recipe, "train": {**recipe["train"], "beta": beta,
                                                      "seed": 1}})
        out = train_run(spec, runs / f"{SWEEP}-b{beta:g}-s1").checkpoint.path
        evaluate_checkpoint(out, iwae_samples=1)
        disentanglement_metrics(out)
    at = app_on("pages/disentangle.py", "tiny-vae-4d")
    assert not at.exception
    assert at.select_slider(key="lab_beta").options == ["1", "8"]  # betas, not members
    seed = at.radio(key="lab_seed")
    assert seed.options == ["median member (by MIG)", "seed 0", "seed 1"]
    specs = " ".join(c.proto.spec for c in at.get("plotly_chart"))
    assert "sd over seeds" in specs and '"error_x"' in specs
    assert "Every score against " in specs and '"type":"box"' in specs
    assert any(h.value == "Seeds against β" for h in at.subheader)
    seed.set_value("seed 1").run()
    assert not at.exception
    shown = [h.value.replace("\\", "") for h in at.subheader]  # names are escaped markdown
    assert f"Traversals of {SWEEP}-b8-s1" in shown
    seed.set_value("seed 0").run()
    assert f"Traversals of {SWEEP}-b8" in [h.value.replace("\\", "") for h in at.subheader]


def test_the_reading_names_split_factors_and_what_changed_since_the_previous_beta():
    def metrics(matrix):  # as the cache keeps them: JSON, whose keys are strings
        return json.loads(json.dumps({"factor_names": ["shape", "x", "y"], "mi_matrix": matrix,
                                      "roles": dimension_roles(np.asarray(matrix))}))

    # x lives mostly in z1 (some in z2), y is split over z3 and z4, nothing knows shape.
    now = metrics([[0.1, 0.8, 0.0], [0.0, 0.3, 0.05], [0.02, 0.0, 0.35], [0.0, 0.0, 0.3]])
    # At the previous beta z1 knew shape, z3 x, and nothing y.
    then = metrics([[0.5, 0.1, 0.0], [0.0, 0.0, 0.1], [0.0, 0.9, 0.0]])
    assert lab.plain_reading(now, [2, 0, 1, 3], ("β = 1", then)) == [
        "Dimension z3 carries some of y (0.35 of y's entropy).",
        "Dimension z1 mostly encodes x (0.80 of x's entropy).",
        "Dimension z2 carries some of x (0.30 of x's entropy).",
        "Dimension z4 carries some of y (0.30 of y's entropy).",
        "Y is split over z3 and z4: no single dimension holds most of it.",
        "No dimension captures shape any more (at β = 1, z1 carried it).",
        "Y is now carried by z3 and z4 (at β = 1, no dimension captured it).",
    ]
    # A factor no dimension carries at either beta is said once, with no change.
    assert lab.plain_reading(then, [0, 2, 1], ("β = 1", then))[-1] == "No dimension captures y."


def test_the_small_multiples_draw_each_scores_mean_over_seeds_and_its_seeds():
    def row(beta, seed, mig, elbo):
        return {"name": f"m-b{beta}-s{seed}", "beta": beta, "objective": "betavae",
                "seed": seed, "mig": mig, "elbo": elbo}

    rows = [row(1, 0, 0.1, -50.0), row(1, 1, 0.3, -52.0), row(4, 0, 0.6, -60.0),
            row(4, 1, None, -61.0)]  # one MIG not computed yet
    figure = score_multiples(rows, sweep.spread(rows, ("mig", "elbo")),
                             {"elbo": "ELBO", "mig": "MIG"})
    lines = {t["yaxis"]: t for t in figure["data"] if t["type"] == "scatter"}
    assert lines["y"]["y"] == pytest.approx([-51.0, -60.5])  # the ELBO's panel comes first
    assert lines["y2"]["y"] == pytest.approx([0.2, 0.6])
    boxes = {t["yaxis"]: t for t in figure["data"] if t["type"] == "box"}
    assert boxes["y2"]["y"] == [0.1, 0.3, 0.6] and boxes["y2"]["x"] == ["1", "1", "4"]
    layout = figure["layout"]
    assert layout["yaxis2"]["range"] == [0, 1.05] and "range" not in layout["yaxis"]
    # One model a beta: the means are the models, and no boxes.
    single = [r for r in rows if r["seed"] == 0]
    figure = score_multiples(single, sweep.spread(single, ("mig", "elbo")), {"mig": "MIG"})
    assert [t["type"] for t in figure["data"]] == ["scatter"]


def test_the_ab_downloads_name_both_models_and_label_their_rows(tree, monkeypatch):
    offered = record_downloads(monkeypatch)
    at = app_on("pages/disentangle.py", "tiny-vae-4d")
    assert not at.exception
    a, b = at.selectbox(key="ab_a").value, at.selectbox(key="ab_b").value
    side = checkpoints.load(checkpoints.RUNS_DIR / a).config["model"]["image_shape"][-1]
    band, bare = 7 * lab.DOWNLOAD_SCALE, (lab.AB_STEPS * (side + 1) + 1) * lab.DOWNLOAD_SCALE
    data, name = offered["Download traversals (PNG)"]
    assert name == f"{a}-vs-{b}.png"
    png = np.asarray(Image.open(io.BytesIO(data())).convert("L"))
    # Wider than the bare rows by the labels' column, which holds ink beside A's rows.
    assert png.shape[1] > bare and (png[band:2 * band, :png.shape[1] - bare] < 128).any()
    assert (png[:band] < 128).any()  # A's name above its rows
    data, name = offered["Download animation (GIF)"]
    frame = np.asarray(Image.open(io.BytesIO(data())).convert("L"))
    assert name == f"{a}-vs-{b}.gif" and (frame[:band] < 128).any()
