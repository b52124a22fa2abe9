"""Known-answer tests for the metrics (disentanglement_lib's style), fixed seeds."""

import warnings

import numpy as np
import pytest

from vae.disentanglement import (
    compute_dci,
    compute_factor_vae,
    compute_mig,
    compute_sap,
    dimension_roles,
    kl_decomposition,
    mutual_info_matrix,
)

SIZES = [3, 6, 10, 16, 16]  # the shapes grid's factors
N = 6000


@pytest.fixture(scope="module")
def factors():
    rng = np.random.default_rng(0)
    return np.stack([rng.integers(s, size=N) for s in SIZES], 1)


def scrambler(seed):
    """A permuted, rescaled, noisy (sigma = 0.01) copy of the factors: still a perfect code."""
    rng = np.random.default_rng(seed)
    perm = rng.permutation(len(SIZES))
    scale = rng.uniform(0.5, 3.0, len(SIZES))
    return lambda f: f[:, perm] * scale + rng.normal(0, 0.01, f.shape)


def identity(f):
    return f.astype(float)


def all_metrics(code_fn, factors):
    """Every metric for codes = code_fn(factors); FactorVAE draws its own batches through
    the same map, as it would through a model's encoder."""
    codes = code_fn(factors)

    def random_factors(n, rng):
        return np.stack([rng.integers(s, size=n) for s in SIZES], 1)

    def fixed(k, n, rng):
        batch = random_factors(n, rng)
        batch[:, k] = rng.integers(SIZES[k])
        return batch

    return {**compute_mig(codes, factors), **compute_sap(codes, factors),
            **compute_dci(codes, factors),
            **compute_factor_vae(code_fn, fixed, random_factors, len(SIZES), n_train=200,
                                 n_eval=200, n_global=2000)}


def test_identity_codes_score_high_on_every_metric(factors):
    for code_fn in (identity, scrambler(2)):
        scores = all_metrics(code_fn, factors)
        for key in ("mig", "sap", "dci_disentanglement", "dci_completeness",
                    "dci_informativeness", "factor_vae"):
            assert scores[key] >= 0.9, (key, scores[key])


def test_noise_codes_score_low(factors):
    rng = np.random.default_rng(3)
    scores = all_metrics(lambda f: rng.normal(size=f.shape), factors)
    assert scores["mig"] <= 0.1
    assert scores["sap"] <= 0.1
    assert scores["dci_disentanglement"] <= 0.3
    assert abs(scores["factor_vae"] - 1 / 5) <= 0.1


@pytest.mark.parametrize("value", [0.0, 7.5])
def test_constant_codes_give_defined_zeros_without_warnings(factors, value):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        scores = all_metrics(lambda f: np.full(f.shape, value), factors)
    for key in ("mig", "sap", "dci_disentanglement", "factor_vae"):
        assert scores[key] == 0.0, key
    assert not np.isnan(np.array(scores["mi_matrix"])).any()


def test_duplicated_codes_fool_mig_and_sap_but_not_dci(factors):
    codes = np.concatenate([factors, factors], 1).astype(float)
    scores = {**compute_mig(codes, factors), **compute_sap(codes, factors),
              **compute_dci(codes, factors)}
    assert scores["mig"] <= 0.1
    assert scores["sap"] <= 0.1
    assert scores["dci_disentanglement"] >= 0.9


def test_mixing_two_factors_lands_between_identity_and_noise(factors):
    identity = factors.astype(float)
    mixed = identity.copy()
    mixed[:, 3] = factors[:, 3] + 16 * factors[:, 4]  # x and y in one dimension
    mixed[:, 4] = 0.0
    noise = np.random.default_rng(4).normal(size=(N, 5))
    for metric, key in ((compute_mig, "mig"), (compute_sap, "sap"),
                        (compute_dci, "dci_disentanglement")):
        a, b, c = (metric(codes, factors)[key] for codes in (identity, mixed, noise))
        assert a > b > c, (key, a, b, c)


def test_mi_matrix_uses_enough_bins_for_many_valued_factors():
    factor = np.arange(40).repeat(50)[:, None]
    matrix = mutual_info_matrix(factor.astype(float), factor)
    assert matrix[0, 0] == pytest.approx(1.0)


def test_one_factor_leaves_undefined_metrics_null_with_a_reason():
    labels = np.random.default_rng(5).integers(10, size=(1000, 1))
    codes = np.concatenate([labels, np.random.default_rng(6).normal(size=(1000, 2))], 1)
    dci = compute_dci(codes, labels)
    assert dci["dci_disentanglement"] is None and "single factor" in \
        dci["dci_disentanglement_reason"]
    assert compute_mig(codes, labels)["mig"] > 0.5
    assert compute_factor_vae(lambda x: x, None, None, 1)["factor_vae"] is None


def test_kl_decomposition_sums_to_the_average_kl():
    rng = np.random.default_rng(7)
    mu = rng.normal(size=(800, 4)) * [2.0, 1.0, 0.3, 0.0]
    mu[:, 1] += 0.8 * mu[:, 0]  # correlated dimensions: some total correlation
    logvar = np.log(rng.uniform(0.05, 1.0, size=(800, 4)))
    parts = kl_decomposition(mu, logvar, samples=4)
    analytic = (-0.5 * (1 + logvar - mu ** 2 - np.exp(logvar))).sum(1).mean()
    total = parts["mutual_information"] + parts["total_correlation"] + parts["dimension_wise_kl"]
    assert total == pytest.approx(parts["kl"], abs=1e-9)
    assert parts["kl"] == pytest.approx(analytic, rel=0.05)
    assert parts["mutual_information"] > 0 and parts["total_correlation"] > 0
    assert parts["mutual_information"] <= np.log(800) + 1e-9  # bounded by log N


def test_dimension_roles_read_the_matrix():
    matrix = [[0.9, 0.0, 0.0], [0.0, 0.05, 0.0], [0.1, 0.0, 0.7]]
    assert dimension_roles(matrix) == {"roles": {0: 0, 2: 2}, "uncaptured": [1]}
