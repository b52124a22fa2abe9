"""Lesson: a guided ten minutes on what a VAE learns, one projector screen per step. Each step
says what to look at in two or three sentences and has one button that puts the app where the
step needs it (model, page, input); the teacher steps forward and back. Shipped models only."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import streamlit as st

from ui import live, render, session, state
from ui.latent_url import format_code
from ui.train_form import PRESET_EXTRAS
from vae import checkpoints
from vae.jobs import Job
from vae.latent import prior_code
from vae.runner import RunSpec

STEP = "lesson_step"
LIVE_PRESET = "lesson-live"
PLANE, CODE = "fashion-vae-2d", "fashion-vae"  # 28×28 clothes: a 2-D and a 16-D model
SURE, UNSURE = "fashion-vae-2d-b0_25", "fashion-vae-2d-b64"


@dataclass(frozen=True)
class Step:
    title: str
    text: str
    button: str
    go: Callable[[], None]  # puts the app in the step's state and opens its page


def shipped(name: str) -> checkpoints.Checkpoint | None:
    """The shipped model the step needs, or None after saying what to do (one sentence)."""
    found = next((c for c in state.model_list() if c.name == name), None)
    if found is None:
        st.error(f"This step needs the shipped model {name}, which is not in checkpoints/: "
                 "restore it from git, or rebuild the shipped models with make checkpoints.")
    return found


def open_page(page: str, model: str | None = None, **params: str) -> None:
    if model is not None:
        if shipped(model) is None:
            return
        session.select_model(model)
        params["model"] = model
    st.switch_page(page, query_params=params)


def sample_from_prior() -> None:
    if (model := shipped(CODE)) is not None:
        z = prior_code(model.config["model"]["latent_dim"])
        open_page("pages/explore.py", CODE, z=format_code(z))


def lesson_job() -> Job | None:
    """The newest lesson run: the one training, else the last one that ran."""
    runs = [j for j in state.job_manager().jobs() if j.spec.get("preset") == LIVE_PRESET]
    return next((j for j in runs if j.active), runs[0] if runs else None)


def live_run() -> None:
    """The teacher starts the lesson's run (or a laptop's only user does) unless one trains;
    everyone else watches the newest on the Train page."""
    job = lesson_job()
    if job is None or (not job.active and session.is_teacher()):
        if not session.is_teacher():
            st.info("The teacher starts the live run: press this button again once it has "
                    "begun, to watch it.")
            return
        extras = PRESET_EXTRAS[LIVE_PRESET]
        job = live.submit(RunSpec(dataset=extras["dataset"], preset=LIVE_PRESET),
                          time.strftime("lesson-%H%M%S"), extras["pace"])
        if job is None:
            return
    st.session_state[live.WATCH] = job.id
    st.switch_page("pages/train.py")


STEPS = [
    Step("A picture becomes two numbers",
         "The encoder squeezes each 28×28 picture (784 numbers) into a code of just two, and "
         "the decoder draws a picture back from any code. Drag the point on the pad: every "
         "place on the plane is a picture, and similar clothes sit close together.",
         "Open the 2-D pad", lambda: open_page("pages/explore.py", PLANE, z="0.00,0.00")),
    Step("Any code is a picture: sampling",
         "Training pulls the codes towards a standard normal cloud, the prior. So a code drawn "
         "at random from that cloud decodes to a new piece of clothing nobody photographed. "
         "Press Random sample to draw another.",
         "Draw a code from the prior", sample_from_prior),
    Step("How sure is the encoder?",
         "Each ring is one test picture's code with its uncertainty, μ ± σ. At β = 0.25 the "
         "rings are points: the code pins each picture down. Then pick "
         f"{UNSURE} in the model list: at β = 64 the rings swell to the size of the prior, "
         "and the code forgets which picture it came from.",
         "Show the rings at β = 0.25", lambda: open_page("pages/map.py", SURE)),
    Step("Watch a model learn, then raise β",
         "A small 2-D model learns handwritten digits live, slowly enough to talk over "
         "(about 2½ minutes). Watch the reconstructions sharpen and the KL climb. Halfway, "
         "move β now to 4: the KL drops, the pictures blur and the map pulls in.",
         "Start the live run", live_run),
    Step("What β buys: a sweep",
         "The same model trained at five values of β, on pictures made from five known "
         "factors (shape, scale, rotation, x, y). Step the β slider: as β grows, fewer "
         "dimensions stay in use and each follows one factor. A/B below shows two models on "
         "one input.",
         "Open the β sweep", lambda: open_page("pages/disentangle.py")),
    Step("What the scores say",
         "Each score asks, in its own way, whether each factor lives in one dimension; all "
         "run from 0 to 1, higher being better. The small multiples show them against β, "
         "three seeds each: the boxes overlap for neighbouring β values, so a single run "
         "proves little.",
         "Open the scores", lambda: open_page("pages/disentangle.py", view="scores")),
]

at = min(int(st.session_state.get(STEP, 0)), len(STEPS) - 1)
step = STEPS[at]
render.heading(f"Lesson · {at + 1} of {len(STEPS)}: {step.title}", 1)
st.progress((at + 1) / len(STEPS))
st.markdown(render.escape(step.text))
if st.button(step.button, type="primary", icon=":material/play_arrow:"):
    step.go()
back, forward = st.columns(2)
back.button("Back", icon=":material/arrow_back:", disabled=at == 0, width="stretch",
            on_click=lambda: st.session_state.update({STEP: at - 1}))
forward.button("Next", icon=":material/arrow_forward:", disabled=at == len(STEPS) - 1,
               width="stretch", on_click=lambda: st.session_state.update({STEP: at + 1}))
with st.expander("All steps"):
    for i, s in enumerate(STEPS):
        st.markdown(f"{i + 1}. {'**' + s.title + '**' if i == at else s.title}")
st.caption("The lesson uses the models shipped with Latent Lab and needs no network. Turn on "
           "presentation mode in the sidebar for a projector; the pages keep their place when "
           "you come back here.")
