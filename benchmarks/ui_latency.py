"""Slider-to-image latency of the running app in headless Chromium, next to a trivial
two-slider page (benchmarks/trivial_app.py) measured in the same invocation.

    python -m benchmarks.ui_latency [--moves 40]

For each app: seconds from server start to the first image on screen, then the round trip
from a slider key press (the event's timestamp) to the moment a new image is in the DOM,
timed inside the page with performance.now(): idle, and while a training runs in another
process with one torch thread (as a job's worker does).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.harness import CHROMIUM, CHROMIUM_ARGS, REPO, start_app, stop_app

# Records the time from a key press to the first change of any image in the main area.
PROBE = """
() => {
  const main = document.querySelector('[data-testid="stMain"]');
  const sources = () => Array.from(main.querySelectorAll('img')).map(i => i.src).join('|');
  window.__latency = {start: 0, times: []};
  let last = sources();
  new MutationObserver(() => {
    const now = sources();
    if (now === last) return;
    last = now;
    if (window.__latency.start) {
      window.__latency.times.push(performance.now() - window.__latency.start);
      window.__latency.start = 0;
    }
  }).observe(main, {subtree: true, childList: true, attributes: true,
                    attributeFilter: ['src']});
  document.addEventListener('keydown', e => { window.__latency.start = e.timeStamp; }, true);
}
"""


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def first_render(browser, script: str, tmp: Path) -> tuple[float, object, subprocess.Popen]:
    """Seconds from launching the server to the first image in the page."""
    started = time.perf_counter()
    proc, url = start_app(tmp, script=script)
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(url)
    page.wait_for_selector('[data-testid="stMain"] img', timeout=120_000)
    return time.perf_counter() - started, page, proc


def slider_moves(page, moves: int) -> list[float]:
    page.evaluate(PROBE)
    slider = page.locator('[data-testid="stMain"] [data-testid="stSlider"] input').first
    times: list[float] = []
    for i in range(moves):
        slider.focus()  # a rerun may redraw the slider and drop the focus
        page.keyboard.press("ArrowRight" if (i // 5) % 2 == 0 else "ArrowLeft")
        page.wait_for_function(f"window.__latency.times.length > {len(times)}", timeout=20_000)
        times = page.evaluate("window.__latency.times")
        page.wait_for_timeout(60)  # let the rerun finish before the next move
    return times


def measure(browser, script: str, moves: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        startup, page, proc = first_render(browser, script, Path(tmp))
        try:
            idle = slider_moves(page, moves)
            trainer = subprocess.Popen(
                [sys.executable, "-m", "vae", "train", "--epochs", "100000", "--threads", "1",
                 "--quiet", "--out", str(Path(tmp) / "load")], cwd=REPO,
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                time.sleep(5)  # past its start-up, into training
                busy = slider_moves(page, moves)
            finally:
                trainer.kill()
                trainer.wait()
        finally:
            stop_app(proc)
    return {"startup": startup, "idle": idle, "busy": busy}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--moves", type=int, default=40)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        results = {name: measure(browser, script, args.moves) for name, script in
                   (("trivial page", "benchmarks/trivial_app.py"), ("Latent Lab", "app.py"))}
        browser.close()
    print(f"slider move -> new image, {args.moves} moves each, ms (p50 / p95)")
    print(f"  {'':14s} {'first render':>13s} {'idle':>15s} {'training':>15s}")
    for name, r in results.items():
        print(f"  {name:14s} {r['startup']:11.2f} s "
              f"{statistics.median(r['idle']):6.0f} /{percentile(r['idle'], 95):5.0f} "
              f"{statistics.median(r['busy']):8.0f} /{percentile(r['busy'], 95):5.0f}")
    app, ref = results["Latent Lab"], results["trivial page"]
    print(f"  ratio app / trivial (p50 idle): "
          f"{statistics.median(app['idle']) / statistics.median(ref['idle']):.2f}")


if __name__ == "__main__":
    main()
