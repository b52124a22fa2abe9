"""Shared by benchmarks and browser tests: a Streamlit server on a free port, Chromium launched
with the flags of docs/design.md §6, waiting for a page's script run, and a job started from
the Train page."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

# LATENT_LAB_CHROMIUM points at another build (or, in the tests of the CI rules, at none).
CHROMIUM = os.environ.get("LATENT_LAB_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]
REPO = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# Runs streamlit in a process that exits when the one that started it dies, as the app's own
# workers do: a test run killed by a timeout leaves no server behind.
_WITH_PARENT = ("import runpy, sys; from vae.processes import exit_with_parent; "
                "exit_with_parent(int(sys.argv.pop(1))); sys.argv[0] = 'streamlit'; "
                "runpy.run_module('streamlit', run_name='__main__')")


def start_app(tmp: Path, extra_env: dict | None = None, script: str = "app.py",
              timeout: float = 90, root: Path = REPO) -> tuple[subprocess.Popen, str]:
    """A streamlit server on a free port whose runs and cache live under `tmp`, serving the
    app in `root` (a copy of it serves the copy's shipped models); returns once its health
    endpoint answers."""
    port = free_port()
    env = {**os.environ, "LATENT_LAB_RUNS_DIR": str(tmp / "runs"),
           "LATENT_LAB_CACHE_DIR": str(tmp / "cache"), **(extra_env or {})}
    proc = subprocess.Popen(
        [sys.executable, "-c", _WITH_PARENT, str(os.getpid()), "run", script,
         "--server.port", str(port), "--server.headless", "true"], cwd=root, env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    return proc, url
        except OSError:
            time.sleep(0.1)
    stop_app(proc)
    raise RuntimeError(f"{script} did not start within {timeout:.0f} s")


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


def wait_idle(page, timeout: float = 60_000) -> None:
    """Wait until Streamlit shows the app and no script run is in progress."""
    page.wait_for_selector('[data-testid="stMain"]', timeout=timeout)
    page.wait_for_timeout(300)
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')"
        " || !document.querySelector('[data-testid=\"stStatusWidget\"]').innerText"
        ".includes('Running')", timeout=timeout)
    page.wait_for_timeout(200)


def job_form(browser, url: str, name: str, epochs: int, dataset: str = ""):
    """The Train page of the server at `url`, its form filled in for a job called `name`
    (on the dataset whose radio label starts with `dataset`, if given), Start not yet pressed."""
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    page.goto(f"{url}/train")
    page.get_by_role("button", name="Start training").wait_for(timeout=180_000)
    wait_idle(page, 180_000)
    if dataset:
        page.get_by_test_id("stRadioGroup").get_by_text(dataset).click()
        wait_idle(page, 180_000)
    for label, value in (("Name of the model", name), ("Epochs", str(epochs))):
        field = page.get_by_label(label, exact=True)
        field.fill(value)
        field.press("Enter")
        wait_idle(page, 180_000)
    return page


def start_job(browser, url: str, name: str, epochs: int):
    """A training job started as a user starts one, from the Train page of the server at
    `url`; returns that page (the server's job thread then runs, as in class)."""
    page = job_form(browser, url, name, epochs)
    page.get_by_role("button", name="Start training").click()
    page.get_by_text(f"Started: {name}").wait_for(timeout=60_000)
    return page
