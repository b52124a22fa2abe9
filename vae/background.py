"""Cached computations off the server (docs/design.md §2): t-SNE maps and disentanglement
metrics take seconds, so each runs in a spawned process that writes its result file
atomically, and reports progress in a small JSON file beside it. A file computed once is read
by every later request."""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from vae.files import write_atomic
from vae.processes import exit_with_parent, start

# target(*args, file=..., report=...) computes and writes `file` (with write_atomic);
# report(fraction) may be called as it goes.
Target = Callable[..., None]
Ready = Callable[[Path], bool]


def progress_file(file: Path) -> Path:
    return file.with_name(file.name + ".progress.json")


def _worker(target: Target, args: tuple, file: str, parent_pid: int) -> None:
    exit_with_parent(parent_pid)
    status = progress_file(Path(file))

    def report(fraction: float) -> None:
        write_atomic(status, json.dumps({"fraction": fraction}).encode())

    try:
        target(*args, file=Path(file), report=report)
    except Exception as err:  # the page shows it; the worker has nowhere else to say it
        write_atomic(status, json.dumps({"error": f"{type(err).__name__}: {err}"}).encode())
        raise SystemExit(1) from None
    status.unlink(missing_ok=True)


@dataclass
class Progress:
    state: str  # ready | running | waiting | failed | idle
    fraction: float = 0.0
    message: str = ""


class Workers:
    """At most `max_running` computations at once, one per result file."""

    def __init__(self, max_running: int = 1):
        self.max_running = max_running
        self._lock = threading.Lock()
        self._procs: dict[Path, mp.process.BaseProcess] = {}
        self._failed: dict[Path, str] = {}

    def request(self, file: Path, target: Target, args: tuple, *, ready: Ready,
                retry: bool = False) -> Progress:
        """Start computing unless the result is ready, running or failed (see `retry`)."""
        with self._lock:
            if retry:
                self._failed.pop(file, None)
            progress = self._status(file, ready)
            if progress.state != "idle":
                return progress
            if sum(p.is_alive() for p in self._procs.values()) >= self.max_running:
                return Progress("waiting", 0.0, "waiting for another computation to finish")
            progress_file(file).unlink(missing_ok=True)
            proc = start(_worker, (target, args, str(file), os.getpid()), "latentlab-worker")
            self._procs[file] = proc
            return Progress("running", 0.0)

    def status(self, file: Path, *, ready: Ready) -> Progress:
        with self._lock:
            return self._status(file, ready)

    def shutdown(self) -> None:
        with self._lock:
            for proc in self._procs.values():
                if proc.is_alive():
                    proc.terminate()
                proc.join(5)
            self._procs.clear()

    def _status(self, file: Path, ready: Ready) -> Progress:
        if ready(file):
            proc = self._procs.get(file)
            if proc is not None and not proc.is_alive():
                proc.join()
                del self._procs[file]
            return Progress("ready", 1.0)
        if file in self._failed:
            return Progress("failed", 0.0, self._failed[file])
        report = self._report(file)
        proc = self._procs.get(file)
        if proc is not None and proc.is_alive():
            return Progress("running", float(report.get("fraction", 0.0)))
        if proc is not None:
            proc.join()
            del self._procs[file]
            message = report.get("error") or "the worker stopped without a result"
            self._failed[file] = message
            return Progress("failed", 0.0, message)
        return Progress("idle")

    @staticmethod
    def _report(file: Path) -> dict:
        try:
            report = json.loads(progress_file(file).read_text())
        except (OSError, ValueError):
            return {}
        return report if isinstance(report, dict) else {}
