import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import torch

from vae.data import load_dataset


@pytest.fixture(scope="session")
def digits():
    return load_dataset("digits")


@pytest.fixture(autouse=True)
def _one_thread():
    # Tests share two cores with each other's worker processes: keep each one to a thread.
    torch.set_num_threads(1)


# ---- the app in a real server, driven by headless Chromium (DESIGN §7) -------------------
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]
REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def browser():
    if not os.path.exists(CHROMIUM):
        if os.environ.get("CI") == "true":
            pytest.fail("Chromium is missing in CI: .ci/run should have installed it.")
        pytest.skip("No Chromium found (apt-get install chromium): browser tests skipped.")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_app(tmp: Path, extra_env: dict | None = None) -> tuple[subprocess.Popen, str]:
    """A streamlit server on a free port whose runs and cache live under `tmp`."""
    port = free_port()
    env = {**os.environ, "LATENT_LAB_RUNS_DIR": str(tmp / "runs"),
           "LATENT_LAB_CACHE_DIR": str(tmp / "cache"), **(extra_env or {})}
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
         "--server.headless", "true"], cwd=REPO, env=env, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    return proc, url
        except OSError:
            time.sleep(0.3)
    stop_app(proc)
    raise RuntimeError("the app did not start within 90 s")


def stop_app(proc: subprocess.Popen) -> None:
    """SIGTERM the server's whole process group, so no worker outlives it."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)
    except ProcessLookupError:
        pass
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


@pytest.fixture(scope="session")
def app_url(browser, tmp_path_factory):
    proc, url = start_app(tmp_path_factory.mktemp("app"))
    yield url
    stop_app(proc)


def open_page(browser, url: str, path: str = "", *, timeout: float = 60_000):
    """A new page at url/path, returned once the script has finished its first run."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(f"{url}/{path}")
    wait_idle(page, timeout)
    return page


def wait_idle(page, timeout: float = 60_000) -> None:
    """Wait until Streamlit shows the app and no script run is in progress."""
    page.wait_for_selector('[data-testid="stMain"]', timeout=timeout)
    page.wait_for_timeout(300)
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')"
        " || !document.querySelector('[data-testid=\"stStatusWidget\"]').innerText"
        ".includes('Running')", timeout=timeout)
    page.wait_for_timeout(200)


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
