"""The Disentangle page in a real server and headless Chromium: metrics arrive from the
background workers, the β slider moves the traversals, and A/B follows a new model B; the
shipped study shows its seeds, and the A/B export downloads ready for a slide."""

import numpy as np
import pytest
from conftest import open_page, page_errors, serving, wait_idle
from PIL import Image
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from vae.images import INK

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def lab_app(browser, tiny_models, tiny_sweep, tmp_path_factory):
    runs = [*tiny_models.iterdir(), *tiny_sweep.iterdir()]
    with serving(browser, tmp_path_factory.mktemp("lab-app"), runs, "tiny-vae-4d") as url:
        yield url


def test_beta_slider_and_ab_models_change_what_is_drawn(browser, lab_app):
    page = open_page(browser, lab_app, "disentangle")

    def choose(box: str, option: str) -> None:
        combobox = page.get_by_role("combobox", name=box)
        # Clicked once listed (Enter on a slow machine can pick what was highlighted before the
        # list was filtered), and opened again, as a user would, when a rerun the background
        # metrics start closes the list first.
        for attempt in range(3):
            combobox.click()
            combobox.fill(option)
            try:
                page.get_by_role("option", name=option, exact=True).click(timeout=10_000)
                break
            except PlaywrightTimeout:
                if attempt == 2:
                    raise
        wait_idle(page)

    try:
        choose("Sweep", "tiny-sweep")  # the shipped shapes sweep is listed too
        # The heatmap appears once the background workers have measured the model.
        page.get_by_text("What each dimension encodes").first.wait_for(timeout=120_000)
        page.wait_for_selector('[data-testid="stPlotlyChart"] .heatmaplayer',
                               timeout=120_000)
        wait_idle(page)
        assert page_errors(page) == []
        before = page.locator("img").evaluate_all("imgs => imgs.map(i => i.src)")
        assert page.get_by_role("heading", name="Traversals of tiny-sweep-b8").is_visible()
        page.get_by_role("slider").first.focus()  # the β slider comes first
        page.keyboard.press("ArrowLeft")
        page.get_by_role("heading", name="Traversals of tiny-sweep-b1").wait_for(timeout=60_000)
        wait_idle(page)
        after = page.locator("img").evaluate_all("imgs => imgs.map(i => i.src)")
        assert after != before and page_errors(page) == []

        choose("Model A", "tiny-sweep-b1")
        after = page.locator("img").evaluate_all("imgs => imgs.map(i => i.src)")
        choose("Model B (same dataset as A, for a shared input)", "tiny-vae-2d")
        # The rerun after a pick can land after choose returns on a busy machine: wait for it.
        page.get_by_role("heading", name="B: tiny-vae-2d").wait_for(timeout=60_000)
        wait_idle(page)
        assert page.locator("img").evaluate_all("imgs => imgs.map(i => i.src)") != after
        assert page_errors(page) == []
    finally:
        page.close()


def test_the_shipped_study_shows_its_seeds(browser, app_url):
    # The shapes study ships three seeds a beta with their metrics: no worker is needed.
    page = open_page(browser, app_url, "disentangle")
    try:
        # A heading name matches as a substring: the median member of beta = 4 may be any
        # of its seeds.
        page.get_by_role("heading", name="Traversals of shapes-sweep-b4").wait_for(
            timeout=60_000)
        # One standard deviation each way at each of the five betas, and a box per beta for
        # each of the eight panels (the ELBO and seven scores).
        page.wait_for_selector(".errorbar path.yerror", timeout=30_000)
        assert page.locator(".errorbar path.xerror").count() == 5
        assert page.locator(".errorbar path.yerror").count() == 5
        assert page.locator(".boxlayer path.box").count() == 5 * 8
        assert page.get_by_role("radio", name="median member (by MIG)").is_checked()

        before = page.locator("img").evaluate_all("imgs => imgs.map(i => i.src)")
        page.get_by_role("slider").first.focus()  # the beta slider comes first
        page.keyboard.press("ArrowRight")
        page.get_by_role("heading", name="Traversals of shapes-sweep-b8").wait_for(timeout=60_000)
        page.get_by_role("radiogroup").get_by_text("seed 2", exact=True).click()
        page.get_by_role("heading", name="Traversals of shapes-sweep-b8-s2").wait_for(
            timeout=60_000)
        wait_idle(page)
        assert page.locator("img").evaluate_all("imgs => imgs.map(i => i.src)") != before
        assert page.get_by_text("Seeds against β").is_visible()
        assert page_errors(page) == []

        # The A/B export, ready for a slide: the rows after a label column, A and B apart.
        pictures = {}
        for label in ("Download traversals (PNG)", "Download animation (GIF)"):
            with page.expect_download(timeout=90_000) as download:
                page.get_by_role("button", name=label).click()
            pictures[label] = Image.open(download.value.path())
        png, gif = pictures.values()
        # The bare rows at 4x: seven 32-pixel images with 1-pixel gutters, or one in a frame.
        row, column = (7 * (32 + 1) + 1) * 4, (32 + 2) * 4
        label = 24  # the narrowest label column: "z1" and its margins, at 4x
        assert png.format == "PNG" and png.width >= row + label
        assert any((np.asarray(png.convert("RGB"))[y] == INK).all() for y in range(png.height))
        assert gif.format == "GIF" and gif.n_frames == 2 * 7 - 2  # forth and back
        assert gif.width >= 2 * (column + label)  # A and B side by side, each labelled
    finally:
        page.close()
