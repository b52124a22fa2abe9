"""The Train page in AppTest: the form, presets, starting a run, controls with classroom rules,
the timeline, and uploads refused with one sentence."""

from __future__ import annotations

import gzip
import json
import re
import shutil
import time

import numpy as np
import pytest
import reliability
import streamlit as st
from bad_input import idx_bytes, npz_bytes
from streamlit.testing.v1 import AppTest

from ui import live, session, state
from vae import checkpoints, uploads
from vae.data import DataError, load_dataset
from vae.runner import RunSpec

SCRIPT = "../pages/train.py"
LONG = RunSpec(model={"hidden": [32], "latent_dim": 2}, train={"epochs": 500})


@pytest.fixture
def runs(tmp_path, monkeypatch):
    """Runs, uploads and caches under tmp_path, with a fresh job manager for the test."""
    monkeypatch.setattr(checkpoints, "RUNS_DIR", tmp_path / "runs")
    monkeypatch.setattr(checkpoints, "CACHE_DIR", tmp_path / "cache")
    state.job_manager.clear()
    yield tmp_path / "runs"
    state.job_manager().shutdown()
    state.job_manager.clear()


def open_page(script: str = SCRIPT, **session) -> AppTest:
    at = AppTest.from_file(script, default_timeout=60)
    for key, value in session.items():
        at.session_state[key] = value
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def start(at: AppTest, name: str, epochs: int = 1) -> AppTest:
    at.text_input(key="train_form_name").input(name)
    at.number_input(key="train_form_epochs").set_value(epochs)
    next(b for b in at.button if b.label == "Start training").click().run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def one_sentence(text: str) -> bool:
    return text.endswith(".") and "\n" not in text and ". " not in text.rstrip(".")


def image_urls(at: AppTest) -> list[str]:
    return [img.url for element in at.get("image") for img in element.proto.imgs]


def curves_of(at: AppTest) -> dict:
    return json.loads(next(c.proto.spec for c in at.get("plotly_chart")
                           if "Training curves" in c.proto.spec))


def wait_for(condition, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_page_renders_inside_the_app(runs, tiny_models, monkeypatch):
    monkeypatch.setattr(checkpoints, "RUNS_DIR", tiny_models)
    at = AppTest.from_file("../app.py", default_timeout=60)
    at.session_state["model_name"] = "tiny-vae-2d"
    at.switch_page("pages/train.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.title[0].value == "Train a VAE"
    assert any(e.label == "What am I seeing?" for e in at.expander)
    assert next(b for b in at.button if b.label == "Start training")


def test_a_preset_fills_the_form(runs):
    at = open_page()
    assert at.slider(key="train_form_latent_dim").value == 10
    at.selectbox(key="train_form_preset").set_value("tiny-live").run()
    assert at.slider(key="train_form_latent_dim").value == 2
    assert at.text_input(key="train_form_hidden").value == "128"
    assert at.number_input(key="train_form_epochs").value == 60
    assert at.select_slider(key="train_form_pace").value == 30
    # The lesson's run: offered on the page, slower than the tiny demo for a class to follow.
    preset = at.selectbox(key="train_form_preset")
    assert any(o.startswith("Lesson: live run") for o in preset.options)
    preset.set_value("lesson-live").run()
    assert at.slider(key="train_form_latent_dim").value == 2
    assert at.number_input(key="train_form_epochs").value == 72
    assert at.select_slider(key="train_form_pace").value == 10
    at.selectbox(key="train_form_preset").set_value("beta4").run()
    assert at.number_input(key="train_form_beta").value == 4.0
    assert at.selectbox(key="train_form_schedule").value == "linear"
    assert at.number_input(key="train_form_warmup").value == 2000


@pytest.mark.slow
def test_start_trains_a_model_and_the_timeline_replays_it(runs):
    at = start(open_page(), "page-one-epoch")
    jobs = state.job_manager().jobs()
    assert [j.name for j in jobs] == ["page-one-epoch"]
    assert at.success[0].value.startswith("Started")
    job = state.job_manager().wait(jobs[0].id, timeout=60)
    assert job.status == "finished", job.message
    assert checkpoints.is_checkpoint(runs / "page-one-epoch")

    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("is ready" in s.value for s in at.success)
    next(b for b in at.button if b.label == "Use it on every page").click().run()
    assert at.session_state["model_name"] == "page-one-epoch"  # what every page now shows
    assert len(at.get("plotly_chart")) >= 2  # curves, KL bars (and the timeline's map)
    timeline = at.select_slider(key=f"train_timeline_{job.id}")
    steps = [int(s) for s in timeline.options]
    assert len(steps) > 3 and timeline.value == steps[-1] == job.total_steps
    before = image_urls(at)
    timeline.set_value(steps[0]).run()
    assert not at.exception
    assert image_urls(at) != before  # the replay shows the model as it was at step 1


def test_a_name_is_required_and_conv_needs_larger_images(runs):
    at = open_page()
    next(b for b in at.button if b.label == "Start training").click().run()
    assert len(at.error) == 1 and "name" in at.error[0].value
    at.radio(key="train_form_arch").set_value("conv").run()
    start(at, "conv-digits")
    assert len(at.error) == 1 and "Image size" in at.error[0].value
    assert state.job_manager().jobs() == []


def test_an_existing_name_is_refused_with_a_sentence(runs, tiny_models):
    shutil.copytree(tiny_models / "tiny-vae-2d", runs / "taken")
    at = start(open_page(), "taken")
    assert len(at.error) == 1 and "exists already" in at.error[0].value
    assert state.job_manager().jobs() == []


class FakeUpload:
    def __init__(self, name: str, data: bytes):
        self.name, self.data = name, data

    def getvalue(self) -> bytes:
        return self.data


@pytest.mark.parametrize(("files", "needle"), [
    ({"bad.npz": b"not a zip at all"}, "not an .npz archive"),
    ({"empty.npz": b""}, "empty"),
    ({"nan.npz": npz_bytes(x=np.full((20, 8, 8), np.nan, np.float32))}, "NaN"),
    ({"one.npz": npz_bytes(x=np.zeros((20, 4, 4), np.uint8))}, "smaller than the minimum"),
    ({"a.npz": b"x", "b.npz": b"y", "c.npz": b"z"}, "3 files"),
])
def test_a_bad_upload_is_refused_with_one_sentence(runs, files, needle):
    upload, error = uploads.accept(files)
    assert upload is None and needle in error and one_sentence(error), error
    assert not (checkpoints.CACHE_DIR / "uploads").exists()  # nothing refused is stored


def test_an_accepted_upload_is_stored_for_the_worker(runs):
    x = (np.random.default_rng(0).random((30, 10, 10)) * 255).astype(np.uint8)
    y = np.arange(30) % 3
    upload, error = uploads.accept({"mine.npz": npz_bytes(x=x, y=y)})
    assert error is None and re.fullmatch(r"upload:[0-9a-f]{64}", upload.spec)  # no path
    assert upload.images == 30 and upload.image_shape == (1, 10, 10)
    data = load_dataset(upload.spec)  # what the worker process will load
    assert len(data.train) + len(data.val) + len(data.test) == 30
    again, _ = uploads.accept({"mine.npz": npz_bytes(x=x, y=y)})
    assert again.spec == upload.spec  # one folder per content

    pair, error = uploads.accept({"images-idx3-ubyte": idx_bytes(x),
                                  "labels-idx1-ubyte": idx_bytes(y + 4)})
    assert error is None, error
    data = load_dataset(pair.spec)
    assert data.class_names == ["4", "5", "6"] and len(data.test) == 3

    # The cache cleared under a model trained on it: one sentence, not a crash.
    shutil.rmtree(checkpoints.CACHE_DIR / "uploads")
    with pytest.raises(DataError, match="no longer on this server .*; upload the same files"):
        load_dataset(upload.spec)


def test_mnist_s_four_files_upload_together_and_t10k_stays_the_test_split(runs):
    rng = np.random.default_rng(0)
    x, x_test = (rng.integers(0, 256, (n, 28, 28), dtype=np.uint8) for n in (60, 20))
    y, y_test = np.arange(60) % 10, rng.permutation(np.arange(20) % 10)
    files = {"train-images-idx3-ubyte.gz": gzip.compress(idx_bytes(x)),
             "train-labels-idx1-ubyte.gz": gzip.compress(idx_bytes(y)),
             "t10k-images-idx3-ubyte.gz": gzip.compress(idx_bytes(x_test)),
             "t10k-labels-idx1-ubyte": idx_bytes(y_test)}
    upload, error = uploads.accept(files)
    assert error is None, error
    assert upload.images == 80 and upload.image_shape == (1, 28, 28)
    data = load_dataset(upload.spec)  # what the worker loads: t10k is the test split, in order
    np.testing.assert_array_equal(data.test.x[:, 0], x_test)
    np.testing.assert_array_equal(data.test.y, y_test)
    assert (len(data.train), len(data.val)) == (54, 6)

    few = {**files, "train-images-idx3-ubyte.gz": gzip.compress(idx_bytes(x[:1])),
           "train-labels-idx1-ubyte.gz": gzip.compress(idx_bytes(y[:1]))}
    upload, error = uploads.accept(few)
    assert upload is None and "holds 1 image, fewer than the 10" in error and one_sentence(error)

    files["t10k-labels-idx1-ubyte"] = idx_bytes(x_test)  # two images files in the test pair
    upload, error = uploads.accept(files)
    assert upload is None and "MNIST's train and t10k pairs" in error and one_sentence(error)


def test_a_bad_upload_on_the_page_shows_one_sentence(runs, monkeypatch):
    bad = [FakeUpload("digits*bold*.npz", b"\x00garbage")]
    monkeypatch.setattr(st, "file_uploader", lambda *args, **kwargs: bad)
    at = open_page()
    at.radio(key="train_form_dataset").set_value("upload").run()
    assert not at.exception
    start(at, "from-upload")
    assert len(at.error) == 1
    message = at.error[0].value
    assert "\\*bold\\*" in message  # the file name is shown as text, not as markdown
    assert "not an .npz archive" in message.replace("\\", "")
    assert state.job_manager().jobs() == []


@pytest.mark.slow
@pytest.mark.reliability
def test_controls_follow_the_classroom_rules(runs, monkeypatch):
    monkeypatch.setenv(session.TEACHER_PASSWORD_ENV, "s3cret")
    other = state.job_manager().submit(LONG, "someone-elses", owner="alice")
    wait_for(lambda: other.step > 0)
    at = open_page()
    assert next(b for b in at.button if b.label == "Stop").disabled
    assert beta_slider_data(at)["disabled"]

    at.session_state["teacher_password"] = "s3cret"
    at.run()
    stop = next(b for b in at.button if b.label == "Stop")
    assert not stop.disabled
    # The check is made in the server when the request arrives, not only by the buttons:
    # a session whose teacher password no longer holds is refused.
    at.session_state["teacher_password"] = "guess"
    stop.click().run()
    refusal = next(e.value for e in at.error if "Only the session that started" in e.value)
    time.sleep(0.5)
    assert other.status == "running"
    reliability.record(
        "Load", "stopping another session's job without the teacher password",
        "with a teacher password set, a session that did not start the job sends the Stop "
        "request (its button is disabled; the message is sent anyway)",
        f"refused in the server: \"{refusal}\"; the job kept running")

    at.session_state["teacher_password"] = "s3cret"
    at.run()
    assert not beta_slider_data(at)["disabled"]
    next(b for b in at.button if b.label == "Stop").click().run()
    assert state.job_manager().wait(other.id, timeout=30).status == "stopped"
    # Ended, the run is offered to continue: to its owner and the teacher only.
    at.run()
    assert not at.button(key=f"train_continue_{other.id}").disabled
    at.session_state["teacher_password"] = "guess"
    at.run()
    assert at.button(key=f"train_continue_{other.id}").disabled


def beta_slider_data(at: AppTest) -> dict:
    """What the page gives its β slider (ui/beta_slider.py)."""
    (slider,) = [e for e in at.get("bidi_component")
                 if e.proto.component_name == "latent_lab.beta_slider"]
    return json.loads(slider.proto.json)


@pytest.mark.slow
def test_an_ended_run_is_offered_to_continue_at_another_beta(runs):
    at = start(open_page(), "page-continue")
    [job] = state.job_manager().jobs()
    assert state.job_manager().wait(job.id, timeout=60).status == "finished"
    at.run()
    # Where the β control was while it trained, the run's end offers another β.
    at.slider(key=f"train_continue_beta_{job.id}").set_value(3.0).run()
    at.number_input(key=f"train_continue_epochs_{job.id}").set_value(2).run()
    button = at.button(key=f"train_continue_{job.id}")
    assert button.label == "Continue with β = 3.0"
    button.click().run()
    assert not at.exception, [e.value for e in at.exception]
    new = next(j for j in state.job_manager().jobs() if j.id != job.id)
    assert new.name == job.name and new.resume and at.session_state[live.WATCH] == new.id
    assert state.job_manager().wait(new.id, timeout=60).status == "finished", new.message
    history = checkpoints.load(runs / "page-continue").history
    assert len(history["epochs"]) == 3
    assert history["beta_changes"] == [{"step": job.total_steps, "beta": 3.0, "continued": True}]
    at.run()
    assert any(f"step {job.total_steps} → continued at β = 3." in c.value for c in at.caption)
    curves = curves_of(at)
    marks = [a for a in curves["layout"]["annotations"] if "continued" in a["text"]]
    assert [(a["x"], a["text"].strip()) for a in marks] == [(job.total_steps,
                                                            "continued at β = 3")]


def test_objective_and_capacity_reach_the_job_and_a_clash_is_refused(runs):
    at = open_page()
    at.radio(key="train_form_objective").set_value("betatcvae").run()
    at.toggle(key="train_form_capacity").set_value(True).run()
    start(at, "clash")
    assert len(at.error) == 1 and "capacity schedule replaces" in at.error[0].value
    assert state.job_manager().jobs() == []

    at.radio(key="train_form_objective").set_value("betavae").run()
    at.number_input(key="train_form_c_max").set_value(12.0).run()
    start(at, "capacity-run")
    [job] = state.job_manager().jobs()
    assert job.spec["train"]["objective"] == "betavae"
    assert job.spec["train"]["capacity"] == "12:5000:100"
    state.job_manager().stop(job.id)


def test_fashion_is_offered_where_its_files_are_and_trains(runs, tmp_path, monkeypatch):
    from test_fashion import fake_fashion

    from vae import fashion

    monkeypatch.setenv(fashion.ENV, str(tmp_path))  # named, and empty
    at = open_page()
    assert "fashion" not in at.radio(key="train_form_dataset").options
    assert fashion.MISSING in [c.value for c in at.caption]

    monkeypatch.setenv(fashion.ENV, str(fake_fashion(tmp_path)))
    at = open_page()
    at.radio(key="train_form_dataset").set_value("fashion").run()
    start(at, "clothes")
    job = state.job_manager().wait(state.job_manager().jobs()[0].id, timeout=60)
    assert job.status == "finished", job.message
    ckpt = checkpoints.load(runs / "clothes")
    assert ckpt.config["data"]["dataset"] == "fashion"
    assert ckpt.config["data"]["class_names"] == list(fashion.CLASS_NAMES)


def test_a_running_job_shows_its_speed_time_left_and_loss(runs):
    job = state.job_manager().submit(LONG, "long-one")
    wait_for(lambda: job.steps_per_second() is not None)
    t0, s0 = time.monotonic(), job.step
    time.sleep(3)
    measured = (job.step - s0) / (time.monotonic() - t0) * 128  # samples/s, seen from here
    at = open_page()
    text = at.get("progress")[0].proto.text
    assert "samples/s · about" in text and " left · loss " in text, text
    shown = float(text.split(" samples/s")[0].rsplit("· ", 1)[1].replace(",", ""))
    assert measured / 2 < shown < measured * 2, (shown, measured)


def test_the_curves_redraw_once_a_period_not_with_every_refresh(runs, monkeypatch):
    # The browser draws a changed chart anew (the live panel's heaviest part), so between
    # periods a refresh sends the curves unchanged, however far the job has gone.
    job = state.job_manager().submit(LONG, "long-one")
    wait_for(lambda: job.step > 0)
    monkeypatch.setattr(live, "CURVES_REFRESH_S", float("inf"))
    at = open_page()
    drawn = curves_of(at)
    step = job.step
    wait_for(lambda: job.step > step + 5)
    at.run()
    assert curves_of(at) == drawn
    monkeypatch.setattr(live, "CURVES_REFRESH_S", 1e-6)
    at.run()
    newer = curves_of(at)["data"][0]["x"]
    assert newer[-1] > drawn["data"][0]["x"][-1], (newer[-1], drawn["data"][0]["x"][-1])
    # Once the job ends, its final curves show at once, whatever the period.
    monkeypatch.setattr(live, "CURVES_REFRESH_S", float("inf"))
    state.job_manager().stop(job.id)
    job = state.job_manager().wait(job.id, timeout=60)
    at.run()
    assert curves_of(at)["data"][0]["x"][-1] == job.step > newer[-1], job.step


def test_the_server_trains_on_the_cpu_unless_the_gpu_is_picked(runs, monkeypatch):
    at = open_page()
    assert any("Trains on the CPU" in c.value for c in at.caption)
    start(at, "on-cpu")
    [job] = state.job_manager().jobs()
    assert job.spec["train"]["device"] == "cpu"
    state.job_manager().stop(job.id)
    state.job_manager().wait(job.id, timeout=60)

    monkeypatch.setattr("ui.train_form.gpu_available", lambda: True)
    at = open_page()
    device = at.radio(key="train_form_device")
    assert device.value == "cpu" and device.options == ["CPU", "GPU (CUDA)"]
    device.set_value("cuda").run()
    start(at, "on-gpu")
    job = next(j for j in state.job_manager().jobs() if j.name == "on-gpu")
    assert job.spec["train"]["device"] == "cuda"
    state.job_manager().stop(job.id)


def test_the_sidebar_links_each_running_job_to_its_live_panel(runs):
    # A bar there would show the step of the page's last full run: 0 % on the Train page, where
    # only the live panel redraws while the job trains.
    first = state.job_manager().submit(LONG, "long-one")
    wait_for(lambda: first.status == "running")
    second = state.job_manager().submit(LONG, "long-two")  # queued behind it
    at = open_page("../app.py")  # the whole app: navigation, sidebar, then its default page
    links = {e.proto.label: e.proto for e in at.sidebar.get("page_link")}
    assert set(links) == {"long\\-one · running · anonymous", "long\\-two · queued · anonymous"}
    assert not at.sidebar.get("progress")
    link = links["long\\-one · running · anonymous"]
    assert link.page.endswith("train") and link.query_string == f"watch={first.id}"
    # Without the link's job, the Train page watches the newest active one.
    assert open_page().selectbox(key=live.WATCH).value == second.id
    at = AppTest.from_file(SCRIPT, default_timeout=60)
    at.query_params["watch"] = first.id
    at.run()
    assert at.selectbox(key=live.WATCH).value == first.id
    assert "watch" not in at.query_params  # once: later the tab's own choice holds
    state.job_manager().stop(second.id)
    state.job_manager().stop(first.id)
