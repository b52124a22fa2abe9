"""The Train page in a real server and headless Chromium: a run started from the form
finishes and joins the sidebar's model picker (and another tab sees it); β moved by keyboard
and by a drag while a paced run trains lands in the saved run's history once per move, and the
ended run continues at another β."""

import re

import pytest
from conftest import open_page, page_errors, wait_idle

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def open_train(browser, url: str):
    page = open_page(browser, url, "train")
    page.get_by_role("button", name="Start training").wait_for(timeout=60_000)
    wait_idle(page)
    return page


@pytest.fixture(scope="module")
def train_page(browser, app_url):
    """One tab on the Train page for the module's tests (opening it is the slow part)."""
    # Open "/" first, so the model picker is drawn before the test moves on.
    page = open_page(browser, app_url, "")
    page.get_by_text("Presentation mode").wait_for(timeout=60_000)
    page.goto(f"{app_url}/train")
    page.get_by_role("button", name="Start training").wait_for(timeout=60_000)
    wait_idle(page)
    yield page
    page.close()


def fill(page, label: str, value: str) -> None:
    field = page.get_by_label(label, exact=True)
    field.fill(value)
    field.press("Enter")
    wait_idle(page)


def test_a_one_epoch_run_from_the_form_joins_the_model_picker(browser, app_url, train_page):
    page = train_page
    fill(page, "Name of the model", "browser-one-epoch")
    fill(page, "Epochs", "1")
    page.get_by_role("button", name="Start training").click()
    page.get_by_text("Started: browser-one-epoch").wait_for(timeout=30_000)

    other_tab = open_train(browser, app_url)  # state is server-wide: it sees the same job
    watched = other_tab.get_by_role("combobox", name="Watch").input_value()
    other_tab.close()
    assert watched.startswith("browser-one-epoch")

    page.get_by_text("is ready").wait_for(timeout=60_000)
    wait_idle(page)
    assert page_errors(page) == []
    # Typed, as a user finds one model among many: the list shows only the first dozen or so
    # (twelve ship), and runs come after the shipped models.
    page.get_by_role("combobox", name="Model", exact=True).click()
    try:
        page.keyboard.type("browser-one")
        option = page.get_by_role("option", name=re.compile("browser-one-epoch"))
        option.wait_for(timeout=10_000)
        assert option.is_visible()
    finally:
        page.keyboard.press("Escape")


def test_beta_moved_by_keyboard_mid_run_shows_in_the_history(train_page):
    page = train_page
    page.get_by_role("combobox", name="Preset").click()
    page.get_by_role("option").filter(has_text="Tiny live demo").click()
    # The preset fills the form in the server: wait for it, or typing on would send the old
    # values back.
    page.wait_for_function("() => document.querySelector('input[aria-label=\"Epochs\"]')"
                           ".value === '60'")
    wait_idle(page)
    fill(page, "Name of the model", "browser-beta")
    page.get_by_role("button", name="Start training").click()
    page.get_by_text(re.compile(r"running · step [1-9]")).wait_for(timeout=30_000)

    # Five presses, paced like a hand: one change, once the keys have rested.
    thumb = page.get_by_role("slider", name=re.compile("β now"))
    thumb.focus()
    for _ in range(5):
        page.keyboard.press("ArrowRight")
        page.wait_for_timeout(150)
    assert thumb.get_attribute("aria-valuenow") == "1.5"
    once = page.get_by_text(re.compile(r"β set by hand: step \d+ → β = 1\.5\.$"))
    once.wait_for(timeout=20_000)

    # A drag through many values: one change, on release.
    track = page.locator(".bs-track")
    box, start = track.bounding_box(), thumb.bounding_box()
    page.mouse.move(start["x"] + start["width"] / 2, start["y"] + start["height"] / 2)
    page.mouse.down()
    page.mouse.move(box["x"] + 0.3 * box["width"], box["y"] + box["height"] / 2, steps=12)
    assert thumb.get_attribute("aria-valuenow") == "3.0"
    page.mouse.up()
    twice = page.get_by_text(
        re.compile(r"β set by hand: step \d+ → β = 1\.5, step \d+ → β = 3\.$"))
    twice.wait_for(timeout=20_000)

    page.get_by_role("button", name="Stop").click()
    page.get_by_text(re.compile("stopped · step")).wait_for(timeout=30_000)
    wait_idle(page)
    # Stopped, the page reads the run from its saved checkpoint: the changes are in its history.
    assert twice.is_visible()
    assert page_errors(page) == []

    # Its β control stays: as an offer to continue the run from its weights at another β.
    page.get_by_role("button", name="Continue with β = 3.0").click()
    page.get_by_text(re.compile(r"running · step")).wait_for(timeout=30_000)
    continued = page.get_by_text(re.compile(
        r"β set by hand: step \d+ → β = 1\.5, step \d+ → β = 3, step \d+ → continued at "
        r"β = 3\.$"))
    continued.wait_for(timeout=20_000)
    page.get_by_role("button", name="Stop").click()
    page.get_by_text(re.compile("stopped · step")).wait_for(timeout=30_000)
    wait_idle(page)
    assert continued.is_visible()
    assert page_errors(page) == []
