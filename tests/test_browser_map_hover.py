"""The Map's hover pictures in a real server and headless Chromium: the dot under the pointer
shows its own test image, pixel for pixel, on the plane, PCA and t-SNE views, on SVG and WebGL
dots and after the colouring changes; leaving the dot hides it, and a click still selects."""

import numpy as np
import pytest
from bad_input import untrained
from conftest import open_page, page_errors, serving, wait_idle
from scipy.spatial import cKDTree

from vae import checkpoints
from vae.data import Split
from vae.derived import checkpoint_data
from vae.images import to_uint8

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHART = ".st-key-map_chart .js-plotly-plot"
BOX = ".map-hover"

# Every dot that carries an index, at its position in the window, from plotly's own axes.
DOTS = """() => {
  const graph = document.querySelector('.st-key-map_chart .js-plotly-plot');
  const frame = graph.getBoundingClientRect();
  const xa = graph._fullLayout.xaxis, ya = graph._fullLayout.yaxis;
  const dots = [];
  for (const trace of graph._fullData) {
    if (!trace.customdata) continue;
    for (let i = 0; i < trace.x.length; i++) {
      dots.push([Number(trace.customdata[i]), frame.left + xa._offset + xa.l2p(trace.x[i]),
                 frame.top + ya._offset + ya.l2p(trace.y[i])]);
    }
  }
  return {dots, type: graph._fullData[0].type, title: xa.title.text,
          area: [frame.left + xa._offset, frame.top + ya._offset, xa._length, ya._length]};
}"""

# The picture's grey levels, one per image pixel (the centre of each enlarged block).
PIXELS = """(canvas) => {
  const [h, w, scale] = [canvas.height / canvas.dataset.scale, canvas.width / canvas.dataset.scale,
                         Number(canvas.dataset.scale)];
  const rgba = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
  const out = [];
  for (let r = 0; r < h; r++) {
    for (let c = 0; c < w; c++) {
      out.push(rgba[4 * ((r * scale + (scale >> 1)) * canvas.width + c * scale + (scale >> 1))]);
    }
  }
  return {h, w, scale, pixels: out};
}"""


@pytest.fixture(scope="module")
def hover_app(browser, tiny_models, tmp_path_factory):
    # A shapes model, untrained: 4,608 test images, so WebGL dots, and factors to colour by.
    shapes = untrained(tmp_path_factory.mktemp("shapes") / "tiny-shapes", "shapes")
    runs = [*tiny_models.iterdir(), shapes]
    with serving(browser, tmp_path_factory.mktemp("hover-app"), runs, "tiny-vae-2d") as url:
        yield url, {folder.name: folder for folder in runs}


def shown_images(folder) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """The test images as the page shows them, (n, H, W) uint8, their labels and class names."""
    ckpt = checkpoints.load(folder)
    x, part = checkpoint_data(ckpt, "test")
    return to_uint8(Split(x).images())[..., 0], part.y, ckpt.config["data"]["class_names"]


def wait_drawn(page, condition: str = "true", timeout: float = 60_000) -> None:
    """Wait until the chart is drawn and `condition` (JavaScript about `graph`) holds: Streamlit
    swaps in a new div on each change, empty until plotly has drawn into it."""
    page.wait_for_function(
        "() => { const graph = document.querySelector('.st-key-map_chart .js-plotly-plot'); "
        f"return Boolean(graph && graph._fullData && graph._fullData.length && ({condition})); }}",
        timeout=timeout)


def lone_dots(page, images: np.ndarray, count: int = 2) -> list[tuple[int, float, float]]:
    """Dots with no other within 12 px, away from the plot's edges, showing different images:
    the pointer on one of them can only mean that one."""
    wait_drawn(page)
    drawn = page.evaluate(DOTS)
    dots = np.array(drawn["dots"])
    left, top, width, height = drawn["area"]
    inside = ((dots[:, 1] > left + 30) & (dots[:, 1] < left + width - 30)
              & (dots[:, 2] > top + 40) & (dots[:, 2] < top + height - 30))
    gap = cKDTree(dots[:, 1:]).query(dots[:, 1:], k=2)[0][:, 1]
    chosen = []
    for i in np.argsort(-gap):
        if not inside[i] or gap[i] < 12:
            continue
        index = int(dots[i, 0])
        if all(not np.array_equal(images[index], images[j]) for j, _, _ in chosen):
            chosen.append((index, dots[i, 1], dots[i, 2]))
        if len(chosen) == count:
            return chosen
    raise AssertionError(f"fewer than {count} lone dots on the map")


def hover(page, x: float, y: float) -> tuple[int, str, np.ndarray]:
    """Point at (x, y): the index, caption and pixels of the picture that appears."""
    page.mouse.move(x, y)
    page.locator(f"{BOX}:not([hidden])").wait_for(timeout=10_000)
    box = page.locator(BOX)
    canvas = page.locator(f"{BOX} canvas")
    drawn = canvas.evaluate(PIXELS)
    assert drawn["scale"] * drawn["h"] >= 100  # large enough to see
    pixels = np.array(drawn["pixels"], np.int16).reshape(drawn["h"], drawn["w"])
    return int(box.get_attribute("data-index")), box.locator("p").inner_text(), pixels


def check_hovers(page, folder) -> None:
    """Two lone dots each show their own image, with number and class; leaving hides it."""
    images, labels, names = shown_images(folder)
    shown = []
    for index, x, y in lone_dots(page, images):
        got, caption, pixels = hover(page, x, y)
        assert got == index
        assert caption == f"#{index} · {names[labels[index]]}"
        assert pixels.shape == images[index].shape
        assert np.abs(pixels - images[index]).max() <= 2, f"#{index} shows another picture"
        shown.append(pixels)
        page.mouse.move(2, 2)  # off the chart
        page.locator(f"{BOX}[hidden]").wait_for(state="attached", timeout=10_000)
    assert not np.array_equal(*shown)


def open_map(browser, url: str, model: str):
    page = open_page(browser, url, f"map?model={model}")
    page.wait_for_selector(CHART, timeout=60_000)
    page.locator(BOX).wait_for(state="attached", timeout=30_000)  # in its shadow root
    wait_idle(page)
    return page


def test_hovering_a_dot_of_the_plane_shows_its_image_and_a_click_still_selects(browser,
                                                                              hover_app):
    url, folders = hover_app
    page = open_map(browser, url, "tiny-vae-2d")
    try:
        assert page.evaluate(DOTS)["title"] == "z1"
        check_hovers(page, folders["tiny-vae-2d"])
        # A click on a hovered dot still picks it (the picture never takes the pointer).
        images = shown_images(folders["tiny-vae-2d"])[0]
        index, x, y = next(d for d in lone_dots(page, images) if d[0] != 0)
        page.mouse.move(x, y)
        page.mouse.click(x, y)
        page.wait_for_function("(i) => document.querySelector('[aria-label=\"Test image "
                               "number\"]').value === String(i)", arg=index, timeout=30_000)
        wait_idle(page)
        assert page_errors(page) == []
        check_hovers(page, folders["tiny-vae-2d"])  # on the chart redrawn with its ring
    finally:
        page.close()


def test_hover_pictures_follow_pca_then_tsne(browser, hover_app):
    url, folders = hover_app
    page = open_map(browser, url, "tiny-vae-4d")
    try:
        assert page.evaluate(DOTS)["title"].startswith("PC 1")
        check_hovers(page, folders["tiny-vae-4d"])
        # t-SNE computed while the page waits, then PCA and t-SNE again, drawn at once: each
        # change draws a new chart, which the pictures must follow.
        for method, title in ("t-SNE", "t-SNE 1"), ("PCA", "PC 1"), ("t-SNE", "t-SNE 1"):
            page.get_by_test_id("stRadioGroup").get_by_text(method, exact=True).click()
            wait_drawn(page, f"graph._fullLayout.xaxis.title.text.startsWith('{title}')",
                       timeout=120_000)
            wait_idle(page)
            check_hovers(page, folders["tiny-vae-4d"])
        assert page_errors(page) == []
    finally:
        page.close()


def test_hover_pictures_on_webgl_dots_and_after_colouring_by_a_factor(browser, hover_app):
    url, folders = hover_app
    page = open_map(browser, url, "tiny-shapes")
    try:
        assert page.evaluate(DOTS)["type"] == "scattergl"
        check_hovers(page, folders["tiny-shapes"])
        page.locator(".st-key-map_colour [data-testid=stSelectbox]").click()
        page.get_by_role("option", name="rotation").click()
        wait_drawn(page, "graph._fullData[0].marker.showscale === true")
        wait_idle(page)
        check_hovers(page, folders["tiny-shapes"])
        assert page_errors(page) == []
    finally:
        page.close()
