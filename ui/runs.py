"""A training job as the Train page shows it: live from its worker, or from its checkpoint once
saved; models rebuilt from weight copies; the pictures of a run at one moment.

Pictures are cached server-wide, keyed by what identifies the weights (job and step, or
checkpoint version and step), so many tabs watching one job decode it once.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

import numpy as np
import streamlit as st
import torch

from ui import state
from vae import checkpoints
from vae.checkpoints import split_snapshots
from vae.data import Split, model_inputs
from vae.evaluation import active_units
from vae.jobs import Job
from vae.latent import decode_images, dimension_name, encode_images, sample_prior
from vae.model_config import ModelConfig
from vae.models import VAE
from vae.projection import orient, pca

SHOWN_INPUTS = 8
SAMPLES = 16
MAP_POINTS = 500
# The live panel redraws with every weight update (once a second), its map only with each
# snapshot (ui/live_map.py): fewer images keep a conv model's encoding light on the server's core.
LIVE_POINTS = 128


@dataclass
class Run:
    """One job's curves, config and weights, whichever side of the finish line it is on."""

    job: Job
    config: dict | None = None
    steps: list[dict] = field(default_factory=list)
    epochs: list[dict] = field(default_factory=list)
    beta_changes: list[dict] = field(default_factory=list)
    weights: Mapping | None = None
    weights_key: str = ""  # identifies `weights` for caching
    checkpoint: str | None = None  # "path:key" once the run is read from disk

    @property
    def saved(self) -> bool:
        return self.checkpoint is not None


def saved_checkpoint(job: Job) -> checkpoints.Checkpoint | None:
    # An unsaved run is newer than whatever its folder holds: shown from memory.
    if job.holds_out or not checkpoints.is_checkpoint(job.out):
        return None
    try:
        return state.load(job.out)[1]
    except (checkpoints.CheckpointError, OSError):
        return None


def run_of(job: Job) -> Run:
    ckpt = saved_checkpoint(job)
    if ckpt is None:
        # Copies, because the manager's event thread appends while this run reads.
        weights = job.weights
        return Run(job, job.config, list(job.steps), list(job.epochs), list(job.beta_changes),
                   weights, f"{job.id}:{job.step}:{id(weights)}")
    history = ckpt.history
    key = f"{ckpt.path}:{ckpt.key}"
    return Run(job, ckpt.config, history["steps"], history["epochs"], history["beta_changes"],
               None, key, key)


def model_from_weights(config: dict, weights: Mapping) -> VAE:
    """A checkpoint config's model holding a copy of weights (numpy arrays or tensors)."""
    return VAE.with_weights(ModelConfig.from_dict(config["model"]),
                            {k: torch.as_tensor(np.asarray(v)) for k, v in weights.items()})


@st.cache_resource(max_entries=8, show_spinner="Reading validation images…")
def validation(dataset: str, image_size: int | None, rgb: bool,
               binarize: bool) -> tuple[np.ndarray, np.ndarray | None]:
    """The first MAP_POINTS validation images as a model sees them, and their labels."""
    data = state.dataset(dataset, image_size, rgb)
    x = Split(model_inputs(data.val, "val", binarize)[:MAP_POINTS]).images()
    return x, None if data.val.y is None else data.val.y[:MAP_POINTS]


def run_validation(config: dict) -> tuple[np.ndarray, np.ndarray | None, list[str]]:
    """A run's validation images, labels and class names (its config's: --class-names)."""
    data = config["data"]
    x, y = validation(data["dataset"], data.get("image_size"), data.get("rgb", False),
                      config["train"].get("binarize", False))
    return x, y, list(data["class_names"])


@dataclass
class Pictures:
    inputs: np.ndarray  # a few fixed validation images, (n, C, H, W)
    reconstructions: np.ndarray  # their decodings from the posterior mean
    samples: np.ndarray  # decodings of fixed z ~ N(0, I)
    codes: np.ndarray  # the validation images' posterior means mapped to 2-D
    labels: np.ndarray | None
    class_names: list[str]
    axis_titles: tuple[str, str]
    extent: float | None  # a raw 2-D plane is drawn at a fixed scale, PCA scaled to fit
    active: list[int]  # dimensions with Cov_x(E[z_j|x]) > 0.01


def pictures(model: VAE, config: dict, points: int = MAP_POINTS) -> Pictures:
    """What a run looks like with these weights; `points` validation images are encoded for
    the map and the count of dimensions in use."""
    x, y, class_names = run_validation(config)
    x, y = x[:points], None if y is None else y[:points]
    labels = y if model.config.num_classes else None
    mu, _ = encode_images(model, x, labels)
    shown = slice(0, SHOWN_INPUTS)
    recon = decode_images(model, mu[shown], None if labels is None else labels[shown])
    k = model.config.num_classes
    # The same z at every step (seed 0), so a replay shows the same samples take shape; a CVAE
    # shows one style under each class.
    samples = sample_prior(model, 1 if k else SAMPLES, seed=0)[0][:SAMPLES]
    if mu.shape[1] == 2:
        codes, titles, extent = mu, (dimension_name(0), dimension_name(1)), 4.0
    else:
        codes, ratio = pca(mu)
        titles = tuple(f"PC {i + 1} ({100 * r:.0f} % of variance)" for i, r in enumerate(ratio))
        extent = None
    return Pictures(x[shown], recon, samples, codes, y, class_names, titles, extent,
                    active_units(mu).tolist())


@st.cache_resource(max_entries=64, show_spinner=False)
def _cached_pictures(key: str, points: int, _config: dict, _weights: Mapping) -> Pictures:
    return pictures(model_from_weights(_config, _weights), _config, points)


@st.cache_resource(max_entries=16, show_spinner=False)
def _cached_saved_pictures(key: str, path: str) -> Pictures:
    model, ckpt = state.load(path)
    return pictures(model, ckpt.config)


def latest_pictures(run: Run) -> Pictures | None:
    """The run's pictures with its latest weights (the saved model once it is done)."""
    if run.saved:
        return _cached_saved_pictures(run.weights_key, run.job.out)
    if run.config is None or run.weights is None:
        return None
    return _cached_pictures(run.weights_key, LIVE_POINTS, run.config, run.weights)


@st.cache_resource(max_entries=8, show_spinner="Reading the run's snapshots…")
def _saved_snapshots(key: str, path: str) -> dict[int, dict[str, torch.Tensor]]:
    for _ in range(2):
        ckpt = checkpoints.load(path)
        try:
            tensors = ckpt.snapshots()
        except checkpoints.CheckpointError:
            tensors = None
        # A save between the load and the read trims the version just loaded to its weights
        # (docs/design.md §5): the new current version has the snapshots.
        if tensors is not None or checkpoints.current_key(path) == ckpt.key:
            return split_snapshots(tensors or {})
    return {}


def snapshots(run: Run) -> dict[int, Mapping]:
    """{step: weights} of the run's timeline (docs/design.md §5: up to 50, log-spaced in steps)."""
    if run.saved:
        return _saved_snapshots(run.checkpoint, run.job.out)
    return dict(run.job.snapshots)


def snapshot_pictures(run: Run, step: int, weights: Mapping) -> Pictures | None:
    if run.config is None:
        return None
    return _cached_snapshot_pictures(run.checkpoint or run.job.id, step, run.config, weights)


@st.cache_resource(max_entries=64, show_spinner=False)
def _cached_snapshot_pictures(run_key: str, step: int, _config: dict, _weights: Mapping
                              ) -> Pictures:
    return _maps.orient(run_key, step, pictures(model_from_weights(_config, _weights), _config,
                                                MAP_POINTS))


class _SnapshotMaps:
    """The PCA maps drawn of each run's snapshots, so that a snapshot's refit PCA is drawn with
    its axes ordered and signed as the nearest snapshot's map already drawn
    (vae.projection.orient): the cloud moves as the codes move, not because a refit flipped an
    axis, whether the live map steps forward or the timeline is scrubbed back."""

    RUNS_KEPT = 16

    def __init__(self) -> None:
        self._maps: OrderedDict[str, dict[int, np.ndarray]] = OrderedDict()
        self._lock = threading.Lock()

    def orient(self, run_key: str, step: int, pics: Pictures) -> Pictures:
        if pics.extent is not None:  # a 2-D code, on its own fixed axes
            return pics
        with self._lock:
            drawn = self._maps.setdefault(run_key, {})
            near = min(drawn, key=lambda s: abs(s - step), default=None)
            if near is not None and drawn[near].shape == pics.codes.shape:
                codes, order = orient(pics.codes, drawn[near])
                pics = replace(pics, codes=codes,
                               axis_titles=tuple(pics.axis_titles[i] for i in order))
            drawn[step] = pics.codes
            self._maps.move_to_end(run_key)
            while len(self._maps) > self.RUNS_KEPT:
                self._maps.popitem(last=False)
        return pics


_maps = _SnapshotMaps()

