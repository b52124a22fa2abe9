"""One study through both sweep backends in one invocation: the local job manager (the
reference) and Ray (`--backend ray` on a head node started here), on this machine.

    python -m benchmarks.sweep [--epochs 2000]

Eight members (betas 1, 2, 4, 8 x seeds 0, 1) of a digits MLP, each about a minute of
training, two at a time on either side, one thread each. Ray's start-up (`ray start --head`)
is timed apart from its study; its overhead is the study's extra wall time over the local
one (target <= 10 %). The members' weights must be identical between the two backends. Ray
runs inside a network namespace that has only loopback (as in the tests): the benchmark
re-runs itself in one.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from vae import checkpoints

IN_NAMESPACE = "LATENT_LAB_BENCH_NAMESPACE"
PORT = 6399
STUDY = ["--betas", "1,2,4,8", "--seeds", "0,1", "--dataset", "digits", "--hidden", "400",
         "--latent-dim", "10", "--device", "cpu", "--quiet"]
TARGET = 0.10


def timed(command: list[str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"{' '.join(command[2:5])} ... failed:\n{done.stdout}{done.stderr}")
    return time.perf_counter() - start


def same_weights(a: Path, b: Path) -> bool:
    one, other = checkpoints.load(a).weights(), checkpoints.load(b).weights()
    return one.keys() == other.keys() and all(torch.equal(one[k], other[k]) for k in one)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=2000)
    args = parser.parse_args()
    if os.environ.get(IN_NAMESPACE) != "1":
        script = 'ip link set lo up && exec "$@"'
        os.execvpe("unshare", ["unshare", "-n", "bash", "-c", script, "_", sys.executable,
                               "-m", "benchmarks.sweep", *sys.argv[1:]],
                   {**os.environ, IN_NAMESPACE: "1", "RAY_AUTH_MODE": "disabled",
                    "RAY_USAGE_STATS_ENABLED": "0"})
    vae = [sys.executable, "-m", "vae", "sweep", *STUDY, "--epochs", str(args.epochs)]
    ray = [sys.executable, "-c", "from ray.scripts.scripts import main; main()"]
    with tempfile.TemporaryDirectory() as root:
        local, on_ray = Path(root, "local", "study"), Path(root, "ray", "study")
        local_s = timed([*vae, "--out", str(local)])
        start_s = timed([*ray, "start", "--head", f"--port={PORT}", "--num-cpus=2",
                         "--node-ip-address=127.0.0.1", "--include-dashboard=false",
                         "--disable-usage-stats"])
        try:
            ray_s = timed([*vae, "--backend", "ray", "--address", f"127.0.0.1:{PORT}",
                           "--out", str(on_ray)])
        finally:
            subprocess.run([*ray, "stop", "--force"], capture_output=True)
        members = sorted(p.name for p in local.iterdir() if checkpoints.is_checkpoint(p))
        identical = sum(same_weights(local / m, on_ray / m) for m in members)
    overhead = ray_s / local_s - 1
    print(f"8-member digits study (400 hidden, z = 10, {args.epochs} epochs a member), two at "
          "a time, one thread each")
    print(f"  local backend (reference)  {local_s:7.1f} s")
    print(f"  Ray backend                {ray_s:7.1f} s   (+ {start_s:.1f} s to start the head)")
    print(f"  Ray's overhead             {overhead:+7.1%}   (target <= {TARGET:.0%})")
    print(f"  identical weights          {identical} of {len(members)} members")


if __name__ == "__main__":
    main()
