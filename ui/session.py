"""Per-session state: the model this browser session works on (kept in the URL too), who it
is in the shared job queue, and whether it holds the teacher's password."""

from __future__ import annotations

import os

import streamlit as st

from ui import state
from vae import checkpoints
from vae.models import VAE

DEFAULT_MODEL = "fashion-vae"
TEACHER_PASSWORD_ENV = "LATENT_LAB_TEACHER_PASSWORD"


SELECTED = "model_name"


def select_model(name: str | None) -> None:
    """The one writer of the selection, kept in the URL too; None forgets it (a deleted model).
    The sidebar's picker shows it from the next run on."""
    if name is None:
        st.session_state.pop(SELECTED, None)
        st.query_params.pop("model", None)
    else:
        st.session_state[SELECTED] = name
        st.query_params["model"] = name


def selected_path() -> str | None:
    """The checkpoint the session works on: the one selected, else the URL's, else the default
    or the first there is; None when there is none."""
    paths = {c.name: str(c.path) for c in state.model_list()}
    name = st.session_state.get(SELECTED) or st.query_params.get("model", DEFAULT_MODEL)
    if name not in paths:
        name = DEFAULT_MODEL if DEFAULT_MODEL in paths else next(iter(paths), None)
    return None if name is None else paths[name]


def current() -> tuple[VAE, checkpoints.Checkpoint]:
    """The selected model, or a sentence instead of the page when there is none."""
    path = selected_path()
    if path is None:
        st.error("No models found in checkpoints/: train one on the Train page.")
        st.stop()
    return state.load(path)


def teacher_password() -> str:
    return os.environ.get(TEACHER_PASSWORD_ENV, "")


def is_teacher() -> bool:
    """With no password set (a laptop), everyone may manage everything."""
    password = teacher_password()
    return not password or st.session_state.get("teacher_password") == password


def session_owner() -> str:
    """A short name shown next to this session's jobs in the shared queue."""
    return st.session_state.get("owner_name") or "anonymous"
