"""The models that ship in checkpoints/: what a teacher gets with no training."""

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression

from vae import checkpoints
from vae.evaluation import evaluate_checkpoint
from vae.latent import sample_prior

SHIPPED = ["digits-vae-2d", "digits-vae-20d", "digits-betavae-10d", "digits-cvae",
           "shapes-betavae-10d"]


def shipped(name):
    return checkpoints.SHIPPED_DIR / name


@pytest.mark.parametrize("name", SHIPPED)
def test_each_shipped_model_loads_small_and_slim(name):
    model, ckpt = checkpoints.load_model(shipped(name))
    assert ckpt.shipped
    size = sum(f.stat().st_size for f in ckpt.path.rglob("*") if f.is_file())
    assert size < 2 * 2**20, f"{name} is {size / 2**20:.2f} MB"
    assert ckpt.optimizer() is None and ckpt.snapshots() is None
    assert model.config.latent_dim == int(name.split("-")[-1].removesuffix("d")) \
        if name[-1] == "d" else True


def test_digits_vae_20d_reaches_the_elbo_target():
    result = evaluate_checkpoint(shipped("digits-vae-20d"), use_cache=False)
    assert -result["elbo"] <= 23.8
    assert result["log_likelihood"] > result["elbo"]
    assert checkpoints.load(shipped("digits-vae-20d")).config["train"]["beta"] == 1.0


def test_beta_vae_uses_fewer_dimensions_than_the_plain_vae():
    beta = evaluate_checkpoint(shipped("digits-betavae-10d"), iwae_samples=1, use_cache=False)
    plain = evaluate_checkpoint(shipped("digits-vae-20d"), iwae_samples=1, use_cache=False)
    assert checkpoints.load(shipped("digits-betavae-10d")).config["train"]["beta"] >= 4
    assert beta["active_units"] < plain["active_units"]
    assert beta["kl"] < plain["kl"]


def test_cvae_samples_are_recognised_as_their_class(digits):
    model, _ = checkpoints.load_model(shipped("digits-cvae"))
    x, y = sample_prior(model, 100, seed=0)  # 100 per class
    flat = digits.train.images().reshape(len(digits.train), -1)
    classifier = LogisticRegression(max_iter=3000).fit(flat, digits.train.y)
    accuracy = classifier.score(x.reshape(len(x), -1), y)
    print(f"CVAE samples recognised as their class: {accuracy:.1%}")
    assert accuracy >= 0.8


def test_shapes_model_reconstructs_position_and_size():
    model, ckpt = checkpoints.load_model(shipped("shapes-betavae-10d"))
    from vae.data import load_dataset

    test = load_dataset("shapes").test
    x = torch.as_tensor(test.images(np.arange(0, len(test), 10)))
    with torch.no_grad():
        recon = model.decode_mean(model.encode(x)[0])
    error = ((recon - x) ** 2).mean().item()
    baseline = ((x - x.mean(0)) ** 2).mean().item()
    assert error < 0.3 * baseline
