"""A teacher's first visit to a fresh clone: the Disentangle page is drawn from what the shipped
models carry, with nothing evaluated, measured or mapped while the class waits, and the chart
module loads while the server works (the seconds are benchmarks/first_visit.py's)."""

import pytest
from conftest import page_errors

from benchmarks.first_visit import (
    derived_into,
    disentangle_panels,
    fresh_copy,
    wait_drawn,
    watch_computing,
)
from benchmarks.harness import start_app, stop_app, wait_idle

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_a_fresh_copy_opens_disentangle_ready_with_nothing_computed(browser, tmp_path):
    proc, url = start_app(tmp_path, root=fresh_copy(tmp_path))
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    try:
        watch_computing(page)
        page.add_init_script("""new MutationObserver(() => {
            if (!window.__traversals && document.querySelector('h3')?.textContent
                .startsWith('Traversals of')) window.__traversals = performance.now();
          }).observe(document, {subtree: true, childList: true});""")
        page.goto(f"{url}/disentangle")
        wait_drawn(page, disentangle_panels(page))
        wait_idle(page)
        assert page_errors(page) == []
        # The chart module was asked for as the page opened, before the first panel the server
        # sends (the charts come after it), and fetched once: the charts' own import found it.
        fetched = page.evaluate("performance.getEntriesByType('resource').filter(e => "
                                "/PlotlyChart\\.[^/]*\\.js$/.test(e.name)).map(e => e.startTime)")
        assert len(fetched) == 1 and fetched[0] < page.evaluate("window.__traversals"), fetched
        # Every member's scores, the rate-distortion plane and the KL split are all there.
        assert page.locator(".errorbar path.yerror").count() == 5
        assert page.locator(".boxlayer path.box").count() == 5 * 8
        assert page.evaluate("window.__computing") == []
        # No background worker was started: it would leave its progress file, then its result.
        assert derived_into(tmp_path / "cache") == []
        # The β slider steps to a model nothing was derived for on the visit: still ready.
        page.get_by_role("slider").first.focus()
        page.keyboard.press("ArrowRight")
        page.get_by_role("heading", name="Traversals of shapes-sweep-b8").wait_for(
            timeout=60_000)
        wait_idle(page)
        assert page.evaluate("window.__computing") == []
        assert derived_into(tmp_path / "cache") == [] and page_errors(page) == []
    finally:
        page.close()
        stop_app(proc)
