import math

import pytest
import torch

from vae.losses import BetaSchedule, kl_divergence, log_likelihood, training_objective


def test_analytic_kl_matches_monte_carlo():
    g = torch.Generator().manual_seed(0)
    mu = torch.randn(4, 3, generator=g)
    logvar = torch.randn(4, 3, generator=g) * 0.5
    z = mu + (0.5 * logvar).exp() * torch.randn(200_000, 4, 3, generator=g)
    log_q = torch.distributions.Normal(mu, (0.5 * logvar).exp()).log_prob(z)
    log_p = torch.distributions.Normal(0.0, 1.0).log_prob(z)
    monte_carlo = (log_q - log_p).mean(0)
    torch.testing.assert_close(kl_divergence(mu, logvar), monte_carlo, atol=0.02, rtol=0.01)


def test_kl_is_zero_only_at_the_prior():
    assert kl_divergence(torch.zeros(1, 5), torch.zeros(1, 5)).abs().max() == 0
    assert (kl_divergence(torch.ones(1, 5), torch.zeros(1, 5)) > 0).all()


def test_bernoulli_likelihood_is_normalized_on_binary_data():
    # Summing p(x|logits) over all four binary images of two pixels gives 1.
    logits = torch.tensor([[0.3, -1.2]]).view(1, 1, 1, 2)
    images = torch.tensor([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=torch.float32).view(4, 1, 1, 2)
    total = log_likelihood(images, logits.expand(4, 1, 1, 2), "bernoulli").exp().sum()
    assert total.item() == pytest.approx(1.0, abs=1e-6)


def test_gaussian_likelihood_matches_torch_normal():
    x = torch.rand(3, 1, 2, 2)
    logits = torch.randn(3, 1, 2, 2)
    sigma = 0.3
    expected = torch.distributions.Normal(torch.sigmoid(logits), sigma).log_prob(x).flatten(1)
    torch.testing.assert_close(log_likelihood(x, logits, "gaussian", math.log(sigma)),
                               expected.sum(1))


def test_free_bits_floors_each_dimension():
    kl = torch.tensor([[0.1, 2.0], [0.3, 4.0]])  # batch means: 0.2 and 3.0
    objective = training_objective(torch.zeros(2), kl, 1.0, free_bits=0.5)
    assert objective.loss.item() == pytest.approx(3.5)
    assert objective.kl.item() == pytest.approx(3.2)  # the reported KL is never floored


@pytest.mark.parametrize("spec, steps, expected", [
    ("constant", [0, 1000], [4.0, 4.0]),
    ("linear:100", [0, 50, 100, 500], [0.0, 2.0, 4.0, 4.0]),
    ("sigmoid:100:10", [100], [2.0]),
    ("cyclical:100", [0, 25, 50, 99, 100], [0.0, 2.0, 4.0, 4.0, 0.0]),
])
def test_beta_schedules(spec, steps, expected):
    schedule = BetaSchedule(4.0, spec)
    assert [schedule(s) for s in steps] == pytest.approx(expected)


@pytest.mark.parametrize("spec", ["warp", "linear", "linear:x", "sigmoid:1", "cyclical:0"])
def test_bad_schedules_are_refused(spec):
    with pytest.raises(ValueError):
        BetaSchedule(1.0, spec)
