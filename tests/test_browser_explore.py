"""Explore in a real server and headless Chromium: keyboard on a native latent slider, and a
stroke drawn on the canvas encoded into the latent pad's sliders."""

import pytest
from conftest import open_page, page_errors, start_app, stop_app, wait_idle

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def url(browser, tiny_models, tmp_path_factory):
    proc, url = start_app(tmp_path_factory.mktemp("explore"),
                          {"LATENT_LAB_RUNS_DIR": str(tiny_models)})
    yield url
    stop_app(proc)


def explore(browser, url):
    # The root URL: Explore is the default page.
    page = open_page(browser, url, "?model=tiny-vae-4d")
    page.get_by_text("Traversals").wait_for(timeout=60_000)
    wait_idle(page)
    assert page_errors(page) == []
    return page


def decoded_src(page) -> str:
    return page.locator('[data-testid="stImage"] img').first.get_attribute("src")


def slider_values(page) -> list[str]:
    return [s.input_value() for s in page.get_by_role("slider").all()]


def test_keyboard_on_a_latent_slider_changes_the_image(browser, url):
    page = explore(browser, url)
    try:
        page.get_by_text("Decode in the browser").click()  # the server path, with native sliders
        page.locator('[data-testid="stSlider"]').first.wait_for(timeout=20_000)
        wait_idle(page)
        before = decoded_src(page)
        # Everything a move needs comes over the page's websocket: a request per move (the
        # favicon, once, fetched again at every rerun) cost the server under a class. The
        # frontend's own scripts may still load lazily: they are static files, not the app's.
        requests = []
        page.on("request", lambda request: requests.append(request.url))
        page.get_by_role("slider").first.focus()
        for _ in range(10):  # half a unit: a visible change even for a weak tiny model
            page.keyboard.press("ArrowRight")
        wait_idle(page)
        page.wait_for_function(
            "(before) => document.querySelector('[data-testid=\"stImage\"] img').src"
            " .indexOf(before) < 0", arg=before, timeout=20_000)
        assert decoded_src(page) != before
        assert "z=" in page.url and page_errors(page) == []
        assert [r for r in requests if "/static/" not in r] == []
    finally:
        page.close()


def test_a_drawn_stroke_is_encoded(browser, url):
    page = explore(browser, url)
    try:
        assert set(slider_values(page)) == {"0"}
        canvas = page.locator(".latent-canvas canvas")
        canvas.scroll_into_view_if_needed()
        box = canvas.bounding_box()
        x, top, bottom = box["x"] + box["width"] / 2, box["y"] + 40, box["y"] + box["height"] - 40
        page.mouse.move(x, top)
        page.mouse.down()
        for i in range(1, 11):  # a "1": one stroke from top to bottom
            page.mouse.move(x + i, top + (bottom - top) * i / 10)
        page.mouse.up()
        page.get_by_text("What the model sees").wait_for(timeout=20_000)
        wait_idle(page)
        assert page.get_by_text("Your drawing").is_visible()
        assert set(slider_values(page)) != {"0"}
        assert page_errors(page) == []
    finally:
        page.close()
