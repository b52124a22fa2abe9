"""The lab's training objectives: β-TCVAE's total-correlation term and controlled capacity."""

import math

import numpy as np
import pytest
import torch

from vae.disentanglement import kl_decomposition
from vae.losses import Capacity, total_correlation, training_objective
from vae.model_config import ModelConfig
from vae.models import VAE
from vae.training import TrainConfig, Trainer


def codes(correlated: bool, n=256, d=4, seed=0):
    gen = torch.Generator().manual_seed(seed)
    mu = torch.randn(n, d, generator=gen) * 2
    if correlated:
        mu[:, 1] = mu[:, 0]  # two dimensions carry one variable: q(z) is far from factorized
    logvar = torch.zeros(n, d)
    z = mu + (0.5 * logvar).exp() * torch.randn(n, d, generator=gen)
    return z, mu, logvar


@pytest.mark.parametrize("correlated", [False, True])
def test_total_correlation_matches_the_exact_aggregate_when_the_batch_is_the_dataset(correlated):
    z, mu, logvar = codes(correlated)
    n, d = mu.shape
    # Minibatch-weighted sampling normalizes by N M where the whole set needs N: its TC is
    # higher by the constant (D - 1) log M, which leaves the gradients alone.
    mws = total_correlation(z, mu, logvar, dataset_size=n).item() - (d - 1) * math.log(n)
    exact = kl_decomposition(mu.numpy(), logvar.numpy(), samples=20)["total_correlation"]
    assert mws == pytest.approx(exact, abs=0.15)


def test_total_correlation_sees_dependence_between_dimensions():
    independent = total_correlation(*codes(False), dataset_size=256).item()
    dependent = total_correlation(*codes(True), dataset_size=256).item()
    assert dependent > independent + 0.25


def test_capacity_target_rises_linearly_then_holds():
    capacity = Capacity("20:1000:50")
    assert capacity(0) == (0.0, 50.0)
    assert capacity(500) == (10.0, 50.0)
    assert capacity(5000) == (20.0, 50.0)
    for bad in ("20:1000", "a:b:c", "-1:10:5", "5:0:5", "5:10:0"):
        with pytest.raises(ValueError, match="Capacity"):
            Capacity(bad)


def test_objectives_reduce_to_the_beta_vae_loss_where_they_should():
    recon, kl = torch.tensor([-10.0, -12.0]), torch.tensor([[1.0, 2.0], [3.0, 0.0]])
    plain = training_objective(recon, kl, 4.0)
    assert [v.item() for v in plain] == pytest.approx([11 + 4 * 3, -11, 3])
    # beta = 1 makes β-TCVAE the VAE, whatever the TC estimate
    assert training_objective(recon, kl, 1.0, tc=torch.tensor(5.0)).loss.item() == pytest.approx(
        11 + 3)
    assert training_objective(recon, kl, 1.0, capacity=(1.0, 10.0)).loss.item() == pytest.approx(
        11 + 10 * 2)


def small_run(digits, **train):
    torch.manual_seed(0)
    model = VAE(ModelConfig(image_shape=(1, 8, 8), latent_dim=6, hidden=(128,)))
    trainer = Trainer(model, digits.train, digits.val, TrainConfig(batch_size=64, **train))
    trainer.run()
    return trainer


def test_capacity_holds_the_kl_near_its_target(digits):
    free = small_run(digits, epochs=40)
    assert free.history["epochs"][-1]["val_kl"] < 5
    # A target above what the model would choose pulls the KL up to it, and holds it there.
    trainer = small_run(digits, epochs=40, capacity="10:300:50")
    assert trainer.history["epochs"][-1]["val_kl"] == pytest.approx(10.0, abs=1.0)


def test_beta_tcvae_lowers_total_correlation_and_reports_beta1_terms(digits):
    def tc(trainer):
        with torch.no_grad():
            mu, logvar = trainer.model.encode(torch.as_tensor(digits.test.images()))
        return kl_decomposition(mu.numpy(), logvar.numpy(), samples=5)["total_correlation"]

    vae = small_run(digits, epochs=30)
    tcvae = small_run(digits, epochs=30, beta=8.0, objective="betatcvae")
    assert tc(tcvae) < tc(vae) - 0.2
    step = tcvae.history["steps"][-1]
    assert step["elbo"] == pytest.approx(step["recon"] - step["kl"], abs=1e-3)
    assert np.isfinite(tcvae.history["epochs"][-1]["val_elbo"])


def test_capacity_and_beta_tcvae_together_are_refused_with_a_reason():
    with pytest.raises(ValueError, match="capacity schedule replaces"):
        TrainConfig(objective="betatcvae", capacity="5:100:10")
    with pytest.raises(ValueError, match="objective"):
        TrainConfig(objective="factorvae")
