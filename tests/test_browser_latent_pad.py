"""The latent pad in a real server and headless Chromium: it decodes in the page exactly as
torch does, for every shipped model and every decoder kind; dragging moves the picture at
once and the rest of the page on release; the weights cross the network once."""

from pathlib import Path
from urllib.parse import parse_qs, urlparse

import numpy as np
import pytest
from conftest import open_page, page_errors, serving, wait_idle

from vae import checkpoints
from vae.decoder_payload import decoder_payload
from vae.latent import decode_images
from vae.runner import RunSpec, train_run

pytestmark = [pytest.mark.browser, pytest.mark.slow]

REPO = Path(__file__).resolve().parent.parent
SHIPPED = sorted(p.parent.name for p in (REPO / "checkpoints").glob("*/CURRENT"))
TOLERANCE = 1e-4
READY = ".latent-pad[data-ready]"


@pytest.fixture(scope="module")
def odd_models(tmp_path_factory) -> Path:
    """Decoders the shipped models do not cover: a Gaussian-output MLP with tanh (trained), and
    a conv CVAE on 28-pixel RGB images with ELU, whose last transposed convolution must pad
    7 -> 14 -> 28 from 3 x 3."""
    root = tmp_path_factory.mktemp("odd") / "runs"
    train_run(RunSpec(model={"latent_dim": 3, "hidden": [32], "activation": "tanh",
                             "likelihood": "gaussian", "sigma": 0.3},
                      train={"epochs": 10, "batch_size": 64, "threads": 1}),
              root / "tiny-gaussian")
    rng = np.random.default_rng(0)
    images = root.parent / "rgb.npz"
    np.savez(images, x=rng.random((60, 28, 28, 3), dtype=np.float32), y=np.arange(60) % 3)
    train_run(RunSpec(dataset=f"npz:{images}", kind="cvae",
                      model={"arch": "conv", "conv_channels": [4, 4, 4], "hidden": [16],
                             "activation": "elu", "latent_dim": 3},
                      train={"epochs": 1, "batch_size": 32, "threads": 1}),
              root / "tiny-conv-rgb")
    return root


@pytest.fixture(scope="module")
def url(browser, odd_models, tmp_path_factory):
    with serving(browser, tmp_path_factory.mktemp("pad"), list(odd_models.iterdir()),
                 "tiny-gaussian") as url:
        yield url


def pad_page(browser, url: str, model: str, path: str = ""):
    page = open_page(browser, url, f"{path}?model={model}", timeout=180_000)
    page.wait_for_selector(READY, timeout=60_000)
    return page


def page_decode(page, z: np.ndarray, labels: np.ndarray | None) -> np.ndarray:
    model = page.get_attribute(READY, "data-ready")
    out = page.evaluate(
        "([model, zs, labels]) => zs.map((z, i) => window.__latentLab.decode(model, z,"
        " labels ? labels[i] : null))",
        [model, z.tolist(), None if labels is None else labels.tolist()])
    return np.asarray(out, np.float32)


@pytest.mark.parametrize("name", [*SHIPPED, "tiny-gaussian", "tiny-conv-rgb"])
def test_the_page_decodes_as_torch_does(browser, url, odd_models, name):
    folder = REPO / "checkpoints" / name if name in SHIPPED else odd_models / name
    model, _ = checkpoints.load_model(folder)
    cfg = model.config
    rng = np.random.default_rng(0)
    z = (rng.standard_normal((100, cfg.latent_dim)) * 1.5).astype(np.float32)
    labels = rng.integers(cfg.num_classes, size=100) if cfg.num_classes else None
    page = pad_page(browser, url, name)
    try:
        ours = page_decode(page, z, labels)
        expected = decode_images(model, z, labels).reshape(100, -1)
        assert ours.shape == expected.shape
        assert np.abs(ours - expected).max() <= TOLERANCE
        assert page_errors(page) == []
    finally:
        page.close()


def canvas_picture(page) -> str:
    return page.locator(".lp-image").evaluate("c => c.toDataURL()")


def test_dragging_the_pad_moves_the_picture_then_the_page(browser, url):
    frames: list[int] = []
    page = pad_page(browser, url, "digits-vae-20d")
    try:
        page.on("websocket", lambda ws: ws.on("framereceived", lambda f: frames.append(len(f))))
        page.reload()
        page.wait_for_selector(READY, timeout=60_000)
        wait_idle(page)
        first_load = max(frames)
        frames.clear()
        traversals = page.locator(".ll-rows img").last.get_attribute("src")
        before = canvas_picture(page)
        box = page.locator(".lp-pad").bounding_box()
        x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
        page.mouse.move(x, y)
        page.mouse.down()
        for i in range(1, 21):
            page.mouse.move(x + 4 * i, y - 3 * i)
        during = canvas_picture(page)
        assert during != before  # decoded in the page, with no server round trip yet
        page.mouse.up()
        wait_idle(page)
        page.wait_for_function(
            "(before) => { const imgs = document.querySelectorAll('.ll-rows img');"
            " return imgs[imgs.length - 1].src !== before; }", arg=traversals, timeout=20_000)
        # The server took the pad's code: the URL holds what the pad's sliders show, and the
        # rerun did not move the picture back.
        shown = [float(v) for v in page.locator(".lp-slider input").evaluate_all(
            "inputs => inputs.sort((a, b) => a.ariaLabel.slice(1) - b.ariaLabel.slice(1))"
            ".map(i => i.value)")]
        in_url_text = "z=" + parse_qs(urlparse(page.url).query)["z"][0].replace(",", "%2C")
        in_url = [float(v) for v in parse_qs(urlparse(page.url).query)["z"][0].split(",")]
        assert np.allclose(shown, in_url, atol=0.005) and np.abs(in_url).max() > 0.5
        assert canvas_picture(page) != before
        # The rerun that followed the release did not send the decoder again.
        payload = len(decoder_payload(checkpoints.load_model(REPO / "checkpoints" /
                                                             "digits-vae-20d")[0])["weights"])
        assert first_load > payload and max(frames) < payload / 10

        # Back to zero from the server, then the very same drag: a release that repeats an
        # earlier code still reaches the server.
        page.get_by_role("button", name="Zero").click()
        page.wait_for_function("() => location.search.includes('z=0.00%2C0.00')",
                               timeout=20_000)
        wait_idle(page)
        page.mouse.move(x, y)
        page.mouse.down()
        for i in range(1, 21):
            page.mouse.move(x + 4 * i, y - 3 * i)
        page.mouse.up()
        page.wait_for_function(f"() => location.search.includes({in_url_text!r})",
                               timeout=20_000)
        assert page_errors(page) == []
    finally:
        page.close()


def test_choosing_one_dimension_for_both_axes_swaps_them(browser, url):
    page = pad_page(browser, url, "digits-vae-20d")
    try:
        across, up = page.locator(".lp-axes select").all()
        first, second = across.input_value(), up.input_value()
        across.select_option(second)
        assert (across.input_value(), up.input_value()) == (second, first)
    finally:
        page.close()


def test_the_class_is_chosen_in_the_pad(browser, url):
    page = pad_page(browser, url, "tiny-conv-rgb")
    try:
        before = canvas_picture(page)
        page.locator(".lp-class select").select_option("2")
        assert canvas_picture(page) != before
        wait_idle(page)
        page.wait_for_function("() => location.search.includes('c=2')", timeout=20_000)
        assert page.locator(".lp-class select").input_value() == "2"
        assert page_errors(page) == []
    finally:
        page.close()


def test_the_native_sliders_remain_as_a_switch(browser, url):
    page = pad_page(browser, url, "tiny-conv-rgb", "conditional")
    try:
        page.get_by_text("Decode in the browser").click()
        wait_idle(page)
        page.locator('[data-testid="stSlider"]').first.wait_for(timeout=20_000)
        assert page.locator(".latent-pad").count() == 0
        assert page_errors(page) == []
    finally:
        page.close()


def test_a_2d_models_pad_moves_the_code_the_way_the_manifold_draws_it(browser, url):
    # The manifold beside the pad puts z1 across and z2 up (tests/test_page_explore.py reads
    # its axes): the pad does too, so a drag to the right raises z1 and leaves z2.
    page = pad_page(browser, url, "digits-vae-2d")
    try:
        across, up = page.locator(".lp-axes select").all()
        assert (across.input_value(), up.input_value()) == ("0", "1")
        assert across.locator("option:checked").inner_text() == "z1"
        box = page.locator(".lp-pad").bounding_box()
        x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
        page.mouse.move(x, y)
        page.mouse.down()
        for i in range(1, 11):
            page.mouse.move(x + 0.04 * box["width"] * i, y)
        page.mouse.up()
        page.wait_for_function("() => !(new URLSearchParams(location.search).get('z') || '')"
                               ".startsWith('0.00,')", timeout=20_000)
        z1, z2 = (float(v) for v in parse_qs(urlparse(page.url).query)["z"][0].split(","))
        assert z1 > 1.0 and abs(z2) < 0.1
        assert page_errors(page) == []
    finally:
        page.close()
