"""The sidebar on every page: model picker, the model at a glance, jobs, presentation mode."""

from __future__ import annotations

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from ui import join, live, presentation, session, state
from ui.render import escape
from ui.render import presentation as presenting
from vae.data import DataError
from vae.evaluation import latent_health
from vae.model_config import kind_label

PICKER = "model_picker"


def model_picker(where: DeltaGenerator, label_visibility: str = "visible") -> None:
    models = state.model_list()
    names = [c.name for c in models]
    current = session.selected_path()
    # The picker mirrors the selection, set before it is drawn, and changes it only through
    # session.select_model.
    st.session_state[PICKER] = next(c.name for c in models if str(c.path) == current)
    labels = {c.name: f"{c.name}{'' if c.shipped else '  (trained here)'}" for c in models}
    where.selectbox("Model", names, format_func=labels.get, key=PICKER,
                    label_visibility=label_visibility,
                    on_change=lambda: session.select_model(st.session_state[PICKER]))


def model_summary() -> None:
    model, ckpt = session.current()
    cfg = ckpt.config
    box = st.sidebar.container(border=True)
    kind = kind_label(model.config.num_classes)
    box.markdown(f"**{kind}** · {model.config.arch.upper()} · z = {model.config.latent_dim} · "
                 f"β = {cfg['train']['beta']:g}")
    box.text(f"Data: {cfg['data']['dataset']}")
    try:
        metrics = state.test_evaluation(str(ckpt.path), ckpt.key)
    except DataError as e:
        box.caption(f"No test figures: {e}")
        return
    health = latent_health(metrics["kl_per_dim"], metrics["active_dims"])
    box.metric("Test ELBO", f"{metrics['elbo']:.2f}", help=f"{metrics['units']}, on "
               f"{metrics['n_examples']:,} test images; higher is better")
    box.caption(f"{health['active']} of {model.config.latent_dim} latent dimensions in use"
                f" · KL {health['kl']:.2f} nats")
    if health["collapse"]:
        box.error("Posterior collapse: the code carries almost no information about the input "
                  "(total KL below 0.5 nats or at most one dimension in use).")


def jobs() -> None:
    entries = [e for e in live.by_study(state.job_manager().jobs())
               if any(j.active for j in (e if isinstance(e, list) else [e]))]
    if not entries:
        return
    st.sidebar.markdown("**Training now**")
    # Links to the Train page's live panel of each run; a progress bar here would stand still
    # between the page's runs (at 0 % on the Train page, beside the live panel's moving one).
    for entry in entries:
        if isinstance(entry, list):  # a study: one line for all its members, its running one
            _, words = live.study_progress(entry)
            text = f"{entry[0].study} · {words} · {entry[0].owner or 'anonymous'}"
            job = next((j for j in entry if j.status == "running"), entry[0])
        else:
            text = f"{entry.name} · {entry.status} · {entry.owner or 'anonymous'}"
            job = entry
        st.sidebar.page_link("pages/train.py", label=escape(text),  # names, owners: user text
                             icon=":material/model_training:",
                             query_params={live.WATCH_PARAM: job.id})


def presentation_switch() -> None:
    switch = "presentation_switch"
    st.sidebar.toggle("Presentation mode", value=False, key=switch,
                      on_change=lambda: presentation.set_mode(st.session_state[switch]),
                      help="For a projector: large text and images, high contrast, the pages "
                           "across the top and the sidebar folded into one row.")


def teacher_login() -> None:
    """Shown only when the server has a teacher password: entered once per session."""
    if not session.teacher_password():
        return
    st.sidebar.text_input("Teacher password", type="password", key="teacher_password",
                          help="Renaming and deleting models and stopping other people's "
                               "jobs need it.")
    if st.session_state.get("teacher_password"):
        if session.is_teacher():
            st.sidebar.caption("Teacher controls unlocked.")
        else:
            st.sidebar.caption("That is not the teacher password.")


def render() -> None:
    """The sidebar, or in presentation mode the row that stands in for it."""
    if presenting():
        presentation.top_row(model_picker)
        return
    model_picker(st.sidebar)
    model_summary()
    jobs()
    teacher_login()
    presentation_switch()
    join.join_panel(st.sidebar)
