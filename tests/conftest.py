import contextlib
import os
import shutil
from pathlib import Path

import pytest
import reliability
import torch
from tiny_models import FRESH

from benchmarks.harness import CHROMIUM, CHROMIUM_ARGS, start_app, stop_app, wait_idle
from vae.data import load_dataset

# Set by .ci/run: what CI must have (Chromium, Fashion-MNIST) is required, and a test that
# needs it and skips fails instead; elsewhere those tests skip with their reason.
REQUIRE_ENV = "LATENT_LAB_REQUIRE"
REQUIRED_MARKERS = ("browser", "fashion", "ray")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    required = [m for m in REQUIRED_MARKERS if item.get_closest_marker(m)]
    if (report.skipped and not hasattr(report, "wasxfail") and required
            and os.environ.get(REQUIRE_ENV) == "1"):
        reason = report.longrepr[-1] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = (f"skipped ({reason}), but {REQUIRE_ENV} makes {required[0]} tests "
                           "required")
    return report


def pytest_sessionfinish(session, exitstatus):
    # The reliability report is the suites' own output: see tests/reliability.py.
    target = os.environ.get(reliability.REPORT_ENV)
    if target and reliability.CASES:
        reliability.write(Path(target))


@pytest.fixture(scope="session")
def digits():
    return load_dataset("digits")


@pytest.fixture(autouse=True, scope="session")
def _own_cache(tmp_path_factory):
    # Derived results and parsed datasets go to a cache of the test session's own: never a
    # user's checkpoints/.cache, and never results an earlier run left there.
    from vae import checkpoints

    checkpoints.CACHE_DIR = tmp_path_factory.mktemp("cache")
    os.environ["LATENT_LAB_CACHE_DIR"] = str(checkpoints.CACHE_DIR)  # and job workers'



@pytest.fixture(autouse=True)
def _one_thread():
    # Tests share two cores with each other's worker processes: keep each one to a thread.
    torch.set_num_threads(1)


# ---- the app in a real server, driven by headless Chromium (docs/design.md §6) -------------------
# start_app / stop_app are shared with the benchmarks; tests import them from here.
@pytest.fixture(scope="session")
def browser():
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"No Chromium at {CHROMIUM} (apt-get install chromium): browser tests "
                    "skipped.")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="session")
def app_url(browser, tmp_path_factory):
    proc, url = start_app(tmp_path_factory.mktemp("app"))
    yield url
    stop_app(proc)


@contextlib.contextmanager
def serving(browser, tmp: Path, runs: list[Path], model: str):
    """A server whose runs folder holds copies of every model folder in `runs`, its entry
    script run once with `model` picked;
    yields its URL."""
    for folder in runs:
        shutil.copytree(folder, tmp / "runs" / folder.name, ignore=FRESH)
    proc, url = start_app(tmp)
    try:
        first = open_page(browser, url, f"?model={model}")
        first.wait_for_selector("h1", timeout=120_000)
        first.close()
        yield url
    finally:
        stop_app(proc)


def open_page(browser, url: str, path: str = "", *, timeout: float = 60_000):
    """A new page at url/path, returned once the script has finished its first run."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(f"{url}/{path}")
    wait_idle(page, timeout)
    return page


def page_errors(page) -> list[str]:
    return [e.inner_text() for e in page.query_selector_all('[data-testid="stException"]')]


# ---- tiny trained models for page tests (independent of the shipped checkpoints) -----------
TINY_MODELS = {
    "tiny-vae-4d": {"model": {"latent_dim": 4, "hidden": [64]}},
    "tiny-vae-2d": {"model": {"latent_dim": 2, "hidden": [64]}},
    "tiny-cvae": {"model": {"latent_dim": 3, "hidden": [64]}, "kind": "cvae"},
}


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory) -> Path:
    """A runs folder holding a 4-D VAE, a 2-D VAE and a CVAE on digits (about a second each),
    named as in TINY_MODELS: point LATENT_LAB_RUNS_DIR (or checkpoints.RUNS_DIR) at it."""
    from vae.runner import RunSpec, train_run

    root = tmp_path_factory.mktemp("tiny") / "runs"
    for name, spec in TINY_MODELS.items():
        train = {"epochs": 30, "batch_size": 64, "threads": 1}
        train_run(RunSpec(train=train, **spec), root / name)
    return root


TINY_SWEEP = "tiny-sweep"


@pytest.fixture(scope="session")
def tiny_sweep(tmp_path_factory) -> Path:
    """A runs folder with a two-member digits beta sweep (beta 1 and 8, a few seconds)."""
    from vae.runner import RunSpec, train_run

    root = tmp_path_factory.mktemp("sweep") / "runs"
    for beta in (1.0, 8.0):
        spec = RunSpec(model={"hidden": [64], "latent_dim": 4, "likelihood": "gaussian",
                              "sigma": 0.3},
                       train={"epochs": 20, "batch_size": 64, "beta": beta, "threads": 1},
                       sweep=TINY_SWEEP)
        train_run(spec, root / f"{TINY_SWEEP}-b{beta:g}")
    return root
