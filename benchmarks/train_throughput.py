"""Training throughput of a job run through the job manager (a spawned worker process, one
torch thread, as in the app) next to a bare loop over the same model and data in this process.

    python -m benchmarks.train_throughput [--epochs 200] [--threads 1]

Both sides time each epoch's training steps (the job's per-epoch `seconds`), so the ratio
shows what the worker, its callbacks and its reporting cost. Both validate after each epoch,
outside the timed steps; the job's start-up (process spawn, imports, data) and the validation
are printed separately. This machine's speed drifts by tens of percent
over seconds (shared cores), so the two run interleaved and each is scored by its fastest
decile of epochs, the quiet moments both had; the median is printed beside it.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from vae import checkpoints
from vae.data import load_dataset
from vae.jobs import JobManager
from vae.losses import elbo_terms, training_objective
from vae.models import VAE, ModelConfig
from vae.runner import RunSpec

MODEL = {"hidden": [400], "latent_dim": 20}  # the pytorch/examples shape, DESIGN §7


def bare_loop(epochs: int, batch_size: int, threads: int) -> tuple[list[float], float]:
    """(seconds per epoch of training steps, median seconds of a validation) of the plainest
    loop that trains the same model the same way. It validates after each epoch as the job
    does, untimed on both sides, so both loops see the same work between their epochs."""
    torch.set_num_threads(threads)
    torch.set_flush_denormal(True)  # as the Trainer does
    data = load_dataset("digits")
    x, x_val = (torch.as_tensor(split.images()) for split in (data.train, data.val))
    torch.manual_seed(0)
    model = VAE(ModelConfig(hidden=tuple(MODEL["hidden"]), latent_dim=MODEL["latent_dim"]))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, fused=True)
    rng = np.random.default_rng(0)
    seconds, validations = [], []
    for _ in range(epochs):
        model.train()
        start = time.perf_counter()
        order = torch.as_tensor(rng.permutation(len(x)))
        for b in range(0, len(x), batch_size):
            terms = elbo_terms(model, x[order[b:b + batch_size]])
            loss = training_objective(terms["recon"], terms["kl_per_dim"], 1.0).loss
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        seconds.append(time.perf_counter() - start)
        with torch.no_grad():
            elbo_terms(model.eval(), x_val)["elbo"].mean().item()
        validations.append(time.perf_counter() - start - seconds[-1])
    return seconds, float(np.median(validations))


def job(epochs: int, batch_size: int, threads: int) -> tuple[list[float], float]:
    """(seconds per epoch of training steps, seconds from submit to the first step)."""
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
        # A finished job's live records are let go once saved: its history has them.
        epochs = checkpoints.load(record.out).history["epochs"]
        return [e["seconds"] for e in epochs], startup


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=200)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    bare, jobs, startups, validations = [], [], [], []
    for _ in range(args.repeats):
        seconds, validation = bare_loop(args.epochs, args.batch_size, args.threads)
        bare += seconds
        validations.append(validation)
        seconds, startup = job(args.epochs, args.batch_size, args.threads)
        jobs += seconds
        startups.append(startup)
    n_train = len(load_dataset("digits").train)

    def rate(seconds: list[float], q: float) -> float:
        return n_train / float(np.quantile(seconds, q))

    print(f"digits MLP 64-400-20, batch {args.batch_size}, {args.repeats} x {args.epochs} "
          f"epochs each, {args.threads} thread(s); samples/s: fastest decile (median)")
    print(f"  bare loop (reference)   {rate(bare, 0.1):9.0f} ({rate(bare, 0.5):.0f})")
    print(f"  job via JobManager      {rate(jobs, 0.1):9.0f} ({rate(jobs, 0.5):.0f})")
    print(f"  ratio job / bare        {rate(jobs, 0.1) / rate(bare, 0.1):9.3f} "
          f"({rate(jobs, 0.5) / rate(bare, 0.5):.3f})   (target >= 0.95)")
    print(f"  job start-up            {min(startups):9.2f} s (spawn, imports, data)")
    print(f"  validation, each epoch  {1e3 * min(validations):9.2f} ms (both loops, not timed)")

if __name__ == "__main__":
    main()
