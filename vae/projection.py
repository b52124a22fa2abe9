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
import re
from pathlib import Path

import numpy as np

from vae.background import Progress, Workers, write_atomic

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


def cached_tsne(codes: np.ndarray, file: Path, seed: int = 0, progress=None,
                threads: int | None = None) -> np.ndarray:
    """t-SNE of the codes from the cache file, computing and storing it first if needed."""
    coords = load_cached(file, len(codes))
    if coords is not None:
        return coords
    coords = tsne(codes, seed, progress, threads)
    buffer = io.BytesIO()
    np.save(buffer, coords, allow_pickle=False)
    write_atomic(file, buffer.getvalue())
    return coords


def _tsne_target(codes: np.ndarray, seed: int, *, file: Path, report) -> None:
    # One thread: the server's other core stays free for the pages (DESIGN §1).
    cached_tsne(codes, file, seed, report, threads=1)


class TsneWorkers:
    """t-SNE maps computed by background workers, one per cache file."""

    def __init__(self, max_running: int = 1):
        self.workers = Workers(max_running)

    def request(self, codes: np.ndarray, file: Path, seed: int = 0,
                retry: bool = False) -> Progress:
        return self.workers.request(file, _tsne_target, (codes, seed),
                                    ready=_ready(len(codes)), retry=retry)

    def status(self, file: Path, n: int) -> Progress:
        return self.workers.status(file, ready=_ready(n))

    def shutdown(self) -> None:
        self.workers.shutdown()


def _ready(n: int):
    return lambda file: load_cached(file, n) is not None


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
