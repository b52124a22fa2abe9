"""Server-wide and per-session state: the job manager, loaded models, data and derived arrays.

Heavy objects live in st.cache_resource (one per server), keyed by a checkpoint's resolved
version folder so that a retrained or renamed model is never served stale.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import streamlit as st

from vae import checkpoints
from vae.data import Dataset, load_dataset
from vae.evaluation import checkpoint_data, encode_split, evaluate_checkpoint
from vae.jobs import JobManager
from vae.models import VAE

DEFAULT_MODEL = "digits-vae-20d"
TEACHER_PASSWORD_ENV = "LATENT_LAB_TEACHER_PASSWORD"


@st.cache_resource
def job_manager() -> JobManager:
    # DESIGN §1: one running job while the app serves; the worker gets one torch thread.
    return JobManager(max_running=1, max_queued=8, threads=1)


def model_list() -> list[checkpoints.Checkpoint]:
    """Shipped models first, then runs; re-read on every call (a folder listing: cheap)."""
    return checkpoints.list_checkpoints()


@st.cache_resource(max_entries=16)
def _load(path: str, version: str) -> tuple[VAE, checkpoints.Checkpoint]:
    return checkpoints.load_model(path)


def version_of(path: str | Path) -> str:
    """The resolved version folder of a checkpoint: changes whenever it is saved again."""
    return (Path(path) / "CURRENT").read_text().strip()


def load(path: str | Path) -> tuple[VAE, checkpoints.Checkpoint]:
    return _load(str(path), version_of(path))


@st.cache_resource(max_entries=8)
def dataset(spec: str, image_size: int | None = None, rgb: bool = False) -> Dataset:
    return load_dataset(spec, image_size=image_size, rgb=rgb)


def model_dataset(ckpt: checkpoints.Checkpoint) -> Dataset:
    data = ckpt.config["data"]
    return dataset(data["dataset"], data.get("image_size"), data.get("rgb", False))


@st.cache_data(max_entries=32, show_spinner="Evaluating the model on its test split…")
def test_metrics(path: str, version: str) -> dict:
    return evaluate_checkpoint(path, iwae_samples=100)


@st.cache_data(max_entries=16, show_spinner="Encoding the test split…")
def encodings(path: str, version: str, split: str = "test") -> dict[str, np.ndarray]:
    return encode_split(path, split)


@st.cache_data(max_entries=16)
def test_images(path: str, version: str) -> np.ndarray:
    """The test split as the model sees it (binarized where it was trained so)."""
    model, ckpt = load(path)
    return checkpoint_data(ckpt, "test")[0]


def selected_path() -> str:
    """The checkpoint the user picked (sidebar), kept across pages and in the URL."""
    paths = {c.name: str(c.path) for c in model_list()}
    name = st.session_state.get("model_name") or st.query_params.get("model", DEFAULT_MODEL)
    if name not in paths:
        name = DEFAULT_MODEL if DEFAULT_MODEL in paths else next(iter(paths), None)
    if name is None:
        st.error("No models found in checkpoints/: train one on the Train page.")
        st.stop()
    st.session_state["model_name"] = name
    return paths[name]


def current() -> tuple[VAE, checkpoints.Checkpoint]:
    return load(selected_path())


def teacher_password() -> str:
    return os.environ.get(TEACHER_PASSWORD_ENV, "")


def is_teacher() -> bool:
    """With no password set (a laptop), everyone may manage everything."""
    password = teacher_password()
    return not password or st.session_state.get("teacher_password") == password


def session_owner() -> str:
    """A short name shown next to this session's jobs in the shared queue."""
    return st.session_state.get("owner_name") or "anonymous"
