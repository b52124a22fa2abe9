"""Test-split evaluation (the ELBO over 10 passes of fresh z, what a page shows first) of a
shipped model, next to the plainest loop that computes the same ELBO from the same z draws:
`elbo_terms` per pass, each encoding the batch again, in the model's default memory format.
The two ELBOs printed must agree. Each side runs twice, alternating, after a warm-up that
builds the data and runs the model once; each is scored by its faster run. Then each side runs
once more in a fresh process (modules imported, nothing built or run yet), as on a page's first
visit to a model. With --iwae-samples K, the whole evaluation `python -m vae evaluate` does
(the ELBO and the importance-weighted bound with K samples) is timed once more on --threads.

    python -m benchmarks.evaluation [--model shapes-sweep-b1]
    python -m benchmarks.evaluation --model fashion-vae --iwae-samples 100 --threads 2
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

import torch

from vae import checkpoints
from vae.derived import ELBO_ONLY, checkpoint_data, evaluate_checkpoint
from vae.evaluation import streams
from vae.losses import elbo_terms
from vae.models import as_input

PASSES = 10
BATCH = 256  # evaluate's default


@torch.no_grad()
def plain_elbo(path: str) -> float:
    model, ckpt = checkpoints.load_model(path)
    model.eval()
    x, split = checkpoint_data(ckpt)
    x = torch.as_tensor(x)
    y = torch.as_tensor(split.y) if model.config.num_classes else None
    d = model.config.latent_dim
    generator = streams(0)[0]
    elbo = []
    for i in range(0, len(x), BATCH):
        xb, cb = as_input(x[i:i + BATCH]), None if y is None else y[i:i + BATCH]
        eps = [torch.randn(len(xb), d, generator=generator) for _ in range(PASSES)]
        elbo.append(torch.stack([elbo_terms(model, xb, cb, e)["elbo"] for e in eps]).mean(0))
    return torch.cat(elbo).mean().item()


# A fresh interpreter times one side from its first call: building the data and the kernels'
# first use are part of what a first visit waits for.
FRESH = """
import sys, torch
torch.set_num_threads(1)
from benchmarks.evaluation import ours, plain_elbo, timed
path, side = sys.argv[1], sys.argv[2]
print(timed(plain_elbo if side == "plain" else ours, path)[0])
"""


def fresh_seconds(path: str, side: str) -> float:
    out = subprocess.run([sys.executable, "-c", FRESH, path, side], check=True, text=True,
                         capture_output=True, cwd=Path(__file__).resolve().parent.parent)
    return float(out.stdout.split()[-1])


def ours(path: str) -> float:
    return evaluate_checkpoint(path, iwae_samples=ELBO_ONLY, use_cache=False)["elbo"]


def timed(fn, *args, **kwargs):
    start = time.perf_counter()
    value = fn(*args, **kwargs)
    return time.perf_counter() - start, value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="shapes-sweep-b1")
    parser.add_argument("--iwae-samples", type=int, metavar="K")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    name = args.model
    path = str(checkpoints.SHIPPED_DIR / name)
    torch.set_num_threads(1)
    model, ckpt = checkpoints.load_model(path)
    with torch.no_grad():  # warm-up: the data is built and cached, the kernels are set up
        model.decode(torch.zeros(BATCH, model.config.latent_dim),
                     torch.zeros(BATCH, dtype=torch.long) if model.config.num_classes else None)
    checkpoint_data(ckpt)

    runs = [(timed(plain_elbo, path), timed(ours, path)) for _ in range(2)]
    (plain_s, plain), (ours_s, elbo) = (min(side) for side in zip(*runs, strict=True))
    print(f"{name}: test ELBO over {PASSES} passes, one thread, faster of 2 runs each")
    print(f"  plain loop (reference)   {plain_s:6.2f} s   ELBO {plain:.4f}")
    print(f"  evaluate_checkpoint      {ours_s:6.2f} s   ELBO {elbo:.4f}   "
          f"({plain_s / ours_s:.1f}x faster; it also computes the K = 1 bound and active units)")
    fresh = {side: fresh_seconds(path, side) for side in ("plain", "ours")}
    print(f"  in a fresh process: plain loop {fresh['plain']:.2f} s, evaluate_checkpoint "
          f"{fresh['ours']:.2f} s ({fresh['plain'] / fresh['ours']:.1f}x faster)")
    if args.iwae_samples:
        torch.set_num_threads(args.threads)
        seconds, full = timed(evaluate_checkpoint, path, iwae_samples=args.iwae_samples,
                              use_cache=False)
        print(f"  the whole evaluation, K = {full['iwae_samples']}, {full['n_examples']:,} images, "
              f"{args.threads} thread(s): {seconds:.1f} s   ELBO {full['elbo']:.4f}, "
              f"IWAE bound {full['log_likelihood']:.4f}")


if __name__ == "__main__":
    main()
