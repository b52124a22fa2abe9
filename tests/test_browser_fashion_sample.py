"""The shipped Fashion-MNIST models on a laptop without Debian's package, in a real server and
headless Chromium: Explore, Map and Conditional run on the 2,000 test images each model
carries, and say so; a clicked dot on the map shows its neighbours."""

import pytest
from conftest import open_page, page_errors, start_app, stop_app, wait_idle

from vae import fashion

pytestmark = [pytest.mark.browser, pytest.mark.slow]
SAMPLE_NOTE = "On 2,000 test images: the sample that comes with this model"


@pytest.fixture(scope="module")
def laptop(browser, tmp_path_factory):
    """A server that finds no Fashion-MNIST: the folder the variable names is empty, and the
    variable, once set, is the only place looked at."""
    tmp = tmp_path_factory.mktemp("laptop")
    (tmp / "empty").mkdir()
    proc, url = start_app(tmp, {fashion.ENV: str(tmp / "empty")})
    try:
        yield url
    finally:
        stop_app(proc)


@pytest.mark.parametrize("path", ["?model=fashion-vae", "conditional?model=fashion-cvae"])
def test_a_page_runs_on_the_bundled_sample_and_says_so(browser, laptop, path):
    page = open_page(browser, laptop, path, timeout=120_000)
    try:
        page.get_by_text(SAMPLE_NOTE).first.wait_for(timeout=120_000)
        wait_idle(page)
        assert page_errors(page) == []
        assert page.locator('[data-testid="stAlertContentError"]').count() == 0
        assert page.locator('[data-testid="stImage"], iframe, canvas').count() >= 1
    finally:
        page.close()


def test_the_map_draws_the_shipped_tsne_and_a_click_shows_neighbours(browser, laptop):
    page = open_page(browser, laptop, "map?model=fashion-vae", timeout=120_000)
    try:
        page.get_by_text(SAMPLE_NOTE).wait_for(timeout=120_000)
        page.get_by_test_id("stRadioGroup").get_by_text("t-SNE", exact=True).click()
        wait_idle(page)
        # Shipped with the model: drawn at once, no worker started.
        assert page.get_by_text("t-SNE is being computed").count() == 0
        page.wait_for_selector('[data-testid="stPlotlyChart"] canvas', timeout=60_000)
        assert page.get_by_text("t-SNE 1").count() >= 1
        # The 2,000 dots are drawn with WebGL, so click where they are dense (near the middle
        # of the plot) until a click lands on one and picks it.
        number = page.locator('input[aria-label="Test image number"]')
        area = page.locator('[data-testid="stPlotlyChart"] .nsewdrag').first.bounding_box()
        for dx, dy in [(0, 0), (0.05, 0), (0, 0.05), (-0.05, 0), (0, -0.05), (0.1, 0.1)]:
            x = area["x"] + area["width"] * (0.5 + dx)
            y = area["y"] + area["height"] * (0.5 + dy)
            page.mouse.move(x, y)
            page.mouse.click(x, y)
            page.wait_for_timeout(1_500)
            wait_idle(page)
            if number.input_value() != "0":
                break
        picked = number.input_value()
        assert picked != "0", "no click on the map picked an image"
        wait_idle(page)
        assert page_errors(page) == []
        caption = page.get_by_text("nearest neighbours by code").inner_text()
        assert caption.count("#") == 8 and f"#{picked}," not in caption
    finally:
        page.close()
