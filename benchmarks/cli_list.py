"""`python -m vae list` over 20 checkpoints with an empty cache (a fresh copy: nothing
evaluated yet), next to `python -m vae --help` in the same invocation (the reference: starting
Python and importing the CLI). `list` never evaluates, so it should cost little more.

    python -m benchmarks.cli_list [--rounds 5]

Target: <= 2 s.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.harness import REPO

TARGET_S = 2.0
COPIES = 20


def timed(args: list[str], env: dict) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "vae", *args], cwd=REPO, env=env, check=True,
                   capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as root:
        runs = Path(root) / "runs"
        for i in range(COPIES):
            shutil.copytree(REPO / "checkpoints" / "digits-vae-20d", runs / f"copy-{i:02d}",
                            ignore=shutil.ignore_patterns("derived"))
        lists, helps = [], []
        for _ in range(args.rounds):
            # A new empty cache each round: every round is a first visit.
            cache = tempfile.mkdtemp(dir=root)
            env = {**os.environ, "LATENT_LAB_RUNS_DIR": str(runs), "LATENT_LAB_CACHE_DIR": cache}
            helps.append(timed(["--help"], env))
            lists.append(timed(["list"], env))
    print(f"vae list, {COPIES} unevaluated checkpoints plus the shipped ones, empty cache, "
          f"{args.rounds} rounds (seconds, best / median)")
    for name, times in (("list", lists), ("--help (reference)", helps)):
        print(f"  {name:20s} {min(times):6.2f} / {sorted(times)[len(times) // 2]:6.2f}")
    verdict = "ok" if sorted(lists)[len(lists) // 2] <= TARGET_S else "OVER"
    print(f"  target <= {TARGET_S:g} s (median): {verdict}")


if __name__ == "__main__":
    main()
