"""Peak resident memory of the processes Latent Lab runs at 28x28 scale, each beside a reference
measured in the same invocation:

- the worker process of a job training the pytorch/examples MLP (784-400-20) on all 54,000
  Fashion-MNIST training images (target <= 600 MB); reference: the same loop in a spawned
  process holding the pixels as float32, as pytorch/examples does;
- `python -m vae metrics` on the shipped fashion-vae's 10,000 test codes, its cached figures
  left behind (target <= 800 MB); reference: a process that only imports torch and
  scikit-learn;
- the server's growth after opening every page on fashion-vae in Chromium (target <= 300 MB);
  reference: the trivial two-slider app's server after as many page opens.

    python -m benchmarks.memory
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks.harness import CHROMIUM, CHROMIUM_ARGS, REPO, start_app, stop_app, wait_idle
from benchmarks.train_throughput import job, spawned_bare_loop

MB = 2**20
PAGES = ["", "train", "map", "interpolate", "conditional", "disentangle", "models"]
MODEL = "fashion-vae"


def peak_of_command(args: list[str], env: dict | None = None) -> int:
    """The peak resident memory in bytes of `python args...`, run to its end."""
    proc = subprocess.Popen([sys.executable, *args], cwd=REPO, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    if status:
        raise SystemExit(f"{' '.join(args)} failed with status {status}")
    return usage.ru_maxrss * 1024


def resident(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        line = next(row for row in status if row.startswith("VmRSS:"))
    return int(line.split()[1]) * 1024


def server_growth(browser, tmp: Path, script: str, paths: list[str]) -> list[int]:
    """A server's resident memory from its first answer on, in bytes: at the start, then after
    opening each of `paths` in a new tab."""
    proc, url = start_app(tmp, script=script)
    try:
        sizes = [resident(proc.pid)]
        for path in paths:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(f"{url}/{path}")
            page.get_by_text("Presentation mode").or_(page.locator("img")).first.wait_for(
                timeout=180_000)
            wait_idle(page, timeout=180_000)
            page.close()
            sizes.append(resident(proc.pid))
        return sizes
    finally:
        stop_app(proc)


def main() -> None:
    from playwright.sync_api import sync_playwright

    _, _, job_peak = job(1, 128, 1, "fashion")
    _, bare_peak = spawned_bare_loop(1, 128, 1, "fashion")
    print("Peak resident memory, MB")
    print(f"  job worker, 54,000 Fashion images, 1 epoch  {job_peak / MB:6.0f}   (target <= 600)"
          f"   bare loop with float32 pixels, spawned: {bare_peak / MB:.0f}")

    with tempfile.TemporaryDirectory() as root:
        copy = Path(root) / MODEL  # without its shipped figures, so metrics computes them
        shutil.copytree(REPO / "checkpoints" / MODEL, copy,
                        ignore=shutil.ignore_patterns("derived"))
        env = {**os.environ, "LATENT_LAB_CACHE_DIR": str(Path(root) / "cache")}
        metrics = peak_of_command(["-m", "vae", "metrics", str(copy), "--quiet", "--threads",
                                   "1"], env)
        imports = peak_of_command(["-c", "import torch, sklearn.ensemble"])
    print(f"  python -m vae metrics, 10,000 codes         {metrics / MB:6.0f}   (target <= 800)"
          f"   importing torch and scikit-learn alone: {imports / MB:.0f}")

    paths = [f"{page}?model={MODEL}" for page in PAGES]
    with sync_playwright() as p, tempfile.TemporaryDirectory() as root:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        app = server_growth(browser, Path(root) / "app", "app.py", paths)
        trivial = server_growth(browser, Path(root) / "trivial", "benchmarks/trivial_app.py",
                                [""] * len(paths))
        browser.close()
    print(f"  server growth, every page on {MODEL}       {(app[-1] - app[0]) / MB:6.0f}   "
          f"(target <= 300)   trivial app, as many opens: {(trivial[-1] - trivial[0]) / MB:.0f}")
    steps = ", ".join(f"{page or 'explore'} +{(after - before) / MB:.0f}"
                      for page, before, after in zip(PAGES, app[:-1], app[1:], strict=True))
    print(f"    from {app[0] / MB:.0f} MB at the start: {steps}")


if __name__ == "__main__":
    main()
