"""Reliability, bad input: user text (issue 13). Checkpoint names, file names and class labels
are shown as text, never as markdown or HTML.

Each case puts hostile text where a user can put it (a model's name, a renamed model, an
uploaded file's name, a dataset's labels, a job's name) and runs the pages that show it in
AppTest. Every piece of text the app hands Streamlit as markdown (bodies of markdown, captions,
headings and alerts; every widget, tab and expander label; radio options; progress texts) must
hold it escaped (ui.render.escape: read literally), and every chart must hold it HTML-escaped
(plotly reads tags in its labels); where it shows as plain text (st.text, tables, select
boxes) nothing needs doing. Each case lands in the reliability record with where the text
showed.
"""

from __future__ import annotations

import html
import json
import shutil

import numpy as np
import pytest
import reliability
from bad_input import assert_sentence, code, npz_bytes, run_cli, unescape, untrained
from streamlit.testing.v1 import AppTest
from tiny_models import REPO, FakeJobManager, app_on, page_alone

from ui import latent_pad, state
from ui.render import escape
from vae import checkpoints
from vae.derived import disentanglement_metrics

SUITE = "Bad input: user text"
pytestmark = pytest.mark.reliability

# Valid checkpoint names (no '/', no control characters, at most 64 characters) that would be
# a link, bold text, an image, red text and a formula if read as markdown or HTML.
NAME = "[click](evil) **bold** <img src=x onerror=alert(1)> :red[x] $y$"
RENAMED = "[x](javascript:alert(1)) __u__ <script>alert(1)"
FILE = "[click](https:evil) **b** <img src=x onerror=1>.npz"
LABELS = ["<a href='https://evil.example/'>click</a>", "[link](https://evil.example)",
          "**b** $x$ :red[y] www.evil.example"]
REAL_JOB_MANAGER = state.job_manager  # the fixture puts a fake in its place
MARKDOWN_BODIES = ("markdown", "caption", "title", "header", "subheader", "error", "warning",
                   "info", "success", "toast")


def markdown_texts(at: AppTest) -> list[tuple[str, str]]:
    """Every text the page handed Streamlit as markdown: (where, the text)."""
    out = []
    for node in at._tree:
        kind = getattr(node, "type", "")
        if kind in MARKDOWN_BODIES:
            out.append((kind, node.value))
        elif kind == "progress":
            out.append((kind, node.proto.text))
        label = getattr(node, "label", None)
        if isinstance(label, str):  # widgets, tabs, expanders
            out.append((f"{kind} label", label))
        if kind == "radio":
            out += [("radio option", str(option)) for option in node.options]
    return out


def plain_texts(at: AppTest) -> list[tuple[str, str]]:
    """Text shown as it is: st.text, tables and the options of select boxes."""
    out = []
    for node in at._tree:
        kind = getattr(node, "type", "")
        if kind == "text":
            out.append((kind, node.value))
        elif kind in ("dataframe", "table"):
            out.append((kind, node.value.to_csv()))
        elif kind in ("selectbox", "select_slider", "multiselect"):
            out += [(f"{kind} option", str(option)) for option in node.options]
    return out


def chart_strings(at: AppTest) -> list[str]:
    def strings(value):
        if isinstance(value, str):
            yield value
        elif isinstance(value, dict):
            for item in value.values():
                yield from strings(item)
        elif isinstance(value, list):
            for item in value:
                yield from strings(item)

    return [s for chart in at.get("plotly_chart") for s in strings(json.loads(chart.proto.spec))]


def shown_literally(at: AppTest, raw: str) -> list[str]:
    """Assert `raw` reaches no markdown or chart unescaped; returns where it shows."""
    assert not at.exception, [e.value for e in at.exception]
    places = []
    for kind, text in markdown_texts(at):
        assert raw not in text, f"{kind} renders {raw!r} as markdown: {text!r}"
        if raw in unescape(text):
            assert escape(raw) in text, text
            places.append(f"{kind} (escaped)")
    places += [f"{kind} (plain text)" for kind, text in plain_texts(at) if raw in text]
    charts = chart_strings(at)
    if html.escape(raw) != raw:  # plotly reads HTML tags and entities, not markdown
        for text in charts:
            assert raw not in text, f"a chart reads {raw!r} as HTML: {text!r}"
    if any(html.escape(raw) in text for text in charts):
        places.append("chart (HTML-escaped)")
    return list(dict.fromkeys(places))


# --------------------------------------------------------------------------- the tree


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    """A runs folder with: 'mine' (to be renamed); a two-member beta sweep whose first member
    is named NAME, its metrics computed; a VAE and a CVAE on an .npz whose labels are LABELS."""
    root = tmp_path_factory.mktemp("user-text")
    runs = root / "runs"
    (root / "shipped").mkdir()
    labelled = root / "labelled.npz"
    x = np.random.default_rng(0).integers(0, 256, (60, 8, 8)).astype(np.uint8)
    labelled.write_bytes(npz_bytes(x=x, y=np.array(LABELS)[np.arange(60) % 3]))
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(checkpoints, "SHIPPED_DIR", root / "shipped")
        mp.setattr(checkpoints, "RUNS_DIR", runs)
        mp.setattr(checkpoints, "CACHE_DIR", root / "cache")
        manager = FakeJobManager()
        mp.setattr(state, "job_manager", lambda: manager)
        untrained(runs / "mine")
        for name, beta in ((NAME, 1.0), ("sweep-b8", 8.0)):
            untrained(runs / name, train={"beta": beta}, sweep="sweep")
            disentanglement_metrics(runs / name)
        untrained(runs / "labels-vae", f"npz:{labelled}", latent_dim=2)
        untrained(runs / "labels-cvae", f"npz:{labelled}", "cvae", latent_dim=2)
        yield root


def record(case: str, tried: str, at: AppTest, places: list[str], example: str = "") -> None:
    assert places, f"{case}: the text was not shown anywhere"
    seen = f" For example {code(example)}." if example else ""
    reliability.record(
        SUITE, case, tried,
        f"Shown as text in: {', '.join(dict.fromkeys(places))}; no element read it as markdown "
        f"or HTML (no link, image, script, emphasis, colour or formula came of it).{seen}",
        markdown_texts_checked=len(markdown_texts(at)), charts_checked=len(at.get("plotly_chart")))


# --------------------------------------------------------------------------- the cases


def test_a_checkpoint_name_on_the_models_page(tree):
    at = page_alone("pages/models.py", "mine", models_pick=NAME)
    places = shown_literally(at, NAME)
    at.button(key="models_delete").click().run()  # the confirmation names the model
    places += shown_literally(at, NAME)
    assert (checkpoints.RUNS_DIR / NAME).is_dir()
    record("checkpoint name on the Models page",
           f"a model named {code(NAME)} picked on the Models page, then Delete pressed (not "
           "confirmed)", at, places)


def test_a_renamed_checkpoint(tree):
    at = page_alone("pages/models.py", "mine", models_pick="mine")
    at.text_input(key="models_new_name").input(RENAMED)
    at.button(key="models_rename").click().run()
    assert (checkpoints.RUNS_DIR / RENAMED).is_dir()
    places = shown_literally(at, RENAMED)
    success = at.success[0].value
    assert unescape(success) == f"Renamed mine to {RENAMED}."
    checkpoints.rename(checkpoints.RUNS_DIR / RENAMED, "mine")  # as it was, for other cases
    record("renamed checkpoint", f"a model renamed on the Models page to {code(RENAMED)}", at,
           places, success)


def test_a_checkpoint_name_in_the_disentanglement_lab(tree):
    at = app_on("pages/disentangle.py", NAME)
    at.select_slider(key="lab_beta").set_value(0).run()  # the member named NAME (β = 1)
    places = shown_literally(at, NAME)
    [traversals] = [s.value for s in at.subheader if "Traversals of" in s.value]
    assert unescape(traversals) == f"Traversals of {NAME}"
    assert any(unescape(s.value) == f"A: {NAME}" for s in at.subheader)  # the A/B comparison
    record("checkpoint name in the Disentanglement lab",
           f"a β-sweep member named {code(NAME)}, stepped to with the β slider; the A/B "
           "comparison's model A the same", at, places, traversals)


def upload_to_train(name: str, data: bytes) -> AppTest:
    """The Train page with a file of that name uploaded as the training data."""
    at = AppTest.from_file(str(REPO / "pages" / "train.py"), default_timeout=120)
    at.run()
    at.radio(key="train_form_dataset").set_value("upload").run()
    return at.file_uploader(key="train_form_upload").set_value(
        (name, data, "application/octet-stream")).run()


def test_an_uploaded_file_name(tree):
    at = upload_to_train(FILE, b"not an npz at all")
    places = shown_literally(at, FILE)
    [error] = at.error
    assert "not an .npz archive" in unescape(error.value)
    record("uploaded file name", f"an upload named {code(FILE)}, refused (not an .npz)", at,
           places, error.value)


def test_invisible_characters_in_an_uploaded_file_name(tree):
    """A right-to-left override would show 'photo<RLO>gnp.npz' as 'photonpg.npz...', the rest
    of the sentence reversed with it."""
    name = "photo\u202egnp.npz"
    at = upload_to_train(name, b"not an npz at all")
    [error] = at.error
    assert "\u202e" not in error.value
    assert unescape(error.value).startswith("photo\\u202egnp.npz: not an .npz archive")
    record("invisible characters in an uploaded file name",
           "an upload named 'photo' + U+202E (right-to-left override) + 'gnp.npz', refused", at,
           ["error (escaped, the override written as \\u202e)"], unescape(error.value))


def test_terminal_escapes_in_names_on_the_command_line(tree, tmp_path):
    """A file or checkpoint name may hold a terminal's escape sequences: echoed raw, they would
    clear the screen or colour what follows."""
    clear, red, rlo = "\x1b[2J", "\x1b[31m", "\u202e"
    argvs = [["train", "--dataset", f"npz:{clear}{red}data.npz", "--out", "m", "--quiet"],
             ["evaluate", f"{red}model"], ["import", f"x{rlo}piz.zip"]]
    results = run_cli([(argv, tmp_path) for argv in argvs], tmp_path / "runs", tmp_path / "cache")
    for result in results:
        assert result.status == 2 and "\x1b" not in result.stderr and rlo not in result.stderr
        assert_sentence(result.sentence)
    assert "\\x1b[2J\\x1b[31mdata.npz" in results[0].sentence
    assert "\\u202e" in results[2].sentence
    reliability.record(
        SUITE, "terminal escape sequences in names (CLI)",
        "python -m vae train --dataset npz:FILE, evaluate MODEL and import ZIP, the names holding "
        "ESC [2J (clear the screen), ESC [31m (red) and U+202E (right-to-left override)",
        " ".join(f"Exit 2: {code(r.sentence)}" for r in results) + " The escapes are written "
        "out; none reaches the terminal.", cli_ms=" / ".join(
            f"{1000 * r.seconds:.0f}" for r in results))


@pytest.mark.parametrize("page", ["map", "interpolate", "conditional", "explore"])
def test_class_labels(tree, page):
    model = "labels-vae" if page == "map" else "labels-cvae"
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=120)
    at.session_state["model_name"] = model
    # AppTest cannot drive the in-page latent pad (docs/design.md §6): the server path shows the
    # class names with Streamlit's own elements; the pad's script sets them as textContent.
    at.session_state[latent_pad.PREFERENCE] = False
    at.run()
    at.switch_page(f"pages/{page}.py").run()
    places = []
    for label in LABELS:
        places += shown_literally(at, label)
    record(f"class labels on the {page.capitalize()} page",
           f"the {page.capitalize()} page of a {'VAE' if page == 'map' else 'CVAE'} trained on "
           f"an .npz whose labels are {', '.join(code(label) for label in LABELS)}", at, places)


@pytest.mark.slow
def test_a_job_name_on_the_train_page(tree, monkeypatch):
    """A real job (a worker process), so the page shows the name as it does for any run."""
    monkeypatch.setattr(state, "job_manager", REAL_JOB_MANAGER)
    state.job_manager.clear()
    try:
        at = AppTest.from_file(str(REPO / "pages" / "train.py"), default_timeout=120)
        at.run()
        at.text_input(key="train_form_name").input(RENAMED)
        at.number_input(key="train_form_epochs").set_value(1)
        at.text_input(key="train_form_hidden").input("16")
        next(b for b in at.button if b.label == "Start training").click().run()
        places = shown_literally(at, RENAMED)
        started = at.success[0].value
        [job] = state.job_manager().jobs()
        state.job_manager().wait(job.id, timeout=120)
        at.run()
        places += shown_literally(at, RENAMED)
        assert any("is ready" in unescape(s.value) for s in at.success)
    finally:
        state.job_manager().shutdown()
        state.job_manager.clear()
        shutil.rmtree(checkpoints.RUNS_DIR / RENAMED, ignore_errors=True)
    record("job name on the Train page",
           f"a training started (and finished) on the Train page as {code(RENAMED)}", at, places,
           started)


# Markup that RENAMED or FILE would make if a browser read them as markdown or HTML.
INJECTED = ("img", "a", "script", "strong", "em", "code")


@pytest.mark.slow
@pytest.mark.browser
def test_in_a_browser(tree, browser, tmp_path):
    """The escaping as Chromium renders it: the text reads literally, and no element that the
    names would make as markup (an image, a link, bold or italic text) exists where it shows."""
    from conftest import open_page, page_errors, start_app, stop_app, wait_idle

    shutil.copytree(checkpoints.RUNS_DIR / "mine", tmp_path / "runs" / "mine")
    proc, url = start_app(tmp_path)
    try:
        page = open_page(browser, url, "models?model=mine", timeout=120_000)
        box = page.get_by_label("New name", exact=True)
        box.wait_for(timeout=120_000)
        box.fill(RENAMED)
        box.press("Enter")
        wait_idle(page)
        page.get_by_role("button", name="Rename", exact=True).click()
        renamed = page.locator('[data-testid="stAlert"]').filter(has_text="Renamed mine to")
        renamed.wait_for(timeout=60_000)
        shown = [renamed.inner_text().strip()]
        markup = {css: renamed.locator(css).count() for css in INJECTED}
        assert shown[0] == f"Renamed mine to {RENAMED}.", shown
        assert page_errors(page) == []

        page.goto(f"{url}/train")
        wait_idle(page, 120_000)  # a click while the first run draws the form can be lost
        page.get_by_text("Upload your own").click()
        wait_idle(page)
        page.locator('input[type="file"]').set_input_files(
            [{"name": FILE, "mimeType": "application/octet-stream", "buffer": b"junk"}])
        refused = page.locator('[data-testid="stAlert"]').filter(has_text="not an .npz archive")
        refused.wait_for(timeout=60_000)
        shown.append(refused.inner_text().strip())
        assert shown[1].startswith(f"{FILE}: not an .npz archive"), shown
        markup.update({f"upload {css}": refused.locator(css).count() for css in INJECTED})
        assert not any(markup.values()), markup
    finally:
        stop_app(proc)
    reliability.record(
        SUITE, "names in a real browser",
        f"Chromium on a served app: a model renamed to {code(RENAMED)} on the Models page, "
        f"and an upload named {code(FILE)} refused on the Train page",
        f"The success box reads {code(shown[0])} and the refusal {code(shown[1])}, character "
        "for character; neither holds an image, link, script, bold or italic element.",
        markup_elements_found=sum(markup.values()))
