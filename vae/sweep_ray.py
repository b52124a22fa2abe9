"""Sweep members as Ray tasks, for studies past one machine (`sweep --backend ray`).

Ray places the tasks (one CPU each, or one GPU), retries a task whose worker process died and
cancels what is left on Ctrl-C; nothing here schedules. Nodes share no disk with the driver:
a member trains from scratch in a temporary folder of its node and sends back its slim copy
(weights, config, history, snapshots; no optimizer state), which the driver saves under the
sweep's folder (docs/design.md §2).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from vae import checkpoints
from vae.runner import RunSpec

# A member whose worker process dies (killed, out of memory, a lost node) is tried again this
# many times in the same run; an exception raised by the training itself is not retried.
RETRIES = 2
INSTALL = "pip install -r requirements-ray.txt"
PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


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
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"  # the machines are offline
    task = ray.remote(train_member).options(num_cpus=1, num_gpus=int(gpu), max_retries=RETRIES)
    out: dict = {}
    with contextlib.ExitStack() as stack:
        if address is None:
            address = stack.enter_context(local_head())
        ray.init(address=address, logging_level="ERROR", log_to_driver=False,
                 configure_logging=False,
                 runtime_env={"py_modules": [str(Path(__file__).parent)]})
        stack.callback(ray.shutdown)
        stack.callback(lambda: [ray.cancel(ref, force=True) for ref in out])
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


@contextlib.contextmanager
def local_head(timeout: float = 120.0) -> Iterator[str]:
    """A Ray head node on this machine's loopback for one run; its address. `ray start --block`
    stops every process of the node when it gets SIGTERM, which the kernel sends it when this
    process dies, however it dies, so a killed sweep leaves no Ray behind."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    head = subprocess.Popen(
        [sys.executable, "-c", "from ray.scripts.scripts import main; main()", "start",
         "--head", "--block", f"--port={port}", "--node-ip-address=127.0.0.1",
         f"--num-cpus={os.cpu_count()}", "--include-dashboard=false",
         "--disable-usage-stats"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=_die_with_parent)
    try:
        deadline = time.monotonic() + timeout
        while not _accepts(port):
            if head.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("Ray could not start on this machine; try `ray start "
                                   "--head` by hand to see why.")
            time.sleep(0.2)
        yield f"127.0.0.1:{port}"
    finally:
        head.terminate()
        try:
            head.wait(60)
        except subprocess.TimeoutExpired:
            head.kill()


def _accepts(port: int) -> bool:
    with socket.socket() as client:
        return client.connect_ex(("127.0.0.1", port)) == 0


def _die_with_parent() -> None:
    """In the child before it runs: SIGTERM when the parent process exits (Linux)."""
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def _cause(err: Exception) -> str:
    """The member's own error, without Ray's traceback around it."""
    cause = getattr(err, "cause", None)
    if cause is not None:
        return str(cause) or type(cause).__name__
    return str(err).strip().splitlines()[-1] if str(err).strip() else type(err).__name__
