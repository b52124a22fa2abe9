"""Map and Interpolate in a real server and headless Chromium, on tiny models: a clicked dot
shows its image; the strip downloads as a PNG and a GIF."""

import pytest
from conftest import open_page, page_errors, serving, wait_idle

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def tiny_app(browser, tiny_models, tmp_path_factory):
    runs = list(tiny_models.iterdir())
    with serving(browser, tmp_path_factory.mktemp("map-app"), runs, "tiny-vae-2d") as url:
        yield url


def test_the_map_opens_and_a_clicked_dot_shows_its_image(browser, tiny_app):
    page = open_page(browser, tiny_app, "map?model=tiny-vae-2d")
    try:
        page.wait_for_selector('[data-testid="stPlotlyChart"] path.point', timeout=60_000)
        assert page_errors(page) == []
        picked = page.locator('input[aria-label="Test image number"]')
        assert picked.input_value() == "0"
        # Plotly hit-tests by position, so click where a dot is drawn.
        dot = page.locator('[data-testid="stPlotlyChart"] .trace:nth-child(5) path.point')
        box = dot.first.bounding_box()
        page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        page.wait_for_function("() => document.querySelector("
                               "'[aria-label=\"Test image number\"]').value !== '0'",
                               timeout=30_000)
        wait_idle(page)
        assert page_errors(page) == []
        # The pair and its neighbours (the hover pictures' sheet is a hidden image).
        assert page.locator('[data-testid="stImage"]:visible').count() == 2
    finally:
        page.close()


def test_the_interpolation_strip_downloads_as_png_and_gif(browser, tiny_app):
    page = open_page(browser, tiny_app, "interpolate?model=tiny-vae-4d")
    try:
        assert page_errors(page) == []
        for label, magic in (("Download strip (PNG)", b"\x89PNG"),
                             ("Download animation (GIF)", b"GIF89a")):
            button = page.get_by_role("button", name=label)
            button.wait_for(timeout=60_000)
            with page.expect_download(timeout=90_000) as download:
                button.click()
            with open(download.value.path(), "rb") as f:
                assert f.read(6).startswith(magic)
    finally:
        page.close()
