"""The Lesson page in AppTest, on the shipped models: Back and Next walk the steps, each step's
one button opens its page on its model, and with a teacher password only the teacher starts
the live run."""

from types import SimpleNamespace

import pytest
from streamlit.testing.v1 import AppTest
from tiny_models import REPO, FakeJobManager

from ui import state
from ui.session import TEACHER_PASSWORD_ENV
from vae import checkpoints

LESSON = "pages/lesson.py"
# Each step's page (its title) and the model it opens on (None: the page's own choice).
DESTINATIONS = [
    ("Explore the latent space", "fashion-vae-2d"),
    ("Explore the latent space", "fashion-vae"),
    ("Map of the latent space", "fashion-vae-2d-b0_25"),
    ("Train a VAE", None),
    ("Disentanglement lab", None),
    ("Disentanglement lab", None),
]


class Manager(FakeJobManager):
    def submit(self, spec, name, **kwargs):
        super().submit(spec, name, **kwargs)
        return SimpleNamespace(id=f"job-{len(self.submitted)}", name=name)


@pytest.fixture
def manager(tmp_path, monkeypatch):
    monkeypatch.setattr(checkpoints, "RUNS_DIR", tmp_path / "runs")
    manager = Manager()
    monkeypatch.setattr(state, "job_manager", lambda: manager)
    monkeypatch.delenv(TEACHER_PASSWORD_ENV, raising=False)
    return manager


def lesson(step: int = 0) -> AppTest:
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=180)
    at.session_state["lesson_step"] = step
    at.run()
    return at.switch_page(LESSON).run()


def button(at: AppTest, label: str):
    return next(b for b in at.button if b.label == label)


def test_next_and_back_walk_the_steps(manager):
    at = lesson()
    assert not at.exception
    titles = [at.title[0].value]
    assert button(at, "Back").disabled
    for _ in DESTINATIONS[1:]:
        button(at, "Next").click().run()
        titles.append(at.title[0].value)
    assert button(at, "Next").disabled
    assert [t.split(" of ")[0] for t in titles] == [
        f"Lesson · {i}" for i in range(1, len(DESTINATIONS) + 1)]
    assert len(set(titles)) == len(DESTINATIONS)  # a title of its own per step
    button(at, "Back").click().run()
    assert at.title[0].value == titles[-2]


@pytest.mark.parametrize("step", range(len(DESTINATIONS)))
def test_each_step_button_opens_its_page_on_its_model(manager, step):
    at = lesson(step)
    title, model = DESTINATIONS[step]
    next(b for b in at.button if b.proto.type == "primary").click().run()
    assert not at.exception
    assert at.title[0].value == title
    if model is not None:
        assert at.query_params["model"] == model
    if step == len(DESTINATIONS) - 1:  # the scores against β first: the first chart drawn
        assert at.query_params["view"] == "scores"
        assert "DCI completeness" in at.get("plotly_chart")[0].proto.spec
    if step == 1:  # a code drawn from the prior, not the origin
        z = [float(v) for v in at.query_params["z"].split(",")]
        assert len(z) == 16 and any(abs(v) > 0.1 for v in z)


def test_only_the_teacher_starts_the_live_run(manager, monkeypatch):
    monkeypatch.setenv(TEACHER_PASSWORD_ENV, "chalk")
    at = lesson(3)
    button(at, "Start the live run").click().run()
    assert not manager.submitted
    assert at.title[0].value.startswith("Lesson")
    assert "The teacher starts the live run" in at.info[0].value

    at.session_state["teacher_password"] = "chalk"
    button(at, "Start the live run").click().run()
    assert [s["spec"].preset for s in manager.submitted] == ["lesson-live"]
    assert manager.submitted[0]["pace"] == 10  # paced from its first step, watched or not
    assert at.title[0].value == "Train a VAE"
