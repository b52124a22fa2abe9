"""Every page in a real server and headless Chromium: opens without an error element."""

import pytest
from conftest import open_page, page_errors

pytestmark = [pytest.mark.browser, pytest.mark.slow]
PAGES = ["", "train", "map", "interpolate", "conditional", "models"]


@pytest.mark.parametrize("path", PAGES)
def test_page_opens_without_errors(browser, app_url, path):
    page = open_page(browser, app_url, path)
    try:
        assert page_errors(page) == []
        assert page.query_selector('[data-testid="stSidebar"]')
    finally:
        page.close()
