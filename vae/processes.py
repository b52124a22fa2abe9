"""Worker processes that live only as long as their parent (docs/design.md §2): jobs and t-SNE.

Workers fork from a fork server that imported their libraries once (PRELOAD): a spawned
interpreter spent 2 s importing torch, a job's first optimizer 1.7 s more importing
torch._dynamo and a map's worker 1.3 s importing openTSNE, and a class waits for each.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import sys
import threading
import time
import types
from collections.abc import Callable

PARENT_CHECK_S = 0.25
# Workers yield the CPU to the server and the browser beside it: a slider's rerun waited behind
# a training step when both wanted a core, and the job loses nothing while they are idle.
# Niceness 10 still left a training worker a tenth of a contended core, so one started `idle`
# runs under SCHED_IDLE (Linux), on what every other program leaves (docs/design.md §2 has the
# figures). A map or metrics someone waits for keeps the niceness alone: at SCHED_IDLE the Map
# page's own redraws held its t-SNE back.
NICENESS = 10
PRELOAD = ["torch", "torch._dynamo", "openTSNE"]
_MAIN_LOCK = threading.Lock()


def context() -> mp.context.BaseContext:
    """The one way workers start: forked from the fork server (PRELOAD imported)."""
    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload(PRELOAD)
    return ctx


def warm_up() -> threading.Thread:
    """Start the fork server and wait, in a thread of its own, for a first worker to run: the
    fork server imports PRELOAD before it forks anything, so that worker's end says the imports are
    done. Join the thread to wait for it; meanwhile the caller's own work runs beside it."""
    thread = threading.Thread(target=lambda: start(_nothing, (), "warm-up").join(), daemon=True)
    thread.start()
    return thread


def _nothing() -> None:
    """The warm-up worker's work."""


def start(target: Callable[..., None], args: tuple, name: str, *, idle: bool = False
          ) -> mp.process.BaseProcess:
    """`target(*args)` in a worker forked from the fork server, with this process's environment
    as it is now (the fork server keeps the one it started with) from the moment the target
    runs; a module that reads the environment as it is imported, which can happen as `args`
    are unpickled, still sees the fork server's (vae.checkpoints' folders: set them before the
    first worker starts, as the app and the tests do).

    The child prepares itself as a spawned one would, re-executing `__main__.__file__` before
    the target runs; under Streamlit __main__ is the app script (Streamlit installs it there),
    which the child must not run. The targets here need nothing from __main__, so a bare
    module stands in while starting.
    """
    proc = context().Process(target=_run, args=(dict(os.environ), target, args, idle),
                             name=name, daemon=True)
    with _MAIN_LOCK:
        main = sys.modules.get("__main__")
        sys.modules["__main__"] = types.ModuleType("__main__")
        try:
            proc.start()
        finally:
            sys.modules["__main__"] = main
    return proc


def _run(environ: dict[str, str], target: Callable[..., None], args: tuple, idle: bool) -> None:
    os.nice(NICENESS)
    if idle and hasattr(os, "SCHED_IDLE"):
        with contextlib.suppress(OSError):  # a sandbox may refuse it: the niceness holds
            os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
    os.environ.clear()
    os.environ.update(environ)
    target(*args)


def _watch(parent_pid: int) -> None:
    # The server is watched by its pid: a worker's own parent is the fork server, which stays
    # up as long as any worker holds its pipe, the dead server's included.
    while pid_alive(parent_pid):
        time.sleep(PARENT_CHECK_S)
    os._exit(3)  # the parent is gone: nobody will read or save this work


def exit_with_parent(parent_pid: int) -> None:
    """Called first thing in a worker: it exits within PARENT_CHECK_S of its parent's death,
    so a killed server leaves no orphan computing or writing."""
    threading.Thread(target=_watch, args=(parent_pid,), daemon=True).start()


def pid_alive(pid: int | None) -> bool:
    """True for a running process; a zombie (exited, never reaped by its adopter) is dead."""
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True
