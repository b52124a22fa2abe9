"""Slider-to-image latency of the running app in headless Chromium, next to a trivial
two-slider page (benchmarks/trivial_app.py) measured in the same invocation.

    python -m benchmarks.ui_latency [--moves 40] [--rounds 5] [--drag-seconds 2]
                                    [--job-data fashion] [--sessions 30] [--load-rounds 4]
                                    [--server-only]

The server path, for each app: seconds from launch until the server answers, and from there
to the first image on screen (the page a visitor opens first: Explore on fashion-vae), then
the round trip from a native slider's key press (the event's timestamp) to the moment a new
image is in the DOM ("first") and to the last image change the move caused, traversals
included ("all drawn"), timed inside the page with performance.now(). Both servers stay up and
the two pages take turns in short rounds, so a drift of the machine's speed hits both; the
ratio of their p50s is given per round, its median and range. Measured idle, then while a job
started from the app's Train page trains (its worker process and the server's job thread
both run, as in class), on digits or on Fashion-MNIST's 54,000 images (--job-data): first with
that Train page open beside in the same browser, drawing its live panel on the same two cores
(a teacher's laptop), then with it closed (a student's, whose browser draws no Train page), in
that order;
the seconds from pressing Start to the first curve on the Train page are printed too. And the
seconds from clicking t-SNE on the Map of a fresh copy of fashion-vae (no map computed yet) to
its t-SNE map of 10,000 codes drawn, the worker's start included.

The in-page path (the latent pad, ui/latent_pad.js), for every shipped model: a scripted drag
across the pad; each pointer event's time from its timestamp to the end of its decode and
canvas draw, recorded by the page itself. Beside it, the bytes the server sent when the page
opened (the decoder's weights among them) and the largest message after the drag's release.

Thirty students: `--sessions` Chromium sessions on Explore (native sliders, digits-vae-20d, as
the load suite tests/test_reliability_load.py drives them) move a slider all together, round
after round, while a job started from the Train page trains; printed: the server process's own
CPU seconds (its utime + stime in /proc) over those rounds per release rerun it served, as
the 30 clients share the server's cores, and each move's round trip. `--server-only` measures
the server path and this load alone (a few minutes), without the pads, t-SNE and first render.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from benchmarks.harness import (
    CHROMIUM,
    CHROMIUM_ARGS,
    REPO,
    job_form,
    start_app,
    stop_app,
    wait_idle,
)
from vae import fashion

# Records the time from a key press to the first change of any image in the main area
# (`times`), and when an image last changed (`changed`) and the last key was pressed.
PROBE = """
() => {
  if (window.__latency) { window.__latency.times = []; return; }  // installed once a page
  const main = document.querySelector('[data-testid="stMain"]');
  const sources = () => Array.from(main.querySelectorAll('img')).map(i => i.src).join('|');
  window.__latency = {start: 0, pressed: 0, changed: 0, times: []};
  let last = sources();
  new MutationObserver(() => {
    const now = sources();
    if (now === last) return;
    last = now;
    window.__latency.changed = performance.now();
    if (window.__latency.start) {
      window.__latency.times.push(performance.now() - window.__latency.start);
      window.__latency.start = 0;
    }
  }).observe(main, {subtree: true, childList: true, attributes: true,
                    attributeFilter: ['src']});
  document.addEventListener('keydown', e => {
    window.__latency.start = window.__latency.pressed = e.timeStamp;
  }, true);
}
"""


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


# A move is over when no image has changed for this long.
SETTLED_MS = 500
EPOCHS = 10_000  # the Train page's largest: the job trains past the end of the measurement
JOB_DATA = {"digits": "", "fashion": "Fashion-MNIST"}
TSNE_COPY = "fashion-vae-copy"
TSNE_TARGET_S = 8.0  # the form's default, or this radio label


def first_render(browser, script: str, tmp: Path
                 ) -> tuple[tuple[float, float], object, subprocess.Popen, str]:
    """Seconds from launching the server to its first answer (the app prepares its default
    model before it answers), and from there to the first image in a new page."""
    started = time.perf_counter()
    proc, url = start_app(tmp, script=script)
    up = time.perf_counter()
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(url)
    page.wait_for_selector('[data-testid="stMain"] img', timeout=120_000)
    return (up - started, time.perf_counter() - up), page, proc, url


def slider_moves(page, moves: int) -> tuple[list[float], list[float]]:
    """Milliseconds from each key press to its first new image and to its last one."""
    page.evaluate(PROBE)
    slider = page.locator('[data-testid="stMain"] [data-testid="stSlider"] input').first
    first: list[float] = []
    drawn: list[float] = []
    for i in range(moves):
        slider.focus()  # a rerun may redraw the slider and drop the focus
        # as many steps back as forth in every round of 8 (the default), so the slider stays put
        page.keyboard.press("ArrowRight" if (i // 4) % 2 == 0 else "ArrowLeft")
        page.wait_for_function(f"window.__latency.times.length > {len(first)}", timeout=20_000)
        page.wait_for_function(f"performance.now() - window.__latency.changed > {SETTLED_MS}",
                               timeout=20_000)
        first, last = page.evaluate(
            "[window.__latency.times, window.__latency.changed - window.__latency.pressed]")
        drawn.append(last)
    return first, drawn


def alternating(pages: dict[str, object], moves: int, rounds: int) -> dict[str, dict]:
    """Each page's first-image and all-drawn times over `rounds` turns of moves/rounds moves;
    `ratios`: the app's p50 over the trivial page's, per round."""
    out = {name: {"first": [], "drawn": [], "p50s": []} for name in pages}
    for _ in range(rounds):
        for name, page in pages.items():
            first, drawn = slider_moves(page, max(1, moves // rounds))
            out[name]["first"] += first
            out[name]["drawn"] += drawn
            out[name]["p50s"].append(statistics.median(first))
    app, ref = out["Latent Lab"]["p50s"], out["trivial page"]["p50s"]
    out["ratios"] = [a / r for a, r in zip(app, ref, strict=True)]
    return out


LOAD_MODEL = "digits-vae-20d"
IDLE_RATIO_TARGET = 1.5  # Explore's server path p50 over the trivial page's, idle
BUSY_P95_TARGET_MS = 150  # Explore's server path p95 while a job trains
CPU_TARGET_MS = 20  # the server's CPU per release rerun under the class's load


def load_session(browser, url: str, model: str = LOAD_MODEL):
    """A session on Explore with native sliders (the server path, the one load can hurt), its
    probe installed."""
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    page.goto(f"{url}/?model={model}")
    page.wait_for_selector(".latent-pad[data-ready]", timeout=180_000)
    page.get_by_text("Decode in the browser").click()
    page.locator('[data-testid="stSlider"]').first.wait_for(timeout=180_000)
    wait_idle(page, 180_000)
    page.evaluate(PROBE)
    return page


def release_rounds(pages: list, rounds: int) -> tuple[list[float], int]:
    """Every session moves its first slider by one step, then all wait for their new picture,
    `rounds` times (right, left, ...): each move's milliseconds from key press to new image,
    and how many moves got none within two minutes."""
    missed = 0
    for r in range(rounds):
        for page in pages:
            page.locator('[data-testid="stSlider"] input').first.focus()
            page.keyboard.press("ArrowRight" if r % 2 == 0 else "ArrowLeft")
        for page in pages:
            try:
                page.wait_for_function(f"window.__latency.times.length > {r}",
                                       timeout=120_000)
            except Exception:  # noqa: BLE001 - a lost move is counted, not fatal here
                missed += 1
    return [t for page in pages for t in page.evaluate("window.__latency.times")], missed


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process has used (its own, not its children's)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def class_load(browser, url: str, pid: int, sessions: int, rounds: int) -> dict:
    """`sessions` sessions release a slider together, `rounds` times (while a job trains in the
    server whose process is `pid`): its CPU seconds per release rerun, and the round trips."""
    pages = [load_session(browser, url) for _ in range(sessions)]
    try:
        before = cpu_seconds(pid)
        times, missed = release_rounds(pages, rounds)
        cpu = cpu_seconds(pid) - before
    finally:
        for page in pages:
            page.close()
    return {"times": times, "missed": missed, "cpu_per_rerun": cpu / max(1, len(times))}


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


def tsne_click(browser, url: str, runs: Path) -> tuple[float, float]:
    """Seconds from a click on t-SNE to the t-SNE map drawn, and from opening the page, on the
    Map of a copy of fashion-vae without its shipped figures: its 10,000 test codes are
    encoded when the page opens, which asks a worker for their map."""
    shutil.copytree(REPO / "checkpoints" / "fashion-vae", runs / TSNE_COPY,
                    ignore=shutil.ignore_patterns("derived"))
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    try:
        opened = time.perf_counter()
        page.goto(f"{url}/map?model={TSNE_COPY}")
        page.get_by_test_id("stRadioGroup").get_by_text("t-SNE", exact=True).click()
        clicked = time.perf_counter()
        page.get_by_test_id("stPlotlyChart").get_by_text("t-SNE 1").wait_for(timeout=300_000)
        drawn = time.perf_counter()
    finally:
        page.close()
    return drawn - clicked, drawn - opened


def shipped_models() -> list[str]:
    return sorted(p.parent.name for p in (REPO / "checkpoints").glob("*/CURRENT"))


def job_status(runs: Path) -> str:
    records = [json.loads(f.read_text()) for f in (runs / ".jobs").glob("*.json")]
    return records[0]["status"] if records else "not started"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--moves", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--drag-seconds", type=float, default=2.0)
    parser.add_argument("--job-data", choices=sorted(JOB_DATA), default="digits")
    parser.add_argument("--sessions", type=int, default=30)
    parser.add_argument("--load-rounds", type=int, default=4)
    parser.add_argument("--server-only", action="store_true",
                        help="only the server path: idle, and under the class's load")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    busy, beside, first_curve, tsne, pads = None, None, None, None, {}
    with sync_playwright() as p, tempfile.TemporaryDirectory() as tmp:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        servers, pages, startup, urls = [], {}, {}, {}
        runs = Path(tmp) / "Latent-Lab" / "runs"
        try:
            for name, script in (("trivial page", "benchmarks/trivial_app.py"),
                                 ("Latent Lab", "app.py")):
                startup[name], pages[name], proc, urls[name] = first_render(
                    browser, script, Path(tmp) / name.replace(" ", "-"))
                servers.append(proc)
            url = urls["Latent Lab"]
            if not args.server_only:
                pads = {m: pad_drag(browser, url, m, args.drag_seconds)
                        for m in shipped_models()}
                tsne = tsne_click(browser, url, runs) if fashion.folder() else None
            # The server path: the app's fallback switch, native sliders.
            pages["Latent Lab"].get_by_text("Decode in the browser").click()
            pages["Latent Lab"].locator('[data-testid="stSlider"]').first.wait_for(
                timeout=60_000)
            pages["Latent Lab"].wait_for_timeout(500)
            idle = alternating(pages, args.moves, args.rounds)
            trainer = job_form(browser, url, "load", EPOCHS,
                               "" if args.server_only else JOB_DATA[args.job_data])
            trainer.get_by_role("button", name="Start training").click()
            pressed = time.perf_counter()
            trainer.locator('[data-testid="stPlotlyChart"]').first.wait_for(timeout=120_000)
            first_curve = time.perf_counter() - pressed
            trainer.wait_for_timeout(5000)  # into training
            if not args.server_only:
                beside = alternating(pages, args.moves, args.rounds)
                # In class the Train page is drawn by the teacher's browser, not a student's:
                # the same moves with it closed, the job training on.
                trainer.close()
                busy = alternating(pages, args.moves, args.rounds)
                trainer = browser.new_page(viewport={"width": 1200, "height": 900})
                trainer.goto(f"{url}/train")  # watched again, for the class's load below
                trainer.locator('[data-testid="stPlotlyChart"]').first.wait_for(timeout=120_000)
            for page in pages.values():
                page.close()
            load = class_load(browser, url, servers[1].pid, args.sessions, args.load_rounds)
            status = job_status(runs)
        finally:
            for proc in servers:
                stop_app(proc)
            browser.close()
    if status != "running":
        raise SystemExit(f"the load's job was {status} at the end, not running: rerun")
    print(f"slider move -> image, {args.moves} moves per page in {args.rounds} alternating "
          "rounds, ms (p50 / p95): first new image, all drawn (traversals included)")
    print(f"  {'':36s} {'server up':>9s} {'first image':>11s} {'first':>13s} {'all drawn':>13s}")
    for condition, r in (("idle", idle), ("job, Train page closed", busy),
                         ("job, Train page beside", beside)):
        if r is None:
            continue
        for name in pages:
            first, drawn = r[name]["first"], r[name]["drawn"]
            print(f"  {name + ', ' + condition:36s} "
                  f"{(f'{startup[name][0]:.2f} s' if condition == 'idle' else ''):>9s} "
                  f"{(f'{startup[name][1]:.2f} s' if condition == 'idle' else ''):>11s} "
                  f"{statistics.median(first):6.0f} /{percentile(first, 95):5.0f} "
                  f"{statistics.median(drawn):6.0f} /{percentile(drawn, 95):5.0f}")
        ratios = r["ratios"]
        print(f"  ratio app / trivial, p50 of the first image, {condition}: "
              f"{statistics.median(ratios):.2f} (rounds: {min(ratios):.2f} to {max(ratios):.2f})"
              + (f" (target {IDLE_RATIO_TARGET:g})" if r is idle else ""))
        if r is busy:
            app_p95 = percentile(r["Latent Lab"]["first"], 95)
            print(f"  p95 of the app's first image while the job trains, its Train page closed: "
                  f"{app_p95:.0f} "
                  f"ms (target {BUSY_P95_TARGET_MS:g} ms)")
    print(f"  Start pressed -> first curve on the Train page "
          f"({'digits' if args.server_only else args.job_data} job): {first_curve:.2f} s")
    times = load["times"]
    print(f"\n{args.sessions} sessions on Explore ({LOAD_MODEL}, native sliders) release a slider "
          f"together, {args.load_rounds} rounds, while the job trains:")
    print(f"  the server process's CPU per release rerun: {load['cpu_per_rerun'] * 1e3:.1f} ms "
          f"(target {CPU_TARGET_MS:g} ms; {len(times)} reruns, {load['missed']} moves lost); "
          f"round trip p50 / p95 {statistics.median(times) / 1e3:.2f} / "
          f"{percentile(times, 95) / 1e3:.2f} s")
    if args.server_only:
        return
    if tsne is None:
        print("  t-SNE from the click: skipped, Fashion-MNIST's files are not installed "
              "(apt-get install dataset-fashion-mnist)")
    else:
        print(f"  t-SNE of 10,000 Fashion test codes on the Map: click -> map drawn "
              f"{tsne[0]:.2f} s (target {TSNE_TARGET_S:g} s); page opened -> map drawn "
              f"{tsne[1]:.2f} s")
    server_p95 = percentile(idle["Latent Lab"]["first"], 95)
    print(f"\nin-page decode on the pad, {args.drag_seconds:g} s drag each: pointer event -> "
          f"decoded and drawn, ms; beside it the server path's idle p95 ({server_p95:.0f} ms)")
    print("  (decode + draw: the part spent in the pad's own code; sent: kB from the server when "
          "the page opened, and the largest message after the release's rerun)")
    print(f"  {'model':20s} {'events':>6s} {'p50':>6s} {'p95':>6s} {'server/pad p95':>15s} "
          f"{'decode+draw p95':>16s} {'sent: opened':>13s} {'after release':>14s}")
    for model, r in pads.items():
        p95 = percentile(r["times"], 95)
        print(f"  {model:20s} {len(r['times']):6d} {statistics.median(r['times']):6.2f} "
              f"{p95:6.2f} {server_p95 / p95:14.0f}x {percentile(r['work'], 95):16.2f} "
              f"{r['opened'] / 1e3:10.0f} kB {r['after'] / 1e3:11.1f} kB")


if __name__ == "__main__":
    main()
