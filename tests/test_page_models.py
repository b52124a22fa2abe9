"""The Models page in AppTest: the list, rename, delete with confirmation, the teacher
password, shipped models protected, continue training, import refusals."""

import json

import pytest
import reliability
from streamlit.testing.v1 import AppTest
from tiny_models import REPO, SHIPPED, page_alone, use_tree

from ui.session import TEACHER_PASSWORD_ENV
from vae import checkpoint_zips, checkpoints


@pytest.fixture
def tree(tiny_models, tmp_path, monkeypatch):
    return use_tree(tiny_models, tmp_path, monkeypatch)


def errors(at) -> list[str]:
    return [e.value for e in at.error]


def rename(at, new_name: str):
    at.text_input(key="models_new_name").input(new_name)
    return at.button(key="models_rename").click().run()


def delete(at):
    at.button(key="models_delete").click().run()
    return at.button(key="models_delete_yes").click().run()


def test_the_list_shows_every_model_with_its_numbers(tree):
    at = page_alone("pages/models.py", "tiny-vae-4d")
    assert not at.exception
    table = at.dataframe[0].value
    assert list(table["Name"]) == [SHIPPED, "tiny-cvae", "tiny-vae-2d", "tiny-vae-4d"]
    row = table.set_index("Name").loc["tiny-vae-2d"]
    assert (row["Source"], row["Dataset"], row["Latent dim"], row["β"]) == (
        "trained here", "digits", 2, 1.0)
    assert row["Can continue training"] == "yes"
    # Measuring takes minutes for a big model: only on demand.
    assert (table["Test ELBO"] == "not measured yet").all()
    at.selectbox(key="models_pick").set_value("tiny-vae-2d").run()
    next(b for b in at.button if b.label == "Measure its test ELBO").click().run()
    assert float(at.dataframe[0].value.set_index("Name").loc["tiny-vae-2d"]["Test ELBO"]) < 0


def test_rename_and_delete_without_a_teacher_password(tree):
    at = page_alone("pages/models.py", "tiny-vae-4d", models_pick="tiny-vae-2d")
    rename(at, "my model")
    assert not at.exception and not errors(at)
    assert (checkpoints.RUNS_DIR / "my model").is_dir()
    assert not (checkpoints.RUNS_DIR / "tiny-vae-2d").exists()
    assert at.selectbox(key="models_pick").value == "my model"
    assert "Renamed tiny-vae-2d to my model" in at.success[0].value.replace("\\", "")

    delete(at)
    assert not errors(at)
    assert not (checkpoints.RUNS_DIR / "my model").exists()
    assert "my model" not in list(at.dataframe[0].value["Name"])


def test_a_refused_name_is_one_sentence_and_changes_nothing(tree):
    at = page_alone("pages/models.py", "tiny-vae-4d", models_pick="tiny-vae-2d")
    rename(at, "../escape")
    [error] = errors(at)
    assert "refused" in error
    assert (checkpoints.RUNS_DIR / "tiny-vae-2d").is_dir()
    rename(at, "tiny-cvae")
    assert "already exists" in errors(at)[0].replace("\\", "")


@pytest.mark.reliability
def test_the_teacher_password_guards_rename_and_delete(tree, monkeypatch):
    monkeypatch.setenv(TEACHER_PASSWORD_ENV, "owl")
    at = page_alone("pages/models.py", "tiny-vae-4d", models_pick="tiny-vae-2d")
    rename(at, "renamed")
    assert errors(at) == [
        "Renaming and deleting models needs the teacher password: enter it in the sidebar, or "
        "ask your teacher."]
    delete(at)
    assert len(errors(at)) == 1 and "teacher password" in errors(at)[0]
    assert (checkpoints.RUNS_DIR / "tiny-vae-2d").is_dir()
    reliability.record(
        "Load", "rename and delete without the teacher password",
        "with a teacher password set, a session without it sends the rename and the delete "
        "requests (the widget messages the buttons would send)",
        f"both refused in the server: \"{errors(at)[0]}\"; the model is untouched")

    at.session_state["teacher_password"] = "wrong"
    rename(at, "renamed")
    assert "teacher password" in errors(at)[0]
    at.session_state["teacher_password"] = "owl"
    rename(at, "renamed")
    assert not errors(at) and (checkpoints.RUNS_DIR / "renamed").is_dir()
    delete(at)
    assert not errors(at) and not (checkpoints.RUNS_DIR / "renamed").exists()


def sidebar_app(**session) -> AppTest:
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=120)
    at.session_state["model_name"] = "tiny-vae-4d"
    for key, value in session.items():
        at.session_state[key] = value
    # AppTest shows the sidebar of a navigation app on its first run only.
    return at.run()


def test_the_sidebar_asks_for_the_password_only_when_one_is_set(tree, monkeypatch):
    assert not [t for t in sidebar_app().sidebar.text_input if t.key == "teacher_password"]
    monkeypatch.setenv(TEACHER_PASSWORD_ENV, "owl")
    box = sidebar_app().sidebar.text_input(key="teacher_password")
    assert box.label == "Teacher password"
    unlocked = sidebar_app(teacher_password="owl").sidebar.caption
    assert "Teacher controls unlocked." in [c.value for c in unlocked]
    wrong = sidebar_app(teacher_password="hawk").sidebar.caption
    assert "That is not the teacher password." in [c.value for c in wrong]


def test_a_shipped_model_cannot_be_deleted(tree):
    at = page_alone("pages/models.py", "tiny-vae-4d", models_pick=SHIPPED)
    delete(at)
    [error] = errors(at)
    assert "ships with Latent Lab and cannot be deleted" in error
    assert (checkpoints.SHIPPED_DIR / SHIPPED).is_dir()
    assert "Shipped models are not trained further" in at.info[0].value


def test_continue_training_submits_a_resume_job(tree):
    _, manager = tree
    at = page_alone("pages/models.py", "tiny-vae-4d", models_pick="tiny-vae-2d")
    epochs = at.number_input(key="models_epochs_tiny-vae-2d")
    assert epochs.value == 30 + 10
    epochs.set_value(45)
    at.button(key="models_continue").click().run()
    assert not at.exception and not errors(at)
    [job] = manager.submitted
    assert job["resume"] and job["out"] == checkpoints.RUNS_DIR / "tiny-vae-2d"
    assert job["spec"].train == {"epochs": 45, "device": "cpu"}
    assert "until epoch 45" in at.success[0].value


def test_a_model_without_optimizer_state_says_it_cannot_continue(tree):
    runs = checkpoints.RUNS_DIR
    ckpt = checkpoints.load(runs / "tiny-vae-2d")
    checkpoints.save(runs / "slim", config=ckpt.config, weights=ckpt.weights(),
                     history=ckpt.history)
    at = page_alone("pages/models.py", "tiny-vae-4d", models_pick="slim")
    assert "holds no optimizer state" in at.info[0].value
    assert not [b for b in at.button if b.label == "Continue training"]


def test_import_a_zip_and_refuse_a_broken_one(tree, tmp_path):
    exported = checkpoint_zips.export_zip(checkpoints.RUNS_DIR / "tiny-vae-2d", tmp_path)
    at = page_alone("pages/models.py", "tiny-vae-4d")
    at.file_uploader(key="models_upload").upload("tiny-vae-2d.zip", exported.read_bytes(),
                                                  "application/zip").run()
    at.button(key="models_import").click().run()
    assert not at.exception and not errors(at)
    assert "tiny-vae-2d-2" in list(at.dataframe[0].value["Name"])
    assert at.selectbox(key="models_pick").value == "tiny-vae-2d-2"

    at.file_uploader(key="models_upload").clear().upload("broken.zip", b"no zip at all",
                                                          "application/zip").run()
    at.button(key="models_import").click().run()
    [error] = errors(at)
    assert "is not a readable zip file" in error.replace("\\", "")
    assert len(at.dataframe[0].value) == 5


def test_the_manage_box_starts_on_the_model_the_url_names(tree):
    at = AppTest.from_file(str(REPO / "pages" / "models.py"), default_timeout=120)
    at.query_params["model"] = "tiny-vae-2d"
    at.run()
    assert not at.exception
    assert at.selectbox(key="models_pick").value == "tiny-vae-2d"


def test_a_model_too_big_to_import_says_so_instead_of_a_download(tree, monkeypatch):
    at = page_alone("pages/models.py", "tiny-vae-4d", models_pick="tiny-vae-2d")
    assert [d.proto.label for d in at.get("download_button")] == ["Download as zip"]
    monkeypatch.setattr(checkpoint_zips, "MAX_IMPORT_BYTES", 1000)
    at = page_alone("pages/models.py", "tiny-vae-4d", models_pick="tiny-vae-2d")
    assert not at.get("download_button")
    assert any("more than the 0 MB that import accepts; export a slim copy" in i.value
               for i in at.info), [i.value for i in at.info]


def test_the_list_shows_the_beta_a_run_ended_with_when_it_was_changed_mid_run(tree):
    root, _ = tree
    ckpt = checkpoints.load(root / "runs" / "tiny-vae-2d")
    history = ckpt.history | {"beta_changes": [{"step": 12, "beta": 2.5},
                                               {"step": 30, "beta": 4.0}]}
    (ckpt.version / "history.json").write_text(json.dumps(history))
    at = page_alone("pages/models.py", "tiny-vae-4d")
    table = at.dataframe[0].value.set_index("Name")
    assert table.loc["tiny-vae-2d"]["β"] == 4.0
    assert table.loc["tiny-vae-2d"]["β set by hand"] == "at step 30 (configured 1)"
    assert (table.loc["tiny-vae-4d"]["β"], table.loc["tiny-vae-4d"]["β set by hand"]) == (1.0, "")
