"""Every page in a real server and headless Chromium: opens without an error element and
fetches nothing from outside the server (the app must work offline); and no other site may
post orders to the page."""

import json
import urllib.request

import pytest
from conftest import open_page, page_errors, start_app, stop_app, wait_idle

pytestmark = [pytest.mark.browser, pytest.mark.slow]
PAGES = ["", "train", "map", "interpolate", "conditional", "disentangle", "models", "lesson"]


@pytest.mark.parametrize("path", PAGES)
def test_page_opens_without_errors_or_outside_requests(browser, app_url, path):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto(f"{app_url}/{path}")
    # On a fresh server the first run takes seconds before anything shows, and wait_idle alone
    # can return before it: wait for the app's own sidebar (its switch; the Lesson page names
    # presentation mode in a sentence too).
    page.get_by_text("Presentation mode", exact=True).wait_for(timeout=60_000)
    wait_idle(page)
    try:
        assert page_errors(page) == []
        assert page.query_selector('[data-testid="stSidebar"]')
        outside = [u for u in requests if not u.startswith((app_url, "data:", "blob:"))]
        assert outside == []
    finally:
        page.close()


def test_a_deep_link_on_a_fresh_server_gets_the_whole_app(browser, tmp_path):
    # Before app.py has ever run, Streamlit would serve pages/map.py bare.
    proc, url = start_app(tmp_path)
    try:
        page = open_page(browser, url, "map?model=digits-vae-2d")
        page.get_by_text("Presentation mode").wait_for(timeout=60_000)  # the app's sidebar
        page.get_by_text("Map of the latent space").wait_for(timeout=60_000)
        assert page_errors(page) == []
    finally:
        stop_app(proc)


def test_the_server_trusts_no_other_site_to_post_orders_to_the_page(app_url):
    # Streamlit's default trusts its cloud's sites to stop, rerun or clear the page when they
    # embed it; this app is never embedded there.
    with urllib.request.urlopen(f"{app_url}/_stcore/host-config", timeout=30) as answer:
        assert json.load(answer)["allowedOrigins"] == []
