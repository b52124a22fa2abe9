"""A model that carries a sample of its test images is still shown where its data is not
installed: the pages show the sample and say so; what needs the full data says why not."""

import shutil

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest
from test_fashion import fake_fashion
from tiny_models import REPO

from vae import bundled_sample, checkpoints, fashion
from vae.cached_figures import evaluation_file
from vae.data import DataError
from vae.derived import (
    ELBO_ONLY,
    derive_all,
    encode_split,
    evaluate_checkpoint,
    shown_split,
)
from vae.runner import RunSpec, train_run


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A VAE and a CVAE trained on a small fake Fashion-MNIST, each with its sample (10 of the
    20 test images)."""
    root = tmp_path_factory.mktemp("bundled")
    (root / "fashion").mkdir()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(fashion.ENV, str(fake_fashion(root / "fashion", n_train=100, n_test=20)))
        mp.setattr(bundled_sample, "SAMPLE_SIZE", 10)
        for name, kind in (("f-vae", "vae"), ("f-cvae", "cvae")):
            spec = RunSpec(dataset="fashion", kind=kind,
                           model={"latent_dim": 3, "hidden": [16]},
                           train={"epochs": 1, "batch_size": 32, "threads": 1})
            train_run(spec, root / "runs" / name)
            derive_all(root / "runs" / name, sample=True)
    return root / "runs"


@pytest.fixture
def fashion_models(trained, tmp_path, monkeypatch):
    """Copies of those models in a runs folder of their own, with the data hidden."""
    shutil.copytree(trained, tmp_path / "runs")
    monkeypatch.setattr(checkpoints, "RUNS_DIR", tmp_path / "runs")
    monkeypatch.setattr(checkpoints, "SHIPPED_DIR", tmp_path / "shipped")
    monkeypatch.setattr(bundled_sample, "SAMPLE_SIZE", 10)
    (tmp_path / "empty").mkdir()
    monkeypatch.setenv(fashion.ENV, str(tmp_path / "empty"))
    return tmp_path / "runs"


def test_the_sample_is_stratified_uint8_and_carries_the_licence(fashion_models):
    ckpt = checkpoints.load(fashion_models / "f-vae")
    sample = bundled_sample.read_sample(ckpt)
    assert sample.x.dtype == np.uint8 and sample.x.shape == (10, 1, 28, 28)
    assert sorted(sample.y.tolist()) == list(range(10))  # one of each class
    notice = (ckpt.path / checkpoints.DATA_NOTICE).read_text()
    assert "Zalando SE" in notice and "MIT License" in notice


def test_without_the_data_the_sample_is_encoded_and_evaluated(fashion_models):
    path = fashion_models / "f-vae"
    ckpt = checkpoints.load(path)
    assert shown_split(ckpt) == bundled_sample.SPLIT
    assert encode_split(path, bundled_sample.SPLIT)["mu"].shape == (10, 3)
    # derive_all kept the whole test split's figures: they are served, not the sample's
    assert evaluate_checkpoint(path, iwae_samples=ELBO_ONLY)["n_examples"] == 20
    evaluation_file(ckpt, ELBO_ONLY).unlink()
    assert evaluate_checkpoint(path, iwae_samples=ELBO_ONLY)["n_examples"] == 10


def test_without_data_or_sample_one_sentence_says_how_to_get_the_data(fashion_models):
    ckpt = checkpoints.load(fashion_models / "f-vae")
    bundled_sample.sample_file(ckpt).unlink()
    with pytest.raises(DataError, match=fashion.PACKAGE):
        shown_split(ckpt)


@pytest.mark.parametrize("page, model", [("explore", "f-vae"), ("map", "f-vae"),
                                         ("interpolate", "f-vae"), ("conditional", "f-cvae")])
def test_every_test_image_page_runs_on_the_sample_and_says_so(fashion_models, page, model):
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=120)
    at.session_state["model_name"] = model
    at.run()
    at.switch_page(f"pages/{page}.py").run()
    assert not at.exception and not at.error
    captions = " ".join(c.value for c in at.caption)
    assert "On 10 test images: the sample that comes with this model" in captions
    if page == "explore":  # the nearest-training-image panel needs the training images
        assert any(fashion.PACKAGE in i.value for i in at.info)


@pytest.mark.parametrize("page", ["disentangle", "models", "train"])
def test_the_other_pages_run_on_a_model_whose_data_is_gone(fashion_models, page):
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=120)
    at.session_state["model_name"] = "f-vae"
    at.run()
    at.switch_page(f"pages/{page}.py").run()
    assert not at.exception, at.exception
    assert all(fashion.PACKAGE in e.value for e in at.error)
