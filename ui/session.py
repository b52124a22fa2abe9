"""Per-session state: the model this browser session works on (kept in the URL too), who it
is in the shared job queue, and whether it holds the teacher's password."""

from __future__ import annotations

import os

import streamlit as st

from ui import state
from vae import checkpoints
from vae.models import VAE

DEFAULT_MODEL = "digits-vae-20d"
TEACHER_PASSWORD_ENV = "LATENT_LAB_TEACHER_PASSWORD"


def selected_path() -> str:
    """The checkpoint the user picked (sidebar), kept across pages and in the URL."""
    paths = {c.name: str(c.path) for c in state.model_list()}
    name = st.session_state.get("model_name") or st.query_params.get("model", DEFAULT_MODEL)
    if name not in paths:
        name = DEFAULT_MODEL if DEFAULT_MODEL in paths else next(iter(paths), None)
    if name is None:
        st.error("No models found in checkpoints/: train one on the Train page.")
        st.stop()
    st.session_state["model_name"] = name
    return paths[name]


def current() -> tuple[VAE, checkpoints.Checkpoint]:
    return state.load(selected_path())


def teacher_password() -> str:
    return os.environ.get(TEACHER_PASSWORD_ENV, "")


def is_teacher() -> bool:
    """With no password set (a laptop), everyone may manage everything."""
    password = teacher_password()
    return not password or st.session_state.get("teacher_password") == password


def session_owner() -> str:
    """A short name shown next to this session's jobs in the shared queue."""
    return st.session_state.get("owner_name") or "anonymous"
