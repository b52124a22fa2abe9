"""The Train page's live parts: the shared job queue, job controls with classroom rules, the
live panel (an st.fragment that refreshes itself) and the timeline scrubber.

Everything a job shows comes from the server-wide job manager, so every tab sees the same job.
Control requests are checked here, in the server, not only by disabling buttons.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import numpy as np
import streamlit as st

from ui import charts, live_map, render, runs, session, state
from ui.beta_slider import beta_slider
from ui.train_form import PACES
from vae.evaluation import latent_health
from vae.jobs import Job, JobError
from vae.runner import RunSpec

if TYPE_CHECKING:
    import plotly.graph_objects as go

# Once a second: each redraw re-sends the whole panel. Twice a second, a Train page watching a
# Fashion job cost the server 97 ms of CPU a second and its browser tab 5.3-6.1 s in 10; once a
# second, 58 ms and 4.6 s (docs/design.md §6), and the students' sliders share both cores.
LIVE_REFRESH_S = 1.0
IDLE_REFRESH_S = 2.0
CURVES_REFRESH_S = 2.0  # see _curves
BETA_MAX = 10.0
WATCH = "train_job"
WATCH_PARAM = "watch"  # in the sidebar's links: the job to watch
MINE = "train_my_jobs"
NOTICE = "train_notice"


# ---- ownership and classroom control ------------------------------------------------------
def my_jobs() -> set[str]:
    return st.session_state.setdefault(MINE, set())


def may_control(job: Job) -> bool:
    """With a teacher password set, only the session that started a job, or the teacher, may
    pause, stop or re-tune it; on a laptop without one, everyone may."""
    return not session.teacher_password() or session.is_teacher() or job.id in my_jobs()


def control(action: str, job_id: str, *args, **kwargs) -> Any:
    """Apply a control request (a widget callback), refusing what this session may not do;
    returns what the manager returns, or None when refused (the sentence is in NOTICE)."""
    manager = state.job_manager()
    try:
        job = manager.get(job_id)
        if not may_control(job):
            raise JobError(f"Only the session that started '{job.name}', or the teacher, may "
                           "change it; a teacher enters the password in the sidebar.")
        return getattr(manager, action)(job_id, *args, **kwargs)
    except JobError as err:
        st.session_state[NOTICE] = str(err)
        return None


def _set_pace(job_id: str, widget: str) -> None:
    control("set_pace", job_id, st.session_state[widget])
    if NOTICE in st.session_state:  # refused: the widget goes back to what the job has
        st.session_state[widget] = state.job_manager().get(job_id).pace


def _set_beta(job_id: str, asked: str, beta: float) -> None:
    control("set_beta", job_id, beta)
    # Refused, the slider goes back to what the job has; taken, it stays where it was let go
    # (the job reports the new β a moment later).
    st.session_state[asked] = (_beta(state.job_manager().get(job_id))
                               if NOTICE in st.session_state else beta)


def _beta(job: Job) -> float:
    beta = job.beta if job.beta is not None else float(job.spec["train"].get("beta", 1.0))
    return float(min(max(round(beta, 2), 0.0), max(BETA_MAX, beta)))


def submit(spec: RunSpec, name: str, pace: float) -> Job | None:
    """Queue a run for this session; a refusal is shown as a sentence."""
    try:
        job = state.job_manager().submit(spec, name, owner=session.session_owner(), pace=pace)
    except (JobError, ValueError) as err:
        st.error(render.escape(str(err)))
        return None
    _follow(job)
    return job


def _follow(job: Job) -> None:
    """A job this session queued: its own, and watched."""
    my_jobs().add(job.id)
    st.session_state[WATCH] = job.id


# ---- the queue ------------------------------------------------------------------------------
def watched(jobs: list[Job]) -> Job | None:
    """The job this tab follows: the one it chose, else the newest active one, else the
    newest; so a second tab opens on the job the first one started."""
    by_id = {j.id: j for j in jobs}
    # A link from the sidebar names its job once; then the tab's choice is the user's again.
    if (asked := st.query_params.get(WATCH_PARAM)) is not None:
        del st.query_params[WATCH_PARAM]
        if asked in by_id:
            st.session_state[WATCH] = asked
    chosen = st.session_state.get(WATCH)
    if chosen in by_id:
        return by_id[chosen]
    active = [j for j in jobs if j.active]
    return (active or jobs or [None])[0]


def job_label(job: Job) -> str:
    """Stable while the job runs (a widget option must not change under the user)."""
    started = time.strftime("%H:%M:%S", time.localtime(job.created))
    return f"{job.name} · {job.owner or 'anonymous'} · {started}"


def study_progress(members: list[Job]) -> tuple[float, str]:
    """A study's share done (members trained, and the running ones' share of theirs) and its
    state in words."""
    done = sum(j.status == "finished" for j in members)
    running = [j for j in members if j.active and j.status != "queued"]
    share = (done + sum(j.step / j.total_steps for j in running if j.total_steps)) / len(members)
    words = f"{done} of {len(members)} trained"
    if running:
        words += " · training " + ", ".join(j.name.removeprefix(j.study + "-") for j in running)
    elif any(j.status == "queued" for j in members):
        words += " · queued"
    return min(share, 1.0), words


def by_study(jobs: list[Job]) -> list[Job | list[Job]]:
    """The jobs in order, the members of each study gathered into one list where its first
    member stands."""
    entries: list[Job | list[Job]] = []
    studies: dict[str, list[Job]] = {}
    for job in jobs:
        if not job.study:
            entries.append(job)
        elif job.study in studies:
            studies[job.study].append(job)
        else:
            studies[job.study] = [job]
            entries.append(studies[job.study])
    return entries


def queue(jobs: list[Job]) -> None:
    rows = []
    for entry in by_study(jobs):
        if isinstance(entry, list):  # a study: one row, however many members
            share, words = study_progress(entry)
            rows.append({"model": f"{entry[0].study} (study of {len(entry)})",
                         "whose": entry[0].owner or "anonymous", "status": words,
                         "progress": share, "steps": ""})
            continue
        j = entry
        rows.append({"model": j.name, "whose": j.owner or "anonymous",
                     "status": j.status + (" (yours)" if j.id in my_jobs() else ""),
                     "progress": (j.step / j.total_steps) if j.total_steps else 0.0,
                     "steps": f"{j.step} / {j.total_steps or '?'}"})
    st.dataframe(rows, hide_index=True, width="stretch", column_config={
        "progress": st.column_config.ProgressColumn("progress", min_value=0.0, max_value=1.0)})


# ---- controls -------------------------------------------------------------------------------
@st.fragment
def controls(job: Job) -> None:
    """Pause / resume, stop, β and pace for an active job (checked again in `control`). A
    fragment: a change here reruns these controls alone, not the whole page and its charts."""
    notice()
    allowed = may_control(job)
    if not allowed:
        st.caption("This job belongs to another session: only its owner, or the teacher "
                   "(password in the sidebar), may pause, stop or re-tune it.")
    pause_col, stop_col, beta_col, pace_col = st.columns([1, 1, 3, 3], gap="medium",
                                                         vertical_alignment="bottom")
    if job.status == "paused":
        pause_col.button("Resume", key=f"resume_{job.id}", on_click=control,
                         args=("resume", job.id), disabled=not allowed, width="stretch")
    else:
        pause_col.button("Pause", key=f"pause_{job.id}", on_click=control,
                         args=("pause", job.id), disabled=not allowed or job.status == "queued",
                         width="stretch")
    stop_col.button("Stop", key=f"stop_{job.id}", on_click=control, args=("stop", job.id),
                    disabled=not allowed, width="stretch")
    asked, pace_key = f"train_beta_asked_{job.id}", f"train_pace_{job.id}"
    beta = st.session_state.setdefault(asked, _beta(job))
    with beta_col:
        beta_slider("β now (replaces the schedule from this step on)", beta,
                    max(BETA_MAX, beta), key=f"train_beta_{job.id}",
                    on_change=lambda b: _set_beta(job.id, asked, b),
                    disabled=not allowed or job.status == "queued")
    # The options are ints, and a select_slider matches its value by type as well.
    st.session_state.setdefault(pace_key, int(job.pace) if job.pace in PACES else 0)
    pace_col.select_slider("Pace (steps per second)", PACES, key=pace_key,
                           format_func=lambda p: "full speed" if p == 0 else str(p),
                           on_change=_set_pace, args=(job.id, pace_key),
                           disabled=not allowed or job.status == "queued")


# ---- after a run ends -----------------------------------------------------------------------
def continue_offer(job: Job) -> None:
    """Continue an ended run from its saved weights at another β, for a few more epochs: the
    class sees what the new β does to a model it has watched learn."""
    ckpt = runs.saved_checkpoint(job)
    if job.active or ckpt is None or not ckpt.resumable:
        return
    allowed = may_control(job)
    beta_key, epochs_key = f"train_continue_beta_{job.id}", f"train_continue_epochs_{job.id}"
    st.session_state.setdefault(beta_key, _beta(job))
    # A third of the run again: long enough to see the new β take hold, short for a lesson.
    st.session_state.setdefault(epochs_key, max(1, int(ckpt.config["train"]["epochs"]) // 3))
    beta_col, epochs_col, button_col = st.columns([3, 2, 2], gap="medium",
                                                  vertical_alignment="bottom")
    beta = beta_col.slider("β for the epochs to come", 0.0,
                           max(BETA_MAX, st.session_state[beta_key]), step=0.1, key=beta_key,
                           format="%.1f", disabled=not allowed)
    epochs_col.number_input("More epochs", 1, 10_000, key=epochs_key, disabled=not allowed)
    button_col.button(f"Continue with β = {beta:.1f}", key=f"train_continue_{job.id}",
                      type="primary", on_click=_continue, args=(job.id, beta_key, epochs_key),
                      disabled=not allowed, width="stretch")
    if not allowed:
        st.caption("Only the session that started this run, or the teacher, may continue it.")


def _continue(job_id: str, beta_key: str, epochs_key: str) -> None:
    """The Continue button's callback: a new job on the same model, watched."""
    new = control("continue_run", job_id, float(st.session_state[beta_key]),
                  int(st.session_state[epochs_key]), owner=session.session_owner())
    if new is not None:
        _follow(new)


def notice() -> None:
    if NOTICE in st.session_state:
        st.error(render.escape(st.session_state.pop(NOTICE)))


# ---- the live panel -------------------------------------------------------------------------
def _health(run: runs.Run, pics: runs.Pictures | None, bars) -> None:
    """KL per dimension (into `bars`, a column) and, here, the collapse alarm in words."""
    large = render.presentation()
    if not run.epochs or pics is None:
        st.caption("Per-dimension KL appears after the first epoch.")
        return
    kl_per_dim = run.epochs[-1]["val_kl_per_dim"]
    bars.plotly_chart(charts.prevalidated(charts.kl_bars(kl_per_dim, set(pics.active),
                                                         large=large)),
                      key=f"kl_{run.job.id}", config={"displayModeBar": False})
    health = latent_health(kl_per_dim, pics.active)
    d = len(kl_per_dim)
    if health["collapse"]:
        st.warning(
            f"Posterior collapse alarm: the code carries almost no information about the "
            f"images (total KL {health['kl']:.2f} nats, {health['active']} of {d} dimensions "
            "in use). Early in training or with a large β this can pass; if it stays, lower β, "
            "warm β up from 0, or set free bits.")
    else:
        st.info(f"{health['active']} of {d} latent dimensions in use (total KL "
                f"{health['kl']:.2f} nats). Unused dimensions (grey) are normal: the model "
                "switches off what it does not need.")


def _status(job: Job) -> None:
    done = min(job.step / job.total_steps, 1.0) if job.total_steps else 0.0
    beta = f" · β = {job.beta:.2f}" if job.beta is not None else ""
    pace = f" · paced at {job.pace:g} steps/s" if job.pace and job.active else ""
    st.progress(done, text=f"{job.status} · step {job.step} of {job.total_steps or '?'}"
                           f"{beta}{pace}{_speed(job)}")
    if job.status == "queued":
        st.info("Waiting in the queue: one job trains at a time while the app serves.")
    elif job.status == "failed":
        st.error(render.escape(job.message))
    elif job.status == "unsaved":
        _unsaved(job)
    elif job.status in ("stopped", "interrupted"):
        st.warning(render.escape(job.message))


def _speed(job: Job) -> str:
    """Samples per second, the time left and the current loss of a running job."""
    speed = job.steps_per_second() if job.status == "running" else None
    if speed is None or not job.config or not job.steps:
        return ""
    left = max(job.total_steps - job.step, 0) / speed
    left_text = f"{left / 60:.0f} min" if left >= 90 else f"{left:.0f} s"
    samples = speed * job.config["train"]["batch_size"]
    return (f" · {samples:,.0f} samples/s · about {left_text} left"
            f" · loss {job.steps[-1]['loss']:.2f}")


def _unsaved(job: Job) -> None:
    """A run whose save failed: the reason, and a second try once the user fixed it."""
    st.error(render.escape(job.message))
    allowed = may_control(job)
    save_col, discard_col, _ = st.columns([1, 1, 4])
    save_col.button("Save again", key=f"save_again_{job.id}", type="primary", on_click=control,
                    args=("save_again", job.id), disabled=not allowed, width="stretch")
    discard_col.button("Discard", key=f"discard_{job.id}", on_click=control,
                       args=("discard", job.id), disabled=not allowed, width="stretch")


def _changes(changes: list[dict]) -> None:
    if changes:
        shown = ", ".join(f"step {c['step']} → {'continued at ' if c.get('continued') else ''}"
                          f"β = {c['beta']:g}" for c in changes[-8:])
        st.caption(f"β set by hand: {shown}.")


def panel(job: Job) -> None:
    """What the job is doing now: progress, curves, pictures, the latent map while it trains,
    KL per dimension."""
    _status(job)
    run = runs.run_of(job)
    if run.config is None:
        if job.active:
            st.caption("Starting the training process and loading its data…")
        return
    large = render.presentation()
    width = render.image_width(480 if large else 360)
    charts_col, pictures_col = st.columns([3, 2], gap="large")
    with charts_col:
        if run.steps:
            # Keyed by its steps once the job ends, not by the period: the final curves show at
            # once, never a figure cached while it still trained.
            moment = (int(time.monotonic() // CURVES_REFRESH_S) if job.active
                      else (len(run.steps), len(run.epochs), len(run.beta_changes)))
            st.plotly_chart(_curves(job.id, moment, large, run, job.total_steps),
                            key=f"curves_{job.id}", config={"displayModeBar": False})
    pics = runs.latest_pictures(run)  # after the curves: encoding the pictures takes a while
    with pictures_col:
        if pics is not None:
            # One line on a projector's half-width column.
            st.markdown("**Inputs (top) and reconstructions**" if large else
                        "**Validation images (top) and their reconstructions (bottom)**")
            with st.container(key="picture"):  # the page's main picture
                render.show_images(np.concatenate([pics.inputs, pics.reconstructions]),
                                   columns=len(pics.inputs), width=width, inline=True)
            st.markdown("**Samples from the prior, z ~ N(0, I)**")
            render.show_images(pics.samples, columns=8, width=width, inline=True)
        if job.active:  # once it ends, the timeline below holds the map
            live_map.show(run)
    bars_col, words_col = st.columns([3, 2], gap="large")
    with words_col:
        _changes(run.beta_changes)
        _health(run, pics, bars_col)


@st.cache_resource(max_entries=16, show_spinner=False)
def _curves(job_id: str, moment: object, large: bool, _run: runs.Run, total_steps: int
            ) -> go.Figure:
    """The training curves, one figure per job and `moment` for every tab. A chart whose
    figure changed is a new element to Streamlit, and the browser draws it anew: a whole plotly
    newPlot, about 0.2 s of a core for these four panels. Redrawn with each refresh of the
    panel, that took 40 % of a core and slowed the sliders of every other page in the browser
    (a Fashion job: slider p95 244 ms with the Train page open, 166 ms with it closed)."""
    return charts.prevalidated(charts.training_curves(
        _run.steps, _run.epochs, _run.beta_changes, total_steps=total_steps, large=large))


def _seen(jobs: list[Job], job: Job | None) -> tuple:
    """What, when it changes, needs the whole page: the jobs, whether the watched one is
    active, and whether it has a first snapshot (the timeline appears)."""
    return (tuple(j.id for j in jobs), job.active if job else False,
            bool(job.snapshots) if job else False)


def _live_fragment(seen: tuple, job_id: str | None, live_panel: bool) -> None:
    manager = state.job_manager()
    jobs = manager.jobs()
    job = manager.get(job_id) if job_id else None
    if _seen(jobs, job) != seen:
        st.rerun()  # a job ended or joined: the whole page (and the sidebar's list) redraws
    if not jobs:
        st.info("No jobs yet: fill in New run and press Start training.")
        return
    # On a projector the watched run's pictures come before the queue, on the first screen.
    if not render.presentation():
        queue(jobs)
    if live_panel:
        panel(job)
    if render.presentation():
        queue(jobs)


def live(jobs: list[Job], job: Job | None) -> None:
    """The shared queue and the watched job's panel, refreshed in place while it trains (one
    fragment: several self-refreshing fragments on a page race each other's messages); a full
    rerun when a job starts or ends, also one started in another tab. A job that is done is
    drawn once, and the fragment only keeps an eye on the queue."""
    live_panel = job is not None and job.active
    refresh = LIVE_REFRESH_S if any(j.active for j in jobs) else IDLE_REFRESH_S
    st.fragment(_live_fragment, run_every=refresh)(_seen(jobs, job), job.id if job else None,
                                                   live_panel)
    if job is not None and not live_panel:
        panel(job)


# ---- the timeline ---------------------------------------------------------------------------
@st.fragment
def timeline(job_id: str) -> None:
    """A slider over the run's weight snapshots, replaying its pictures at that step; moving
    it reruns this fragment only, and while the job trains it picks up the newest snapshots."""
    job = state.job_manager().get(job_id)
    run = runs.run_of(job)
    shots = runs.snapshots(run) if run.config is not None else {}
    if not shots:
        st.caption("Snapshots appear here as the run trains.")
        return
    steps = sorted(shots)
    slider_key, last_key = f"train_timeline_{job.id}", f"train_timeline_last_{job.id}"
    chosen = st.session_state.get(slider_key)
    # Follow the newest snapshot until the user picks another one.
    if chosen not in steps or chosen == st.session_state.get(last_key):
        st.session_state[slider_key] = steps[-1]
    st.session_state[last_key] = steps[-1]
    step = st.select_slider("Training step", steps, key=slider_key,
                            help="Log-spaced: early training changes fastest.")
    pics = runs.snapshot_pictures(run, step, shots[step])
    if pics is None:
        return
    epoch = step / max(job.total_steps, 1) * int(run.config["train"]["epochs"])
    st.caption(f"Step {step} of {job.total_steps} (epoch {epoch:.1f}); {len(steps)} snapshots"
               f"{' so far' if job.active else ''}.")
    large = render.presentation()
    images_col, map_col = st.columns([2, 3], gap="large")
    with images_col:
        width = render.image_width(320)
        st.markdown("**Reconstructions then**")
        render.show_images(np.concatenate([pics.inputs, pics.reconstructions]),
                           columns=len(pics.inputs), width=width)
        st.markdown("**Prior samples then**")
        render.show_images(pics.samples, columns=8, width=width)
    with map_col:
        st.plotly_chart(charts.latent_map(pics.codes, pics.labels, pics.class_names,
                                          pics.axis_titles, extent=pics.extent, large=large),
                        key=f"map_{job.id}", config={"displayModeBar": False})
