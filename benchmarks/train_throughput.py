"""Training throughput of a job run through the job manager (a worker process forked from the
fork server, one torch thread, as in the app) next to a bare loop over the same model and data
in this process.

    python -m benchmarks.train_throughput [--rounds 10] [--epochs 100] [--threads 1]
    python -m benchmarks.train_throughput --dataset fashion --rounds 5 --epochs 3
    python -m benchmarks.train_throughput --dataset fashion --arch conv --rounds 3 --epochs 1

The model is the pytorch/examples MLP (784-400-20 on Fashion) or, with --arch conv, the shipped
conv recipe's model (the shapes-conv preset: four stride-2 layers of 32 channels).

Both sides validate after each epoch and time each epoch from the previous one's end (the
job's per-epoch `seconds`), so the ratio shows all the worker, its callbacks, its reporting
and its roll-back copy cost. The job's start-up (process start, imports, data) is printed
separately, and a run this short makes none of the periodic saves (one every 30 s). This
machine's speed drifts by tens of percent over seconds (shared cores), so the two alternate in
short rounds, each going first in every other round; each side of a round is scored by the
summed seconds of all its epochs (the job's periodic work included), and the ratio is the
median of the rounds' ratios. A third side runs the bare loop in a freshly spawned process (a
worker is a process of its own too): what separates it from the job is the job's own work,
what separates it from the bare loop is the process. Peak resident memory is that of the
spawned bare loop's process and of the job's worker process (the worker keeps pixels as uint8,
the bare loop as float32, as pytorch/examples does).
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import resource
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import torch

from vae import checkpoints
from vae.data import load_dataset
from vae.jobs import JobManager
from vae.losses import elbo_terms, training_objective
from vae.models import VAE
from vae.presets import PRESETS
from vae.runner import RunSpec

MODELS = {"mlp": {"hidden": [400], "latent_dim": 20},  # pytorch/examples, docs/design.md §6
          "conv": PRESETS["shapes-conv"]["model"]}


def bare_loop(epochs: int, batch_size: int, threads: int,
              dataset: str = "digits", arch: str = "mlp") -> list[float]:
    """Seconds per epoch of the plainest loop that trains the same model the same way and,
    like the job, validates after each epoch; timed from epoch to epoch, as the job is."""
    torch.set_num_threads(threads)
    torch.set_flush_denormal(True)  # as the Trainer does
    data = load_dataset(dataset)
    x, x_val = (torch.as_tensor(split.images()) for split in (data.train, data.val))
    torch.manual_seed(0)
    model = VAE(RunSpec(dataset=dataset, model=MODELS[arch]).model_config(data))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, fused=True)
    rng = np.random.default_rng(0)
    seconds = []
    last = time.perf_counter()
    for _ in range(epochs):
        model.train()
        order = torch.as_tensor(rng.permutation(len(x)))
        for b in range(0, len(x), batch_size):
            terms = elbo_terms(model, x[order[b:b + batch_size]])
            loss = training_objective(terms["recon"], terms["kl_per_dim"], 1.0).loss
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        with torch.no_grad():
            elbo_terms(model.eval(), x_val)["elbo"].mean().item()
        now = time.perf_counter()
        seconds.append(now - last)
        last = now
    return seconds


def _peak_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _bare_with_peak(*args) -> tuple[list[float], int]:
    return bare_loop(*args), _peak_bytes()


def spawned_bare_loop(epochs: int, batch_size: int, threads: int, dataset: str = "digits",
                      arch: str = "mlp") -> tuple[list[float], int]:
    """bare_loop in a new spawned process (its start-up is not timed), and that process's
    peak resident memory in bytes."""
    with ProcessPoolExecutor(1, mp_context=mp.get_context("spawn")) as pool:
        return pool.submit(_bare_with_peak, epochs, batch_size, threads, dataset,
                           arch).result()


def _worker_peak(pid: int | None) -> int:
    """The peak resident memory of a live process (VmHWM), 0 once it is gone."""
    try:
        with open(f"/proc/{pid}/status") as status:
            line = next(row for row in status if row.startswith("VmHWM:"))
        return int(line.split()[1]) * 1024
    except (OSError, StopIteration, TypeError):
        return 0


def job(epochs: int, batch_size: int, threads: int, dataset: str = "digits",
        arch: str = "mlp") -> tuple[list[float], float, int]:
    """(seconds per epoch of training steps, seconds from submit to the first step, the
    worker process's peak resident memory in bytes)."""
    with tempfile.TemporaryDirectory() as root:
        manager = JobManager(Path(root), threads=threads, idle=True)  # as the app's
        spec = RunSpec(dataset=dataset, model=MODELS[arch],
                       train={"epochs": epochs, "batch_size": batch_size})
        submitted = time.perf_counter()
        record = manager.submit(spec, "bench")
        while record.step == 0 and record.active:
            time.sleep(0.01)
        startup = time.perf_counter() - submitted
        peak = 0
        while record.active:  # read until the worker exits: the last reading is its peak
            peak = max(peak, _worker_peak(record.pid))
            time.sleep(0.2)
        manager.wait(record.id)
        manager.shutdown()
        if record.status != "finished":
            raise SystemExit(f"job {record.status}: {record.message}")
        # A finished job's live records are let go once saved: its history has them.
        epochs = checkpoints.load(record.out).history["epochs"]
        return [e["seconds"] for e in epochs], startup, peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--dataset", choices=["digits", "fashion"], default="digits")
    parser.add_argument("--arch", choices=sorted(MODELS), default="mlp")
    args = parser.parse_args()
    data = load_dataset(args.dataset)
    samples = len(data.train) * args.epochs  # per side and round
    side_args = (args.epochs, args.batch_size, args.threads, args.dataset, args.arch)

    bare, spawned, jobs, startups, ratios, process_ratios = [], [], [], [], [], []
    peaks = {"spawned": 0, "job": 0}
    order = ("bare", "spawned", "job")
    for r in range(args.rounds):
        # Every epoch counts, periodic work included; the sides take turns going first.
        sides = {}
        for side in order[r % 3:] + order[:r % 3]:
            if side == "bare":
                sides[side] = sum(bare_loop(*side_args))
            elif side == "spawned":
                seconds, peak = spawned_bare_loop(*side_args)
                sides[side], peaks[side] = sum(seconds), max(peaks[side], peak)
            else:
                seconds, startup, peak = job(*side_args)
                sides[side], peaks[side] = sum(seconds), max(peaks[side], peak)
                startups.append(startup)
        bare.append(sides["bare"])
        spawned.append(sides["spawned"])
        jobs.append(sides["job"])
        ratios.append(sides["bare"] / sides["job"])
        process_ratios.append(sides["spawned"] / sides["job"])

    config = RunSpec(dataset=args.dataset, model=MODELS[args.arch]).model_config(data)
    layers = (f"MLP {int(np.prod(data.image_shape))}-{'-'.join(map(str, config.hidden))}"
              if config.arch == "mlp" else
              f"conv {'-'.join(map(str, config.conv_channels))} channels, then "
              f"{'-'.join(map(str, config.hidden))}")
    print(f"{args.dataset} {layers}-{config.latent_dim}, batch {args.batch_size}, {args.rounds} "
          "alternating rounds of "
          f"{args.epochs} epochs each, {args.threads} thread(s); samples/s over all epochs of "
          "all rounds")
    print(f"  bare loop (reference)   {samples * len(bare) / sum(bare):9.0f}")
    print(f"  bare loop, spawned      {samples * len(spawned) / sum(spawned):9.0f}")
    print(f"  job via JobManager      {samples * len(jobs) / sum(jobs):9.0f}")
    print(f"  ratio job / bare        {np.median(ratios):9.3f} (median of the rounds; "
          f"{min(ratios):.3f} to {max(ratios):.3f})   (target >= 0.95)")
    print(f"  ratio job / spawned     {np.median(process_ratios):9.3f} (median of the rounds; "
          f"{min(process_ratios):.3f} to {max(process_ratios):.3f}): the job's own work")
    print(f"  job start-up            {min(startups):9.2f} s (spawn, imports, data)")
    print(f"  peak memory, MB         {peaks['spawned'] / 2**20:9.0f} bare loop (spawned), "
          f"{peaks['job'] / 2**20:.0f} job worker")


if __name__ == "__main__":
    main()
