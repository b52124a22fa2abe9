"""2-D maps of latent codes: PCA at once, t-SNE off the server and cached per checkpoint version
(vae.derived names the file).

t-SNE takes seconds (docs/design.md §6), so it runs in a spawned process (docs/design.md §2)
that writes its result to a cache file atomically; a second request for the same checkpoint
version reads the file. The worker reports progress in a small JSON file next to the result.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from pathlib import Path

import numpy as np

from vae.background import Progress, Workers
from vae.files import write_atomic
from vae.latent import dimension_name

# openTSNE with FFT-interpolated repulsion and 300 iterations, where scikit-learn's default runs
# 1,000 Barnes-Hut ones: several times faster at the same trustworthiness and 10-NN label
# accuracy (python -m benchmarks.tsne; at 250 the shapes codes' accuracy came within 0.002 of
# its bound, and 375 took a second more at 10,000 codes for no better map). Phases as
# (iterations, settings): early exaggeration lets clusters form, then the map spreads out, then
# settles. The repulsion grid has a cell per `ints_in_interval` units of the map and costs the
# square of its cells, while the map spreads to ~100 units at 10,000 points: cells of 2 units
# keep it cheap, and finer ones in the last iterations let each point settle among its
# neighbours. 20 cells a side at least (openTSNE's smallest grid; its default is 50) suffice
# while exaggeration keeps the map within ~10 units.
# Bump when the map's algorithm or settings change, so cached maps are recomputed.
TSNE_VERSION = 2
_PHASES = ((100, {"exaggeration": 12, "ints_in_interval": 2.0}),
           (150, {"ints_in_interval": 2.0}),
           (50, {"ints_in_interval": 1.5}))
TSNE_ITERATIONS = sum(n for n, _ in _PHASES)
_REPORT_EVERY = 25  # iterations between progress reports


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


def orient(coords: np.ndarray, reference: np.ndarray) -> tuple[np.ndarray, list[int]]:
    """coords (n, 2) with their axes swapped and signed as best matches reference (the same
    n points, mapped before), and which of coords' axes each output axis is. A refit PCA keeps
    its axes principal this way, yet a cloud that merely changed sign or the order of its two
    variances stays where it was."""
    coords, reference = np.asarray(coords), np.asarray(reference)
    best, order = coords, [0, 1]
    error = np.inf
    for axes in ([0, 1], [1, 0]):
        swapped = coords[:, axes]
        signs = np.where((swapped * reference).sum(0) < 0, -1.0, 1.0)
        candidate = swapped * signs.astype(coords.dtype)
        if (miss := float(((candidate - reference) ** 2).sum())) < error:
            best, order, error = candidate, axes, miss
    return best, order


def tsne(codes: np.ndarray, seed: int = 0, progress: Callable[[float], None] | None = None,
         threads: int | None = None) -> np.ndarray:
    """The codes' t-SNE map (perplexity 30, fewer for tiny sets): (n, 2) float32 coordinates,
    the same for the same codes and seed.

    `progress(fraction)` is called every 25 iterations; `threads` bounds the threads used
    (None: every core).
    """
    # Imported here, before the thread limit, so that the limit reaches their thread pools.
    from openTSNE import TSNEEmbedding, affinity, initialization
    from threadpoolctl import threadpool_limits

    x = np.asarray(codes, np.float64)
    if not np.isfinite(x).all():
        raise ValueError("the codes contain NaN or infinite values")
    # Perplexity must stay below the number of points; tiny sets still get a map.
    perplexity = min(30.0, max(1.0, (len(x) - 1) / 3))
    jobs = threads or -1
    done = 0

    def report(iteration: int, error: float, embedding: np.ndarray) -> None:
        progress((done + iteration) / TSNE_ITERATIONS)

    with threadpool_limits(threads):
        affinities = affinity.PerplexityBasedNN(x, perplexity, method="exact", n_jobs=jobs,
                                                random_state=seed)
        embedding = TSNEEmbedding(
            initialization.pca(x, random_state=seed), affinities,
            negative_gradient_method="fft", min_num_intervals=20, n_jobs=jobs,
            random_state=seed, callbacks=report if progress else None,
            callbacks_every_iters=_REPORT_EVERY)
        for iterations, settings in _PHASES:
            embedding.optimize(iterations, inplace=True, **settings)
            done += iterations
    return np.asarray(embedding, np.float32)


def neighbour_accuracy(coords: np.ndarray, labels: np.ndarray, k: int = 10) -> float:
    """Share of points whose label is the most common one among their k nearest other points
    in the map (a tie goes to the label that sorts first): how well a map keeps classes apart."""
    from sklearn.neighbors import NearestNeighbors

    _, classes = np.unique(np.asarray(labels), return_inverse=True)
    neighbours = NearestNeighbors(n_neighbors=k).fit(coords).kneighbors(return_distance=False)
    votes = np.zeros((len(classes), classes.max() + 1), np.int64)
    np.add.at(votes, (np.arange(len(classes))[:, None], classes[neighbours]), 1)
    return float((votes.argmax(1) == classes).mean())


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
    # One thread: the server's other core stays free for the pages (docs/design.md §2).
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
    """One row per code: index, label, the code's mean per dimension (mu_z1 .. mu_zd, named as
    the pages name them), then each 2-D map's x and y columns."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    names = list(coords)
    writer.writerow(["index", "label", *(f"mu_{dimension_name(j)}" for j in range(mu.shape[1])),
                     *(f"{name}_{axis}" for name in names for axis in ("x", "y"))])
    for i, row in enumerate(mu):
        label = "" if labels is None else labels[i]
        maps = [f"{v:.6g}" for name in names for v in coords[name][i]]
        writer.writerow([i, label, *(f"{v:.6g}" for v in row), *maps])
    return out.getvalue()


def projector_tsv(mu: np.ndarray, labels: list[str] | None) -> tuple[str, str]:
    """The codes as TensorFlow's Embedding Projector loads them: the vectors (one row of
    tab-separated values per code, no header) and their metadata (a header row, then each
    row's index and label)."""
    vectors = "".join("\t".join(f"{v:.6g}" for v in row) + "\n" for row in mu)
    clean = [" ".join(str(t).split()) for t in labels] if labels is not None else None
    metadata = "index\tlabel\n" + "".join(
        f"{i}\t{'' if clean is None else clean[i]}\n" for i in range(len(mu)))
    return vectors, metadata
