"""Models: every checkpoint at a glance; rename, delete, continue training, export, import."""

from pathlib import Path

import streamlit as st

from ui import render, session, state
from vae import checkpoint_zips, checkpoints
from vae.checkpoints import CheckpointError
from vae.jobs import JobError
from vae.model_config import kind_label
from vae.runner import RunSpec

NOT_MEASURED = "not measured yet"
PRESENTED_TABLE_PX = 400
TEACHER_ONLY = ("Renaming and deleting models needs the teacher password: enter it in the "
                "sidebar, or ask your teacher.")


def flash(message: str) -> None:
    """A success sentence shown once, after the rerun that follows an action."""
    st.session_state["models_flash"] = message


def busy(ckpt: checkpoints.Checkpoint) -> bool:
    """A job trains it, or holds an unsaved run of it that a retried save would write."""
    return any(job.holds_out and Path(job.out) == ckpt.path
               for job in state.job_manager().jobs())


def follow_rename(old: str, new: str) -> None:
    st.session_state["models_pick_next"] = new
    if st.session_state.get(session.SELECTED) == old:
        session.select_model(new)


def set_by_hand(beta: float, changes: list[dict]) -> str:
    """When a run's last beta was set by hand mid-run, and what its config said."""
    if not changes:
        return ""
    return f"at step {changes[-1]['step']} (configured {beta:g})"


def may_change(ckpt: checkpoints.Checkpoint) -> bool:
    """Whether this session may rename or delete the model now; if not, says why. Checked
    where the action happens: hiding a button is no protection."""
    if not session.is_teacher():
        st.error(TEACHER_ONLY)
        return False
    if busy(ckpt):
        st.error(f"A job is training {render.escape(ckpt.name)} or holds an unsaved run of it: "
                 "stop, save or discard it on the Train page first.")
        return False
    return True


def rename(ckpt: checkpoints.Checkpoint, new_name: str) -> None:
    if not may_change(ckpt):
        return
    try:
        target = checkpoints.rename(ckpt.path, new_name)
    except (CheckpointError, OSError) as err:
        st.error(render.escape(str(err)))
        return
    follow_rename(ckpt.name, target.name)
    flash(f"Renamed {ckpt.name} to {target.name}.")
    st.rerun()


def delete(ckpt: checkpoints.Checkpoint) -> None:
    st.session_state.pop("models_confirm", None)
    if not may_change(ckpt):
        return
    try:
        checkpoints.delete(ckpt.path)
    except (CheckpointError, OSError) as err:
        st.error(render.escape(str(err)))
        return
    st.session_state.pop("models_pick_next", None)
    if st.session_state.get(session.SELECTED) == ckpt.name:
        session.select_model(None)
    flash(f"Deleted {ckpt.name}.")
    st.rerun()


def continue_training(ckpt: checkpoints.Checkpoint, epochs: int) -> None:
    spec = RunSpec(train={"epochs": epochs, "device": "cpu"})  # the app trains on the CPU
    try:
        state.job_manager().submit(spec, ckpt.name, owner=session.session_owner(), resume=True,
                                   out=ckpt.path)
    except (JobError, CheckpointError, ValueError) as err:
        st.error(render.escape(str(err)))
        return
    flash(f"{ckpt.name} continues training until epoch {epochs}: follow it on the Train page.")
    st.rerun()


def import_upload(upload) -> None:
    try:
        imported = checkpoint_zips.import_zip(upload)
    except (CheckpointError, OSError) as err:
        st.error(render.escape(str(err)))
        return
    st.session_state["models_pick_next"] = imported.name
    flash(f"Imported {upload.name} as {imported.name}.")
    st.rerun()


render.heading("Models", 1)
render.explain(
    "Every model this app can load: those shipped with Latent Lab and those trained here. "
    "The test ELBO is measured on the held-out test images (β = 1 whatever β trained the "
    "model); higher is better. Shipped models cannot be renamed or deleted.",
    r"\mathcal{L}(\theta,\phi;x) = \mathbb{E}_{q_\phi(z\mid x)}[\log p_\theta(x\mid z)]"
    r" - \mathrm{KL}\big(q_\phi(z\mid x)\,\|\,p(z)\big)")
if "models_flash" in st.session_state:
    st.success(render.escape(st.session_state.pop("models_flash")))

models = state.model_list()
rows = []
for c in models:
    cfg, metrics = c.config, state.measured_test_evaluation(c)
    rows.append({
        "Name": c.name,
        "Source": "shipped" if c.shipped else "trained here",
        "Dataset": cfg["data"]["dataset"],
        "Model": f"{kind_label(cfg['model']['num_classes'])} · "
                 f"{cfg['model']['arch'].upper()}",
        "Latent dim": cfg["model"]["latent_dim"],
        # The beta it ended with: one set by hand mid-run replaced the configured one.
        "β": (changes[-1]["beta"] if (changes := c.history.get("beta_changes")) else
              cfg["train"]["beta"]),
        "β set by hand": set_by_hand(cfg["train"]["beta"], changes or []),
        "Test ELBO": f"{metrics['elbo']:.2f}" if metrics else NOT_MEASURED,
        "Epochs": len(c.history.get("epochs", [])),
        "Can continue training": "yes" if c.resumable else "no",
    })
# On a projector, a height that keeps the whole table on the first screen (it scrolls inside).
st.dataframe(rows, hide_index=True, width="stretch",
             height=PRESENTED_TABLE_PX if render.presentation() else "auto", column_config={
    "Test ELBO": st.column_config.TextColumn(help="Nats per example; higher is better.")})
if any(r["Test ELBO"] == NOT_MEASURED for r in rows):
    st.caption("Measuring a test ELBO takes a while for a large model: pick it below and press "
               "Measure, or open it in the sidebar.")

render.heading("Manage a model", 3)
names = [c.name for c in models]
if not names:
    st.info("There are no models yet: train one on the Train page, or import a zip below.")
else:
    if "models_pick_next" in st.session_state:
        st.session_state["models_pick"] = st.session_state.pop("models_pick_next")
    if st.session_state.get("models_pick") not in names:
        selected = session.selected_path()
        current = next((c.name for c in models if str(c.path) == selected), None)
        st.session_state["models_pick"] = current if current in names else names[0]
    name = st.selectbox("Model", names, key="models_pick")
    ckpt = models[names.index(name)]
    if rows[names.index(name)]["Test ELBO"] == NOT_MEASURED and st.button("Measure its test ELBO"):
        state.test_evaluation(str(ckpt.path), ckpt.key)
        st.rerun()

    # Keyed, so the open tab survives the reruns its own buttons cause.
    rename_tab, delete_tab, train_tab, export_tab = st.tabs(
        ["Rename", "Delete", "Continue training", "Export"], key="models_action",
        on_change="rerun")
    with rename_tab:
        new_name = st.text_input("New name", max_chars=checkpoints.MAX_NAME_CHARS,
                                 key="models_new_name",
                                 help="Letters, digits, '-' and '_' are safest.")
        if st.button("Rename", key="models_rename"):
            rename(ckpt, new_name)
    with delete_tab:
        if st.session_state.get("models_confirm") != ckpt.name:
            if st.button("Delete…", key="models_delete"):
                st.session_state["models_confirm"] = ckpt.name
                st.rerun()
        else:
            question = st.empty()
            with question.container():
                st.warning("Delete this model for good? Its weights and history cannot be "
                           "brought back (export it first to keep a copy).")
                st.text(ckpt.name)
                answers = st.container(horizontal=True)
                yes = answers.button("Yes, delete it", type="primary", key="models_delete_yes")
                no = answers.button("Cancel", key="models_delete_no")
            if yes:
                question.empty()  # answered: only the outcome stays on the page
                delete(ckpt)
            if no:
                st.session_state.pop("models_confirm", None)
                st.rerun()
    with train_tab:
        done = len(ckpt.history.get("epochs", []))
        if ckpt.shipped:
            st.info("Shipped models are not trained further in place: export this one and "
                    "import the zip to get a copy of your own, or train a new run on the "
                    "Train page.")
        elif not ckpt.resumable:
            st.info("This model holds no optimizer state, so its training cannot continue "
                    "where it stopped: train a new run on the Train page.")
        else:
            epochs = st.number_input("Train until epoch", done + 1, done + 100_000, done + 10,
                                     key=f"models_epochs_{ckpt.name}",
                                     help=f"It has trained for {done} epochs so far.")
            if st.button("Continue training", key="models_continue"):
                continue_training(ckpt, int(epochs))
    with export_tab:
        if (refused := checkpoint_zips.export_refusal(ckpt)) is not None:
            st.info(render.escape(refused))
        else:
            render.download_button(
                st, "Download as zip", data=lambda: checkpoint_zips.export_zip_bytes(ckpt.path),
                file_name=f"{ckpt.name}.zip", mime="application/zip",
                icon=":material/download:", key="models_export",
                help="Weights, config and history in one file; import it on another Latent Lab.")

render.heading("Import a model", 3)
upload = st.file_uploader("A zip exported by Latent Lab", type=["zip"], key="models_upload")
if upload is not None and st.button("Import", key="models_import"):
    import_upload(upload)
