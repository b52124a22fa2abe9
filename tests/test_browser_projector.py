"""Presentation mode on a projector's screen, in a real server and headless Chromium: on every
page at 1280×800 and 1024×768 the main picture lies within the first screen, the model picker
is on it too, and no heading, chart title or picture runs past its box, nor chart labels over
each other."""

import pytest
from conftest import page_errors, wait_idle

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SCREENS = [(1280, 800), (1024, 768)]
# Each page (with the model it is shown on) and its main picture: the decoded picture of the
# pad, or the container a page marks as its picture.
PAGES = {
    "?model=fashion-vae": ".lp-image",
    "train": 'summary:has-text("New run")',
    "map?model=fashion-vae": ".st-key-picture",
    "interpolate?model=fashion-vae": ".st-key-picture",
    "conditional?model=fashion-cvae": ".lp-image",
    "disentangle": ".st-key-picture",
    "models": '[data-testid="stDataFrame"]',
}

# What runs past its box, in words: headings wider than their box, chart titles past the
# chart's edge, pictures wider than their column, and chart labels that overlap.
OVERFLOWS = """() => {
  const main = document.querySelector('[data-testid="stMain"]');
  const found = [];
  for (const h of main.querySelectorAll('h1, h2, h3')) {
    if (h.scrollWidth > h.clientWidth + 1) found.push(`heading "${h.textContent}" is cut`);
  }
  for (const plot of main.querySelectorAll('.js-plotly-plot')) {
    const edge = plot.getBoundingClientRect();
    for (const title of plot.querySelectorAll('.gtitle')) {
      const box = title.getBoundingClientRect();
      if (box.left < edge.left - 1 || box.right > edge.right + 1) {
        found.push(`chart title "${title.textContent}" runs past its chart`);
      }
    }
    const labels = [...plot.querySelectorAll('.textpoint text, .annotation-text')]
      .filter((t) => t.textContent.trim()).map((t) => [t.textContent, t.getBoundingClientRect()]);
    labels.forEach(([a, p], i) => labels.slice(i + 1).forEach(([b, q]) => {
      if (p.left < q.right - 1 && q.left < p.right - 1 && p.top < q.bottom - 1
          && q.top < p.bottom - 1) found.push(`chart labels "${a}" and "${b}" overlap`);
    }));
  }
  for (const picture of main.querySelectorAll('img, canvas')) {
    const box = picture.getBoundingClientRect();
    const holder = (picture.closest('[data-testid="stColumn"]') || main).getBoundingClientRect();
    if (box.width && (box.left < holder.left - 1 || box.right > holder.right + 1)) {
      found.push(`a picture ${Math.round(box.width)} px wide runs past its column`);
    }
  }
  return found;
}"""


def within(box: dict, width: int, height: int) -> bool:
    return (box["x"] >= 0 and box["y"] >= 0 and box["x"] + box["width"] <= width + 1
            and box["y"] + box["height"] <= height + 1)


def presented(browser, app_url: str, path: str, selector: str, width: int, height: int):
    """A page in presentation mode on a screen this size, once `selector` is drawn and the
    script has ended: (the page, the first element `selector` finds)."""
    page = browser.new_page(viewport={"width": width, "height": height})
    separator = "&" if "?" in path else "?"
    page.goto(f"{app_url}/{path}{separator}presentation=1")
    target = page.locator(selector).first
    target.wait_for(timeout=120_000)
    wait_idle(page, 120_000)
    return page, target


@pytest.mark.parametrize("width,height", SCREENS, ids=[f"{w}x{h}" for w, h in SCREENS])
def test_every_page_fits_the_projector_screen(browser, app_url, width, height):
    problems = []
    for path, picture in PAGES.items():
        page, target = presented(browser, app_url, path, picture, width, height)
        try:
            page.wait_for_timeout(1_000)  # charts lay out their labels after the script ends
            assert not page_errors(page), (path, page_errors(page))
            box = target.bounding_box()
            if not within(box, width, height):
                problems.append(f"{path}: the main picture at {box} is not on the first screen")
            picker = page.locator(".st-key-model_picker").bounding_box()
            if picker is None or not within(picker, width, height):
                problems.append(f"{path}: the model picker is not on the first screen")
            problems += [f"{path}: {p}" for p in page.evaluate(OVERFLOWS)]
        finally:
            page.close()
    assert not problems, "\n".join(problems)


# Pictures drawn at a laptop's size that grow with a projector's screen: the 2-D plane up to
# the screen's height under its heading, the A/B traversal rows to their column's width.
GROWN = {"?model=fashion-vae-2d": ".st-key-fill_plane svg.marks",
         "disentangle": ".st-key-fill_ab_A img"}


@pytest.mark.parametrize("width,height", SCREENS, ids=[f"{w}x{h}" for w, h in SCREENS])
def test_pictures_grow_with_the_screen(browser, app_url, width, height):
    sizes = {}
    for path, selector in GROWN.items():
        page, picture = presented(browser, app_url, path, selector, width, height)
        try:
            picture.scroll_into_view_if_needed()
            page.wait_for_timeout(500)
            box = picture.bounding_box()
            column = picture.evaluate("e => (e.closest('[data-testid=\"stColumn\"]') || "
                                      "e.closest('[data-testid=\"stMain\"]'))"
                                      ".getBoundingClientRect().width")
            rendering = picture.evaluate("e => getComputedStyle(e).imageRendering")
            sizes[path] = (box, column, rendering)
        finally:
            page.close()
    plane, column, rendering = sizes["?model=fashion-vae-2d"]
    # Drawn at 480 px; on the screen it takes most of the height and still fits it.
    assert 0.7 * height <= plane["height"] <= height and plane["width"] <= column, plane
    row, column, rendering = sizes["disentangle"]
    assert row["width"] >= 0.75 * column, (row, column)  # the row's label takes the rest
    assert rendering == "pixelated"
