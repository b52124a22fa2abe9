"""Training throughput of a job run through the job manager (a spawned worker process, one
torch thread, as in the app) next to a bare loop over the same model and data in this process.

    python -m benchmarks.train_throughput [--epochs 200] [--threads 1]

Both sides time only the epochs' training steps (the job's per-epoch `seconds`), so the
ratio shows what the worker, its callbacks and its reporting cost; the job's start-up
(process spawn, imports, data) is printed separately.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from vae.data import load_dataset
from vae.jobs import JobManager
from vae.losses import elbo_terms, training_loss
from vae.models import VAE, ModelConfig
from vae.runner import RunSpec

MODEL = {"hidden": [400], "latent_dim": 20}  # the pytorch/examples shape, DESIGN §7


def bare_loop(epochs: int, batch_size: int, threads: int) -> float:
    """Samples per second of the plainest loop that trains the same model the same way."""
    torch.set_num_threads(threads)
    data = load_dataset("digits")
    x = torch.as_tensor(data.train.images())
    torch.manual_seed(0)
    model = VAE(ModelConfig(hidden=tuple(MODEL["hidden"]), latent_dim=MODEL["latent_dim"]))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, fused=True)
    rng = np.random.default_rng(0)
    start = time.perf_counter()
    for _ in range(epochs):
        order = torch.as_tensor(rng.permutation(len(x)))
        for b in range(0, len(x), batch_size):
            terms = elbo_terms(model, x[order[b:b + batch_size]])
            loss = training_loss(terms["recon"], terms["kl_per_dim"], 1.0)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
    return epochs * len(x) / (time.perf_counter() - start)


def job(epochs: int, batch_size: int, threads: int) -> tuple[float, float]:
    """(samples per second over the training steps, seconds from submit to the first step)."""
    with tempfile.TemporaryDirectory() as root:
        manager = JobManager(Path(root), threads=threads)
        spec = RunSpec(model=MODEL, train={"epochs": epochs, "batch_size": batch_size})
        submitted = time.perf_counter()
        record = manager.submit(spec, "bench")
        while record.step == 0 and record.active:
            time.sleep(0.01)
        startup = time.perf_counter() - submitted
        manager.wait(record.id)
        manager.shutdown()
        if record.status != "finished":
            raise SystemExit(f"job {record.status}: {record.message}")
        n_train = len(load_dataset("digits").train)
        seconds = sum(e["seconds"] for e in record.epochs)
        return epochs * n_train / seconds, startup


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=200)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    # Interleave the two so that a noisy neighbour slows both alike; report the best of each.
    bare, jobs, startups = [], [], []
    for _ in range(args.repeats):
        bare.append(bare_loop(args.epochs, args.batch_size, args.threads))
        rate, startup = job(args.epochs, args.batch_size, args.threads)
        jobs.append(rate)
        startups.append(startup)
    print(f"digits MLP 64-400-20, batch {args.batch_size}, {args.epochs} epochs, "
          f"{args.threads} thread(s), best of {args.repeats}")
    print(f"  bare loop (reference)   {max(bare):9.0f} samples/s")
    print(f"  job via JobManager      {max(jobs):9.0f} samples/s")
    print(f"  ratio job / bare        {max(jobs) / max(bare):9.3f}   (target >= 0.95)")
    print(f"  job start-up            {min(startups):9.2f} s (spawn, imports, data)")


if __name__ == "__main__":
    main()
