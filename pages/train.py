"""Train: choose data, model and β, start a run in a worker process, and watch it learn:
live curves, pictures and KL per dimension, β changed while it runs, and a timeline replay."""

import streamlit as st

from ui import live, render, runs, session, state
from ui import train_form as form

render.heading("Train a VAE", 1)
render.explain(
    "Pick data, a model and β, then start: the training runs in a separate process, so every "
    "page stays usable. The curves show the reconstruction term, the KL term and their "
    "difference, the ELBO, always with β = 1; the β you train with only weighs the KL in the "
    "objective. The timeline replays reconstructions, samples and the latent map as they were "
    "at each saved step.",
    r"\mathcal{L}(\theta,\phi;x)=\mathbb{E}_{q_\phi(z|x)}[\log p_\theta(x|z)]"
    r"-\mathrm{KL}(q_\phi(z|x)\,\|\,p(z)),\qquad \text{training minimizes}\;"
    r"-\mathbb{E}_q[\log p_\theta(x|z)]+\beta\,\mathrm{KL}",
)


# On a projector, while a run trains, its live panel comes first and the form folds away
# below; with nothing training the form is what the teacher needs.
presenting = render.presentation()
if presenting and any(j.active for j in state.job_manager().jobs()):
    jobs_box, form_box = st.container(), st.container()
else:
    form_box, jobs_box = st.container(), st.container()
with form_box, st.expander("New run") if presenting else st.container(border=True):
    if not presenting:
        render.heading("New run", 3)
    result = form.form()
    owner_col, start_col = st.columns([3, 1], vertical_alignment="bottom")
    owner = owner_col.text_input("Your name (shown next to your jobs in the queue)",
                                 key="train_owner", max_chars=40, persist_state="session")
    if owner.strip():
        st.session_state["owner_name"] = owner.strip()
    if start_col.button("Start training", type="primary", width="stretch"):
        if result.error:
            if not result.error_shown:
                form.show_error(result.error)
        elif not result.name:
            form.show_error("Give the model a name (letters, digits, '-' or '_'), then press "
                            "Start again.")
        elif job := live.submit(result.spec, result.name, result.pace):
            st.success(f"Started: {render.escape(job.name)}. Follow it below.")

with jobs_box:
    if not presenting:  # on a projector the height goes to the watched run's pictures
        render.heading("Jobs", 3)
    manager = state.job_manager()
    jobs = manager.jobs()
    job = live.watched(jobs)
    live.notice()
    if job is not None:
        by_id = {j.id: j for j in jobs}
        st.session_state[live.WATCH] = job.id
        st.selectbox("Watch", list(by_id), key=live.WATCH,
                     format_func=lambda i: live.job_label(by_id[i]),
                     label_visibility="collapsed" if presenting else "visible")
        if job.active:
            live.controls(job)
        elif runs.saved_checkpoint(job) is not None and job.status == "finished":
            st.success(f"Model {render.escape(job.name)} is ready: it is now in the sidebar's "
                       "Model list on every page.")
            st.button("Use it on every page", on_click=session.select_model, args=(job.name,))
        if not job.active:
            live.continue_offer(job)
    live.live(jobs, job)
if job is None:
    st.stop()

render.heading("Timeline", 3)
st.caption("Every run keeps up to 50 snapshots of its weights; slide to see how the model "
           "looked at that step.")
live.timeline(job.id)
