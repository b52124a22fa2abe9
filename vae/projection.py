"""2-D maps of latent codes: PCA at once, t-SNE off the server and cached per checkpoint version.

t-SNE takes seconds (DESIGN §7), so it runs in a spawned process (DESIGN §1) that writes its
result to a cache file atomically; a second request for the same checkpoint version reads the
file. The worker reports progress in a small JSON file next to the result.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import json
import multiprocessing as mp
import os
import re
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vae.processes import exit_with_parent, start_process

TSNE_ITERATIONS = 1000  # scikit-learn's default max_iter
# scikit-learn's TSNE has no callback; with verbose=2 it logs every 50th iteration.
_ITERATION = re.compile(r"\[t-SNE\] Iteration (\d+):")


def pca(codes: np.ndarray, k: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """The codes projected on their top-k principal axes, and each axis's share of the variance.

    Axes come in decreasing variance; each is signed so its largest loading is positive, which
    keeps the picture from flipping between runs. Fewer than k dimensions are padded with zeros.
    """
    x = np.asarray(codes, np.float64)
    x = x - x.mean(0)
    _, s, vt = np.linalg.svd(x, full_matrices=False)
    vt = vt[:k]
    vt = vt * np.sign(vt[np.arange(len(vt)), np.abs(vt).argmax(1)])[:, None]
    coords = np.zeros((len(x), k))
    coords[:, :len(vt)] = x @ vt.T
    total = float((s**2).sum())
    ratio = np.zeros(k)
    ratio[:len(vt)] = (s[:k] ** 2) / total if total > 0 else 0.0
    return coords.astype(np.float32), ratio


class _IterationLog(io.TextIOBase):
    """Turns TSNE's verbose log into progress fractions."""

    def __init__(self, report):
        self._report = report

    def write(self, text: str) -> int:
        match = _ITERATION.search(text)
        if match:
            self._report(min(int(match[1]) / TSNE_ITERATIONS, 1.0))
        return len(text)


def tsne(codes: np.ndarray, seed: int = 0, progress=None, threads: int | None = None,
         ) -> np.ndarray:
    """scikit-learn's t-SNE with its defaults: (n, 2) float32 coordinates.

    `progress(fraction)` is called every 50 iterations; it reads TSNE's log by redirecting this
    process's stdout, so pass it only in a worker process of its own.
    """
    # Imported here, before the thread limit, so that the limit reaches its OpenMP runtime.
    from sklearn.manifold import TSNE
    from threadpoolctl import threadpool_limits

    x = np.asarray(codes, np.float32)
    # Perplexity must stay below the number of points; tiny sets still get a map.
    perplexity = min(30.0, max(1.0, (len(x) - 1) / 3))
    model = TSNE(n_components=2, perplexity=perplexity, random_state=seed, init="pca",
                 max_iter=TSNE_ITERATIONS, verbose=2 if progress else 0)
    log = _IterationLog(progress) if progress else io.StringIO()
    with threadpool_limits(threads), contextlib.redirect_stdout(log):
        return model.fit_transform(x).astype(np.float32)


def cache_file(path: str | Path, version: str, split: str = "test", method: str = "tsne",
               seed: int = 0, root: Path | None = None) -> Path:
    """Where a projection of a checkpoint version's codes is cached (CACHE_DIR/projection)."""
    # Imported here: t-SNE workers import this module and need no torch.
    from vae import checkpoints

    key = hashlib.sha1(str((Path(path) / version).resolve()).encode()).hexdigest()[:16]
    root = checkpoints.CACHE_DIR if root is None else Path(root)
    return root / "projection" / f"{key}-{split}-{method}-seed{seed}.npy"


def load_cached(file: Path, n: int) -> np.ndarray | None:
    """The cached (n, 2) coordinates, or None when missing, unreadable or of other codes."""
    try:
        coords = np.load(file, allow_pickle=False)
    except (OSError, ValueError):
        return None
    return coords if coords.shape == (n, 2) and np.isfinite(coords).all() else None


def _write_atomic(file: Path, data: bytes) -> None:
    file.parent.mkdir(parents=True, exist_ok=True)
    tmp = file.with_name(f".{file.name}.tmp-{uuid.uuid4().hex}")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, file)
    finally:
        tmp.unlink(missing_ok=True)


def _progress_file(file: Path) -> Path:
    return file.with_suffix(".progress.json")


def cached_tsne(codes: np.ndarray, file: Path, seed: int = 0, progress=None,
                threads: int | None = None) -> np.ndarray:
    """t-SNE of the codes from the cache file, computing and storing it first if needed."""
    coords = load_cached(file, len(codes))
    if coords is not None:
        return coords
    coords = tsne(codes, seed, progress, threads)
    buffer = io.BytesIO()
    np.save(buffer, coords, allow_pickle=False)
    _write_atomic(file, buffer.getvalue())
    return coords


def _worker(codes: np.ndarray, file: str, seed: int, parent_pid: int) -> None:
    exit_with_parent(parent_pid)
    target = Path(file)
    status = _progress_file(target)

    def report(fraction: float) -> None:
        _write_atomic(status, json.dumps({"fraction": fraction}).encode())

    try:
        # One thread: the server's other core stays free for the pages (DESIGN §1).
        cached_tsne(codes, target, seed, report, threads=1)
    except Exception as err:  # the page shows it; the worker has nowhere else to say it
        _write_atomic(status, json.dumps({"error": f"{type(err).__name__}: {err}"}).encode())
        raise SystemExit(1) from None
    status.unlink(missing_ok=True)


@dataclass
class Progress:
    state: str  # ready | running | waiting | failed | idle
    fraction: float = 0.0
    message: str = ""


class TsneWorkers:
    """t-SNE computations in spawned processes, at most `max_running` at once, one per file."""

    def __init__(self, max_running: int = 1):
        self.max_running = max_running
        self._ctx = mp.get_context("spawn")
        self._lock = threading.Lock()
        self._procs: dict[Path, mp.process.BaseProcess] = {}
        self._failed: dict[Path, str] = {}

    def request(self, codes: np.ndarray, file: Path, seed: int = 0,
                retry: bool = False) -> Progress:
        """Start computing unless the result is cached, running or failed (see `retry`)."""
        with self._lock:
            if retry:
                self._failed.pop(file, None)
            progress = self._status(file, len(codes))
            if progress.state != "idle":
                return progress
            running = sum(p.is_alive() for p in self._procs.values())
            if running >= self.max_running:
                return Progress("waiting", 0.0, "waiting for another map to finish")
            _progress_file(file).unlink(missing_ok=True)
            proc = self._ctx.Process(target=_worker, args=(codes, str(file), seed, os.getpid()),
                                     name="latentlab-tsne", daemon=True)
            start_process(proc)
            self._procs[file] = proc
            return Progress("running", 0.0)

    def status(self, file: Path, n: int) -> Progress:
        with self._lock:
            return self._status(file, n)

    def shutdown(self) -> None:
        with self._lock:
            for proc in self._procs.values():
                if proc.is_alive():
                    proc.terminate()
                proc.join(5)
            self._procs.clear()

    def _status(self, file: Path, n: int) -> Progress:
        if load_cached(file, n) is not None:
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
            report = json.loads(_progress_file(file).read_text())
        except (OSError, ValueError):
            return {}
        return report if isinstance(report, dict) else {}


def encodings_csv(mu: np.ndarray, labels: list[str] | None,
                  coords: dict[str, np.ndarray]) -> str:
    """One row per code: index, label, mu_0..mu_{d-1}, then each 2-D map's x and y columns."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    names = list(coords)
    writer.writerow(["index", "label", *(f"mu_{j}" for j in range(mu.shape[1])),
                     *(f"{name}_{axis}" for name in names for axis in ("x", "y"))])
    for i, row in enumerate(mu):
        label = "" if labels is None else labels[i]
        maps = [f"{v:.6g}" for name in names for v in coords[name][i]]
        writer.writerow([i, label, *(f"{v:.6g}" for v in row), *maps])
    return out.getvalue()
