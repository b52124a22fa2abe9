"""Seconds until a fresh copy of the app (its shipped checkpoints as a clone has them: no runs,
an empty cache) shows Disentangle, Explore and Map ready on a first visit, each page on a new
server of its own, next to the trivial page (benchmarks/trivial_app.py) measured in the same
invocation.

    python -m benchmarks.first_visit [--rounds 2]

For each page: the server's start (launch until it answers; the app prepares its default model
before it does) and the first visit (the address opened until every panel is drawn), and what
the server wrote into its empty cache's derived/ folder meanwhile: nothing where the page
found all it shows in the shipped models' folders. The pages and the trivial one take turns
in each round, so a drift of the machine's speed hits all of them. Target (issue 23): every
page with a shipped model ready within 5 s of its first visit.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from benchmarks.harness import CHROMIUM, CHROMIUM_ARGS, REPO, start_app, stop_app, wait_idle
from vae.checkpoints import DERIVED

TARGET_S = 5.0
# What a fresh clone holds of the app: its code and the shipped models, no runs, no cache.
APP = ("app.py", "vae", "ui", "pages", ".streamlit")
NOT_CLONED = shutil.ignore_patterns("runs", ".cache", "__pycache__")
# Text a page shows while it derives what it should have found: never on a first visit.
COMPUTING = ("Evaluating the model", "Computing the metrics in the background",
             "t-SNE is being computed", "t-SNE: starting a worker")


def fresh_copy(tmp: Path) -> Path:
    """A copy of the app and its shipped checkpoints as a fresh clone has them, under `tmp`;
    start_app(..., root=it) serves the copy's shipped models."""
    root = tmp / "clone"
    root.mkdir(parents=True)
    for name in APP:
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, root / name, ignore=NOT_CLONED)
        else:
            shutil.copy2(source, root / name)
    shutil.copytree(REPO / "checkpoints", root / "checkpoints", ignore=NOT_CLONED)
    return root


def disentangle_panels(page) -> list:
    """Every panel of the Disentangle page on the shipped shapes study, in page order."""
    return [page.get_by_role("heading", name="Traversals of shapes-sweep-b4"),
            page.locator('[data-testid="stPlotlyChart"] .heatmaplayer'),
            page.locator('[data-testid="stTable"]'),  # the scores
            page.locator(".errorbar path.yerror"),  # the rate-distortion plane
            page.locator(".barlayer .point"),  # the KL split
            page.locator(".boxlayer path.box"),  # the small multiples
            page.get_by_text("Seeds against β"),
            page.get_by_role("heading", name=re.compile(r"^A: shapes-sweep-")),
            page.get_by_role("heading", name=re.compile(r"^B: shapes-sweep-")),
            page.get_by_role("button", name="Download traversals (PNG)"),
            page.get_by_role("button", name="Start the sweep")]


def explore_panels(page) -> list:
    return [page.locator(".latent-pad[data-ready]"),
            page.get_by_role("heading", name="Traversals"),
            page.locator('[data-testid="stMain"] img:visible')]


def map_panels(page) -> list:
    return [page.locator('[data-testid="stPlotlyChart"] .main-svg'),
            page.get_by_role("heading", name="Selected image"),
            page.locator('[data-testid="stMain"] img:visible')]


def trivial_panels(page) -> list:
    return [page.locator('[data-testid="stMain"] img:visible')]


# page -> (the address's path, the script, its panels); the trivial page is the reference.
PAGES: dict[str, tuple[str, str, Callable]] = {
    "trivial page": ("", "benchmarks/trivial_app.py", trivial_panels),
    "Disentangle": ("disentangle", "app.py", disentangle_panels),
    "Explore (fashion-vae)": ("explore?model=fashion-vae", "app.py", explore_panels),
    "Map (fashion-vae)": ("map?model=fashion-vae", "app.py", map_panels),
}


def watch_computing(page) -> None:
    """Before the page loads: record any COMPUTING text the page ever shows, however briefly,
    in window.__computing."""
    page.add_init_script(f"(() => {{ const COMPUTING = {json.dumps(COMPUTING)};" + """
      window.__computing = [];
      new MutationObserver(() => {
        const text = document.body ? document.body.textContent : '';
        for (const words of COMPUTING)
          if (text.includes(words) && !window.__computing.includes(words))
            window.__computing.push(words);
      }).observe(document, {subtree: true, childList: true, characterData: true});
    })();""")


def wait_drawn(page, panels: list, timeout: float = 120_000) -> None:
    for panel in panels:
        panel.first.wait_for(timeout=timeout)


def derived_into(cache: Path) -> list[str]:
    """What a server wrote into its cache's derived/ folder (results and progress files)."""
    return sorted(p.name for p in (cache / DERIVED).glob("*"))


def first_visit(browser, name: str, tmp: Path) -> dict:
    """One page on a new server: seconds to start, seconds from opening it to all drawn."""
    path, script, panels = PAGES[name]
    root = REPO if script != "app.py" else fresh_copy(tmp)
    started = time.perf_counter()
    proc, url = start_app(tmp, script=script, root=root)
    up = time.perf_counter()
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    try:
        watch_computing(page)
        opened = time.perf_counter()
        page.goto(f"{url}/{path}")
        wait_drawn(page, panels(page))
        drawn = time.perf_counter()
        wait_idle(page)
        return {"start": up - started, "ready": drawn - opened,
                "computing": page.evaluate("window.__computing"),
                "errors": page.locator('[data-testid="stException"]').count(),
                "derived": derived_into(tmp / "cache")}
    finally:
        page.close()
        stop_app(proc)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    results: dict[str, list[dict]] = {name: [] for name in PAGES}
    with sync_playwright() as p, tempfile.TemporaryDirectory() as tmp:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        for round_ in range(args.rounds):
            for name in PAGES:
                result = first_visit(browser, name,
                                     Path(tmp) / f"{round_}-{list(PAGES).index(name)}")
                results[name].append(result)
                print(f"round {round_ + 1}, {name}: server up in {result['start']:.2f} s, "
                      f"ready {result['ready']:.2f} s after opening", flush=True)
        browser.close()
    reference = statistics.median(r["ready"] for r in results["trivial page"])
    print(f"\nFirst visit on a fresh copy, median of {args.rounds} round(s) "
          f"(target {TARGET_S:g} s; the trivial page: {reference:.2f} s):")
    for name, runs in results.items():
        ready = statistics.median(r["ready"] for r in runs)
        start = statistics.median(r["start"] for r in runs)
        computed = sorted({f for r in runs for f in r["derived"]})
        shown = sorted({t for r in runs for t in r["computing"]})
        errors = sum(r["errors"] for r in runs)
        verdict = "" if name == "trivial page" else (
            "  met" if ready <= TARGET_S else "  **target missed**")
        rounds = ", ".join(f"{r['ready']:.2f}" for r in runs)
        print(f"  {name:22s} ready {ready:6.2f} s ({ready / reference:4.1f}x the trivial page;"
              f" rounds {rounds}), server up {start:5.2f} s{verdict}")
        print(f"  {'':22s} derived on the visit: {', '.join(computed) or 'nothing'}; "
              f"computing shown: {', '.join(shown) or 'never'}; errors: {errors}")


if __name__ == "__main__":
    main()
