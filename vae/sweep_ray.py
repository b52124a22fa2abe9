"""Sweep members as Ray tasks, for studies past one machine (`sweep --backend ray`).

Ray places the tasks (one CPU each, or one GPU), retries a task whose worker process died and
cancels what is left on Ctrl-C; nothing here schedules. Nodes share no disk with the driver:
a member trains from scratch in a temporary folder of its node and sends back its slim copy
(weights, config, history, snapshots; no optimizer state), which the driver saves under the
sweep's folder (docs/design.md §2).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from vae import checkpoints
from vae.runner import RunSpec

# A member whose worker process dies (killed, out of memory, a lost node) is tried again this
# many times in the same run; an exception raised by the training itself is not retried.
RETRIES = 2
INSTALL = "pip install -r requirements-ray.txt"


def import_ray():
    """The ray module, or a sentence saying how to install it."""
    try:
        import ray
    except ImportError:
        raise ValueError(f"--backend ray needs Ray, which is not installed: {INSTALL}") from None
    return ray


def train_member(spec: dict, name: str) -> dict[str, bytes]:
    """On a Ray worker: train one member to its end on one thread and return its slim files."""
    import torch

    from vae.runner import train_run

    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory(prefix="latent-lab-") as tmp:
        result = train_run(RunSpec.from_dict(spec), Path(tmp) / name)
        if result.status != "finished":
            raise RuntimeError(result.message)
        return result.checkpoint.slim_files()


def run(left: list[tuple[str, RunSpec, Path, bool]], root: Path, *, address: str | None,
        gpu: bool = False) -> Iterator[tuple[str, str | None]]:
    """Train the members `left` (sweep.unfinished's) as Ray tasks, on the cluster at `address`
    or on a Ray started for this run; yield (name, None) as each is saved under `root`, or
    (name, error) as one fails. Closing the generator (Ctrl-C) cancels what is still out."""
    ray = import_ray()
    # The machines are offline: no usage report, no dashboard, and no warning that the
    # internet cannot be reached to find this machine's address.
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    os.environ.setdefault("RAY_BACKEND_LOG_LEVEL", "error")
    ray.init(address=address, include_dashboard=False, logging_level="ERROR",
             log_to_driver=False, configure_logging=False,
             runtime_env={"py_modules": [str(Path(__file__).parent)]})
    task = ray.remote(train_member).options(num_cpus=1, num_gpus=int(gpu), max_retries=RETRIES)
    out: dict = {}
    try:
        out = {task.remote(spec.to_dict(), name): (name, folder)
               for name, spec, folder, _ in left}
        while out:
            [ref], _ = ray.wait(list(out), num_returns=1)
            name, folder = out.pop(ref)
            try:
                files = ray.get(ref)
            except ray.exceptions.RayError as err:
                yield name, _cause(err)
                continue
            if checkpoints.is_checkpoint(folder):  # the unfinished local try it replaces
                checkpoints.delete(folder)
            checkpoints.import_files(files, f"Ray member '{name}'", name, root=root, name=name)
            yield name, None
    finally:
        for ref in out:
            ray.cancel(ref, force=True)
        ray.shutdown()


def _cause(err: Exception) -> str:
    """The member's own error, without Ray's traceback around it."""
    cause = getattr(err, "cause", None)
    if cause is not None:
        return str(cause) or type(cause).__name__
    return str(err).strip().splitlines()[-1] if str(err).strip() else type(err).__name__
