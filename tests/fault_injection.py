"""Faults planted inside a job's worker process for the reliability suite.

A worker is spawned, so a test's monkeypatch does not reach it: the test swaps
`vae.job_worker.worker_main` for `worker_main` here (the manager looks it up when it starts a
worker) and names the fault in the environment, which the spawned process inherits. The worker
then plants the fault and runs the real worker code, unchanged.

Faults (FAULT_ENV = "KIND:ARG"):
- `lr_spike:STEP`: from STEP on the learning rate is 1e3, so the loss turns non-finite a few
  steps later, as a runaway learning rate makes it.
- `disk_full:FLAG` / `permission_denied:FLAG`: while the file FLAG exists, every checkpoint
  file write fails as a full disk (after writing half the file) or a refused permission makes
  it; each refused write appends a line to FLAG.log. Deleting FLAG "frees the disk".
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

FAULT_ENV = "LATENT_LAB_TEST_FAULT"


def failing_writes(kind: str, flag: Path):
    """A stand-in for vae.checkpoints._write_synced that fails while `flag` exists."""
    from vae import checkpoints

    real = checkpoints._write_synced

    def write(file: Path, data: bytes) -> None:
        if not flag.exists():
            return real(file, data)
        with open(flag.with_name(flag.name + ".log"), "a") as log:
            log.write(f"{file}\n")
        if kind == "permission_denied":
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(file))
        with open(file, "xb") as f:  # a full disk takes part of the file, then refuses
            f.write(data[: len(data) // 2])
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(file))

    return write


def plant(fault: str) -> None:
    kind, _, arg = fault.partition(":")
    if kind == "lr_spike":
        from vae.training import Trainer

        real_step, at = Trainer.train_step, int(arg)

        def train_step(self, index):
            if self.step >= at:
                for group in self.optimizer.param_groups:
                    group["lr"] = 1e3
            return real_step(self, index)

        Trainer.train_step = train_step
    elif kind in ("disk_full", "permission_denied"):
        from vae import checkpoints

        checkpoints._write_synced = failing_writes(kind, Path(arg))
    elif kind:
        raise ValueError(f"unknown fault {fault!r}")


def worker_main(*args) -> None:
    from vae import job_worker

    plant(os.environ.get(FAULT_ENV, ""))
    job_worker.worker_main(*args)
