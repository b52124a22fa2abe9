"""Worker processes that live only as long as their parent (docs/design.md §2): jobs and t-SNE."""

from __future__ import annotations

import multiprocessing as mp
import os
import sys
import threading
import time
import types

PARENT_CHECK_S = 0.25
_MAIN_LOCK = threading.Lock()


def start_process(proc: mp.process.BaseProcess) -> None:
    """Start a spawned process without it re-running the parent's __main__ file.

    spawn re-executes `__main__.__file__` in the child before the target runs; under Streamlit
    __main__ is the app script (Streamlit installs it there), which the child must not run.
    The targets here need nothing from __main__, so a bare module stands in while starting.
    """
    with _MAIN_LOCK:
        main = sys.modules.get("__main__")
        sys.modules["__main__"] = types.ModuleType("__main__")
        try:
            proc.start()
        finally:
            sys.modules["__main__"] = main


def _watch(parent_pid: int) -> None:
    while os.getppid() == parent_pid:
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
