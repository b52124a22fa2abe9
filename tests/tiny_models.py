"""A throwaway model tree for page tests, built from conftest's `tiny_models` runs folder.

Page tests run the real app scripts (AppTest) against copies of those models, so no test
reads or writes the repository's checkpoints/. One copy stands in for a shipped model.
"""

from __future__ import annotations

import html
import os
import re
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from ui import session
from vae import checkpoints

REPO = Path(__file__).resolve().parent.parent
SHIPPED = "tiny-shipped"
# Copies leave out job records and what other tests derived, so each test starts as new.
FRESH = shutil.ignore_patterns(".jobs", checkpoints.DERIVED)


@dataclass
class FakeJobManager:
    """Records what the pages submit instead of starting real worker processes."""

    submitted: list[dict] = field(default_factory=list)
    active: list = field(default_factory=list)

    def jobs(self) -> list:
        return list(self.active)

    def submit(self, spec, name, *, owner="", resume=False, out=None, study="", pace=0.0):
        self.submitted.append({"spec": spec, "name": name, "owner": owner, "resume": resume,
                               "out": out, "study": study, "pace": pace})


def use_tree(runs: Path, tmp_path: Path,
             monkeypatch: pytest.MonkeyPatch) -> tuple[Path, FakeJobManager]:
    """Copies of the tiny runs (and of tiny-vae-4d as the shipped model SHIPPED) made the
    app's shipped, runs and cache folders, and a fake job manager in place of the real one."""
    from ui import state

    tree = tmp_path / "tree"
    shutil.copytree(runs, tree / "runs", ignore=FRESH)
    shutil.copytree(runs / "tiny-vae-4d", tree / "shipped" / SHIPPED, ignore=FRESH)
    monkeypatch.setattr(checkpoints, "SHIPPED_DIR", tree / "shipped")
    monkeypatch.setattr(checkpoints, "RUNS_DIR", tree / "runs")
    monkeypatch.setattr(checkpoints, "CACHE_DIR", tree / "cache")
    manager = FakeJobManager()
    monkeypatch.setattr(state, "job_manager", lambda: manager)
    monkeypatch.delenv(session.TEACHER_PASSWORD_ENV, raising=False)
    return tree, manager


def app_on(page: str, model: str, **session) -> AppTest:
    """The whole app (app.py), switched to `page` with `model` picked and run once."""
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=120)
    at.session_state["model_name"] = model
    for key, value in session.items():
        at.session_state[key] = value
    at.run()
    return at.switch_page(page).run()


def page_alone(page: str, model: str, **session) -> AppTest:
    """One page script without the app around it (no sidebar), run once."""
    at = AppTest.from_file(str(REPO / page), default_timeout=120)
    at.session_state["model_name"] = model
    for key, value in session.items():
        at.session_state[key] = value
    return at.run()


def image_urls(at: AppTest) -> list[list[str]]:
    """Every image element's pictures, by media URL (a URL names its content)."""
    return [[img.url for img in element.proto.imgs] for element in at.get("image")]


_ROW = re.compile(r'class="ll-row-label"[^>]*>([^<]*)</div><img src="([^"]+)"')


def picture_rows(at: AppTest) -> list[list[tuple[str, str]]]:
    """Every block of labelled picture rows (render.show_rows: traversals), in page order: its
    rows' labels and pictures (data URLs)."""
    return [[(html.unescape(label), url) for label, url in _ROW.findall(element.proto.body)]
            for element in at.get("html") if 'class="ll-rows"' in element.proto.body]


def record_downloads(monkeypatch: pytest.MonkeyPatch) -> dict[str, tuple]:
    """Every download button the pages draw, by label: (its data, its file name); a lazy
    `data` stays the callable a click would run."""
    from ui import render

    offered = {}
    real = render.download_button

    def record(where, label, data, **kwargs):
        offered[label] = data, kwargs.get("file_name")
        real(where, label, data, **kwargs)

    monkeypatch.setattr(render, "download_button", record)
    return offered


def interrupt_when(proc: subprocess.Popen, marker: bytes, timeout: float = 180) -> None:
    """Ctrl-C to a CLI process once its stderr shows `marker` (the progress bar has reached
    the work being stopped), or after `timeout` seconds: a fresh venv imports torch slowly."""
    seen, deadline = b"", time.monotonic() + timeout
    while marker not in seen and time.monotonic() < deadline:
        seen += os.read(proc.stderr.fileno(), 256)
    proc.send_signal(signal.SIGINT)
