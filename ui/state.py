"""Server-wide state: the job manager, loaded models, data and derived arrays (what a session
chose is ui/session.py).

Heavy objects live in st.cache_resource (one per server), keyed by a checkpoint version's key
(a hash of its weights, docs/design.md §5), so that a retrained model is never served another's
data under a reused name.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import streamlit as st

from vae import checkpoints
from vae.background import Progress, Workers
from vae.cached_figures import cached_evaluation
from vae.data import Dataset, Split, load_dataset
from vae.decoder_payload import Unsupported
from vae.decoder_payload import decoder_payload as _decoder_payload
from vae.derived import (
    ELBO_ONLY,
    checkpoint_data,
    encode_split,
    evaluate_checkpoint,
    metrics_file,
    metrics_target,
)
from vae.derived import shown_split as derived_shown_split
from vae.jobs import JobManager
from vae.latent import PixelIndex, pixel_index
from vae.models import VAE
from vae.projection import TsneWorkers


@st.cache_resource(show_spinner="Starting the server…")
def server_started() -> None:
    """Once per server, before anything derived is read."""
    checkpoints.remove_legacy_caches()


@st.cache_resource(show_spinner=False)
def job_manager() -> JobManager:
    # docs/design.md §2: one running job while the app serves; the worker gets one torch thread.
    return JobManager(max_running=1, max_queued=8, threads=1, idle=True)


def _fingerprint() -> tuple:
    """Every checkpoint folder with its pointer's mtime: changes on save, rename and delete,
    and costs a few stat calls, where listing parses every config and history."""
    marks = []
    for root in (checkpoints.SHIPPED_DIR, checkpoints.RUNS_DIR):
        for pointer in Path(root).glob("*/CURRENT"):
            try:
                marks.append((str(pointer), pointer.stat().st_mtime_ns))
            except OSError:  # removed while we looked: the next rerun sees the change
                continue
    return tuple(sorted(marks))


@st.cache_resource(max_entries=4, show_spinner="Listing the models…")
def _listing(fingerprint: tuple) -> list[checkpoints.Checkpoint]:
    return checkpoints.list_checkpoints()


def model_list() -> list[checkpoints.Checkpoint]:
    """Shipped models first, then runs; re-read only when a checkpoint changed on disk."""
    return _listing(_fingerprint())


@st.cache_resource(show_spinner=False)
def tsne_workers() -> TsneWorkers:
    # docs/design.md §2: t-SNE runs off the server, in a spawned process, one map at a time.
    return TsneWorkers(max_running=1)


@st.cache_resource(show_spinner=False)
def metric_workers() -> Workers:
    # Metrics take about 10 s on shapes (DCI's boosted trees): computed off the server,
    # one model at a time.
    return Workers(max_running=1)


def request_metrics(ckpt: checkpoints.Checkpoint) -> Progress:
    """Disentanglement metrics (and test ELBO terms) of a model: cached, or being computed."""
    return metric_workers().request(metrics_file(ckpt), metrics_target, (str(ckpt.path),),
                                    ready=Path.exists)


@st.cache_resource(max_entries=16, show_spinner="Loading the model…")
def _load(path: str, key: str) -> tuple[VAE, checkpoints.Checkpoint]:
    return checkpoints.load_model(path)


def key_of(path: str | Path) -> str:
    """The key of the checkpoint's current version (docs/design.md §5)."""
    return checkpoints.current_key(path)


def load(path: str | Path) -> tuple[VAE, checkpoints.Checkpoint]:
    return _load(str(path), key_of(path))


@st.cache_resource(max_entries=8, show_spinner="Loading the model's data…")
def dataset(spec: str, image_size: int | None = None, rgb: bool = False) -> Dataset:
    return load_dataset(spec, image_size=image_size, rgb=rgb)


def model_dataset(ckpt: checkpoints.Checkpoint) -> Dataset:
    data = ckpt.config["data"]
    return dataset(data["dataset"], data.get("image_size"), data.get("rgb", False))


# The ELBO terms only: the IWAE bound (python -m vae evaluate) costs K decodes an image.
TEST_IWAE_SAMPLES = ELBO_ONLY


@st.cache_data(max_entries=32, show_spinner="Evaluating the model on its test split…")
def test_evaluation(path: str, key: str) -> dict:
    return evaluate_checkpoint(path, iwae_samples=TEST_IWAE_SAMPLES)


def measured_test_evaluation(ckpt: checkpoints.Checkpoint) -> dict | None:
    """test_evaluation where they were measured already (they are kept on disk), else None:
    listing many models must not evaluate each."""
    return cached_evaluation(ckpt, iwae_samples=TEST_IWAE_SAMPLES)


@st.cache_data(max_entries=32, show_spinner="Looking for the model's test images…")
def shown_split(path: str, key: str) -> str:
    """"test", or the bundled sample's split where the model's data is not here
    (vae.derived.shown_split); a DataError, one sentence, where it has neither."""
    return derived_shown_split(load(path)[1])


def sample_note(path: str, key: str) -> str | None:
    """What a page showing test images says where they are the model's bundled sample."""
    if shown_split(path, key) == "test":
        return None
    return (f"On {len(test_images(path, key)):,} test images: the sample that comes with this "
            "model, because its full data is not installed here.")


@st.cache_data(max_entries=16, show_spinner="Encoding the test images…")
def _encodings(path: str, key: str, split: str) -> dict[str, np.ndarray]:
    return encode_split(path, split)


def encodings(path: str, key: str, split: str | None = None) -> dict[str, np.ndarray]:
    """mu, logvar, y (and factors) of a split; by default of the test images shown."""
    return _encodings(path, key, split or shown_split(path, key))


@st.cache_resource(max_entries=16, show_spinner="Preparing the decoder for the browser…")
def decoder_payload(path: str, key: str) -> dict | str:
    """The model's decoder for the page's latent pad, or why the page cannot run it."""
    try:
        return _decoder_payload(load(path)[0])
    except Unsupported as e:
        return str(e)


# A resource, shared by every session (pages only read it), not data: st.cache_data would keep
# a pickled copy of the float pixels (31 MB for Fashion's test split) and unpickle another at
# every call, several times a rerun.
@st.cache_resource(max_entries=16, show_spinner="Reading the test images…")
def _test_split_data(path: str, key: str, split: str) -> tuple[np.ndarray, np.ndarray | None]:
    x, part = checkpoint_data(load(path)[1], split)
    return Split(x).images(), part.y


def test_images(path: str, key: str) -> np.ndarray:
    """The test images shown (shown_split) as the model sees them (binarized where it was
    trained so), float32 in [0, 1]: what pages show and encode."""
    return _test_split_data(path, key, shown_split(path, key))[0]


def test_labels(path: str, key: str) -> np.ndarray | None:
    """The labels of test_images, or None for data without labels."""
    return _test_split_data(path, key, shown_split(path, key))[1]


@st.cache_resource(max_entries=4, show_spinner="Indexing the training images…")
def _train_index(spec: str, image_size: int | None, rgb: bool) -> PixelIndex:
    pixels = dataset(spec, image_size, rgb).train.x  # uint8 stays uint8 (vae.latent.nearest_in)
    return pixel_index(pixels.reshape(len(pixels), -1))


def train_index(ckpt: checkpoints.Checkpoint) -> PixelIndex:
    """A model's training images, indexed for `vae.latent.nearest_in` ("is the model
    copying?")."""
    data = ckpt.config["data"]
    return _train_index(data["dataset"], data.get("image_size"), data.get("rgb", False))
