"""A first visitor on a fresh server gets the app's navigation at once: never the page list
Streamlit would make of the `pages/` folder on its own ("app", "conditional", ... in lowercase),
not even for a moment before the real one ("Explore", "Map", ...) replaces it."""

import pytest
from conftest import page_errors, start_app, stop_app, wait_idle

pytestmark = [pytest.mark.browser, pytest.mark.slow]

NAVIGATION = ["Explore", "Train", "Map", "Interpolate", "Conditional", "Disentangle", "Models",
              "Lesson"]
# What Streamlit lists for app.py and pages/*.py when it serves the folder itself.
RAW = {"app", "conditional", "disentangle", "explore", "interpolate", "lesson", "map", "models",
       "train"}

# Installed before the page's own scripts run, so it sees the DOM from its first paint: every
# change to the sidebar's page list is recorded, on each DOM mutation and every 50 ms besides.
WATCH = """
window.__navSeen = [];
const started = performance.now();
const look = () => {
  const links = document.querySelectorAll('[data-testid="stSidebarNav"] a');
  // A link's text is its icon's ligature name, if any, then its label: keep the label.
  const names = [...links].map(a => a.innerText.trim().split('\\n').filter(Boolean).pop() || '');
  const last = window.__navSeen[window.__navSeen.length - 1];
  if (!last || last.names.join('|') !== names.join('|')) {
    window.__navSeen.push({ms: Math.round(performance.now() - started), names});
  }
};
new MutationObserver(look).observe(document, {subtree: true, childList: true,
                                              characterData: true});
setInterval(look, 50);
"""


@pytest.mark.parametrize(("path", "title"), [
    ("map?model=digits-vae-2d", "Map of the latent space"),
    ("", "Explore the latent space"),
])
def test_a_fresh_server_never_shows_the_raw_page_list(browser, tmp_path, path, title):
    proc, url = start_app(tmp_path)
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    try:
        page.add_init_script(WATCH)
        page.goto(f"{url}/{path}")
        page.get_by_role("heading", name=title).wait_for(timeout=90_000)
        page.get_by_text("Presentation mode").wait_for(timeout=60_000)  # the app's sidebar
        page.wait_for_timeout(1_000)  # anything sent late would show by now
        seen = page.evaluate("window.__navSeen")
        raw = [s for s in seen if RAW & set(s["names"])]
        assert not raw, f"the pages/ folder's own page list was shown: {seen}"
        assert [s["names"] for s in seen if s["names"]] == [NAVIGATION], seen
        assert page_errors(page) == []
    finally:
        page.close()
        stop_app(proc)


def test_a_class_opening_a_fresh_server_at_once_gets_every_page_without_error(browser, tmp_path):
    # Every tab's first run imports the pages' libraries in a script thread of its own: on a
    # fresh server they raced, and Map got a half-imported pandas while Explore's first run was
    # under way (ui/entry.py).
    proc, url = start_app(tmp_path)
    pages = []
    try:
        for path in ["", "map", "interpolate", "map?model=digits-vae-20d"]:
            pages.append(browser.new_page(viewport={"width": 1400, "height": 1000}))
            pages[-1].goto(f"{url}/{path}", wait_until="commit")
            pages[-1].wait_for_timeout(700)
        for page in pages:
            page.get_by_text("Presentation mode").wait_for(timeout=120_000)
            wait_idle(page, 120_000)
            page.wait_for_timeout(2_000)
            assert page_errors(page) == [], page.url
    finally:
        for page in pages:
            page.close()
        stop_app(proc)
