"""The lesson walked step by step in a real server and headless Chromium, on a projector's
screen in presentation mode: each step's button opens its page, drawn without an error, and the
top navigation brings the teacher back to the next step. The live run it starts trains, its
pictures and β control on the first screen; the scores' step opens on the scores against β."""

import pytest
from conftest import page_errors, wait_idle

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# Each step's page, by its title.
PAGES = ["Explore the latent space", "Explore the latent space", "Map of the latent space",
         "Train a VAE", "Disentanglement lab", "Disentanglement lab"]


def test_the_lesson_walked_step_by_step(browser, app_url):
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    try:
        page.goto(f"{app_url}/lesson?presentation=1")
        for step, title in enumerate(PAGES, start=1):
            heading = page.locator("h1").first
            heading.wait_for(timeout=120_000)
            page.wait_for_function(
                "n => document.querySelector('h1')?.textContent.startsWith(`Lesson · ${n} of`)",
                arg=step, timeout=60_000)
            wait_idle(page)
            page.locator('[data-testid="stBaseButton-primary"]').click()
            page.wait_for_function("t => document.querySelector('h1')?.textContent === t",
                                   arg=title, timeout=120_000)
            wait_idle(page, 120_000)
            assert not page_errors(page), (step, page_errors(page))
            if title == "Train a VAE":  # the lesson's own run, watched and training
                stop = page.get_by_role("button", name="Stop", exact=True)
                stop.wait_for(timeout=60_000)
                assert "lesson-" in page.locator(".st-key-train_job input").input_value()
                # Its reconstructions and the β control both on the projector's first screen.
                picture = page.locator(".st-key-picture img").first
                picture.wait_for(timeout=60_000)
                for box in picture.bounding_box(), page.get_by_role("slider").first.bounding_box():
                    assert box["y"] >= 0 and box["y"] + box["height"] <= 800, box
                stop.click()
                wait_idle(page)
            if step == len(PAGES):  # the scores against β, not the traversals, fill the screen
                chart = page.locator(".st-key-picture .boxlayer").first
                chart.wait_for(timeout=60_000)
                box = chart.bounding_box()
                assert box["y"] >= 0 and box["y"] + box["height"] <= 800, box
            page.get_by_role("link", name="Lesson").click()
            if step < len(PAGES):
                page.locator("h1").first.wait_for(timeout=60_000)
                wait_idle(page)
                page.get_by_role("button", name="Next").click()
    finally:
        page.close()
