"""Slider-to-image latency of the running app in headless Chromium, next to a trivial
two-slider page (benchmarks/trivial_app.py) measured in the same invocation.

    python -m benchmarks.ui_latency [--moves 40] [--drag-seconds 2]

The server path, for each app: seconds from server start to the first image on screen, then
the round trip from a native slider's key press (the event's timestamp) to the moment a new
image is in the DOM, timed inside the page with performance.now(): idle, and while a
training runs in another process with one torch thread (as a job's worker does).

The in-page path (the latent pad, ui/latent_pad.js), for every shipped model: a scripted drag
across the pad; each pointer event's time from its timestamp to the end of its decode and
canvas draw, recorded by the page itself. Beside it, the bytes the server sent when the page
opened (the decoder's weights among them) and the largest message after the drag's release.
"""

from __future__ import annotations

import argparse
import math
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


def first_render(browser, script: str,
                 tmp: Path) -> tuple[float, object, subprocess.Popen, str]:
    """Seconds from launching the server to the first image in the page."""
    started = time.perf_counter()
    proc, url = start_app(tmp, script=script)
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(url)
    page.wait_for_selector('[data-testid="stMain"] img', timeout=120_000)
    return time.perf_counter() - started, page, proc, url


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


def pad_drag(browser, url: str, model: str, seconds: float) -> dict:
    """A drag across the pad of `model` on Explore, one pointer move every 8 ms."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    frames: list[int] = []
    page.on("websocket", lambda ws: ws.on("framereceived", lambda f: frames.append(len(f))))
    try:
        page.goto(f"{url}/?model={model}")
        page.wait_for_selector(".latent-pad[data-ready]", timeout=300_000)
        page.wait_for_timeout(1000)
        opened = sum(frames)
        frames.clear()
        page.evaluate("window.__latentLab.timings.length = window.__latentLab.work.length = 0")
        box = page.locator(".lp-pad").bounding_box()
        cx, cy, r = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2, box["width"] / 3
        page.mouse.move(cx, cy)
        page.mouse.down()
        start = time.perf_counter()
        while (t := time.perf_counter() - start) < seconds:
            page.mouse.move(cx + r * math.sin(3 * t), cy + r * math.sin(2 * t))
            time.sleep(max(0.0, 0.008 - (time.perf_counter() - start - t)))
        times, work = page.evaluate("[window.__latentLab.timings, window.__latentLab.work]")
        page.mouse.up()
        page.wait_for_timeout(1500)  # the release's rerun
        return {"times": times, "work": work, "opened": opened, "after": max(frames, default=0)}
    finally:
        page.close()


def shipped_models() -> list[str]:
    return sorted(p.parent.name for p in (REPO / "checkpoints").glob("*/CURRENT"))


def measure(browser, script: str, moves: int, drag_seconds: float = 0) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        startup, page, proc, url = first_render(browser, script, Path(tmp))
        try:
            pads = {}
            if drag_seconds:
                pads = {m: pad_drag(browser, url, m, drag_seconds) for m in shipped_models()}
                # The server path: the app's fallback switch, native sliders.
                page.get_by_text("Decode in the browser").click()
                page.locator('[data-testid="stSlider"]').first.wait_for(timeout=60_000)
                page.wait_for_timeout(500)
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
    return {"startup": startup, "idle": idle, "busy": busy, "pads": pads}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--moves", type=int, default=40)
    parser.add_argument("--drag-seconds", type=float, default=2.0)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        results = {"trivial page": measure(browser, "benchmarks/trivial_app.py", args.moves),
                   "Latent Lab": measure(browser, "app.py", args.moves, args.drag_seconds)}
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
    server_p95 = percentile(app["idle"], 95)
    print(f"\nin-page decode on the pad, {args.drag_seconds:g} s drag each: pointer event -> "
          f"decoded and drawn, ms; beside it the server path's idle p95 ({server_p95:.0f} ms)")
    print("  (decode + draw: the part spent in the pad's own code; sent: kB from the server when "
          "the page opened, and the largest message after the release's rerun)")
    print(f"  {'model':20s} {'events':>6s} {'p50':>6s} {'p95':>6s} {'server/pad p95':>15s} "
          f"{'decode+draw p95':>16s} {'sent: opened':>13s} {'after release':>14s}")
    for model, r in app["pads"].items():
        p95 = percentile(r["times"], 95)
        print(f"  {model:20s} {len(r['times']):6d} {statistics.median(r['times']):6.2f} "
              f"{p95:6.2f} {server_p95 / p95:14.0f}x {percentile(r['work'], 95):16.2f} "
              f"{r['opened'] / 1e3:10.0f} kB {r['after'] / 1e3:11.1f} kB")


if __name__ == "__main__":
    main()
