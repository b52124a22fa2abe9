"""Known-answer tests for the metrics, fixed seeds: codes built to have a known score, among
them the cases disentanglement_lib's own tests publish (identity, bad and duplicated codes,
and six importance matrices for DCI's aggregation)."""

import math
import warnings

import numpy as np
import pytest

from vae.disentanglement import (
    PRUNE_STD,
    compute_dci,
    compute_factor_vae,
    compute_mig,
    compute_sap,
    compute_sap_continuous,
    dci_aggregate,
    dimension_roles,
    kl_decomposition,
    mutual_info_matrix,
)

SIZES = (3, 6, 10, 16, 16)  # the shapes grid's factors
N = 6000
# Gradient boosting, as the reference, fits a tree per value of every factor 100 times: DCI
# sees the first 1,000 codes (about a fifth of the shapes test split) to keep these short.
DCI_N = 1000
GRID = np.indices(SIZES).reshape(len(SIZES), -1).T  # every combination, in np.indices order


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
    """Every metric for codes = code_fn(factors); FactorVAE's batches come from the codes of
    the whole grid through the same map, as from a model's encoder."""
    codes = code_fn(factors)
    return {**compute_mig(codes, factors), **compute_sap(codes, factors),
            **compute_sap_continuous(codes, factors), **dci(codes, factors),
            **compute_factor_vae(code_fn(GRID), SIZES, n_train=2000, n_eval=1000)}


def dci(codes, factors):
    return compute_dci(codes[:DCI_N], factors[:DCI_N])


def test_identity_codes_score_high_on_every_metric(factors):
    for code_fn in (identity, scrambler(2)):
        scores = all_metrics(code_fn, factors)
        for key in ("mig", "sap_continuous", "dci_disentanglement", "dci_completeness",
                    "dci_informativeness", "factor_vae"):
            assert scores[key] >= 0.9, (key, scores[key])


def test_noise_codes_score_low(factors):
    rng = np.random.default_rng(3)
    scores = all_metrics(lambda f: rng.normal(size=f.shape), factors)
    assert scores["mig"] <= 0.1
    assert scores["sap"] <= 0.1
    assert scores["sap_continuous"] <= 0.1
    assert scores["dci_disentanglement"] <= 0.3
    assert abs(scores["factor_vae"] - 1 / 5) <= 0.1


@pytest.mark.parametrize("value", [0.0, 7.5])
def test_constant_codes_give_defined_zeros_without_warnings(factors, value):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        scores = all_metrics(lambda f: np.full(f.shape, value), factors)
    for key in ("mig", "sap", "sap_continuous", "dci_disentanglement", "dci_completeness",
                "factor_vae", "factor_vae_train"):
        assert scores[key] == 0.0, key
    assert not np.isnan(np.array(scores["mi_matrix"])).any()


def test_duplicated_codes_fool_mig_and_sap_but_not_dci(factors):
    codes = np.concatenate([factors, factors], 1).astype(float)
    scores = {**compute_mig(codes, factors), **compute_sap(codes, factors),
              **compute_sap_continuous(codes, factors), **dci(codes, factors)}
    assert scores["mig"] <= 0.1
    assert scores["sap"] <= 0.1
    assert scores["sap_continuous"] <= 0.1
    assert scores["dci_disentanglement"] >= 0.9


def test_mixing_two_factors_lands_between_identity_and_noise(factors):
    identity = factors.astype(float)
    mixed = identity.copy()
    mixed[:, 3] = factors[:, 3] + 16 * factors[:, 4]  # x and y in one dimension
    mixed[:, 4] = 0.0
    noise = np.random.default_rng(4).normal(size=(N, 5))
    for metric, key in ((compute_mig, "mig"), (compute_sap_continuous, "sap_continuous"),
                        (dci, "dci_disentanglement")):
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
    single = compute_factor_vae(np.arange(10.0)[:, None], (10,))
    assert single["factor_vae"] is None and "single factor" in single["factor_vae_reason"]
    assert {"factor_vae_train", "factor_vae_active_dims"} <= single.keys()


def test_kl_decomposition_estimates_the_average_kl():
    rng = np.random.default_rng(7)
    mu = rng.normal(size=(800, 4)) * [2.0, 1.0, 0.3, 0.0]
    mu[:, 1] += 0.8 * mu[:, 0]  # correlated dimensions: some total correlation
    logvar = np.log(rng.uniform(0.05, 1.0, size=(800, 4)))
    parts = kl_decomposition(mu, logvar, samples=4)
    analytic = (-0.5 * (1 + logvar - mu ** 2 - np.exp(logvar))).sum(1).mean()
    assert parts["kl"] == pytest.approx(analytic, rel=0.05)
    assert parts["mutual_information"] > 0 and parts["total_correlation"] > 0
    assert parts["mutual_information"] <= np.log(800) + 1e-9  # bounded by log N


def kl_split_on_a_grid(mu: np.ndarray, logvar: np.ndarray, points: int) -> tuple:
    """Index-code MI, total correlation and dimension-wise KL of q(z) = mean_n q(z|x_n),
    integrated numerically over [-7, 7]^d: no sampling, no shared code."""
    axis = np.linspace(-7, 7, points)
    mesh = np.stack(np.meshgrid(*[axis] * mu.shape[1], indexing="ij"), -1).reshape(-1, mu.shape[1])
    var = np.exp(logvar)[:, None]
    per_dim = np.exp(-0.5 * (mesh[None] - mu[:, None]) ** 2 / var) / np.sqrt(2 * np.pi * var)
    q_n, cell = per_dim.prod(2), (axis[1] - axis[0]) ** mu.shape[1]
    q, marginals = q_n.mean(0), per_dim.mean(0)
    prior = np.exp(-0.5 * mesh ** 2) / np.sqrt(2 * np.pi)
    mi = (q_n * np.log(q_n / q)).sum(1).mean() * cell
    tc = (q * (np.log(q) - np.log(marginals).sum(1))).sum() * cell
    dimension_wise = (q * np.log(marginals / prior).sum(1)).sum() * cell
    return mi, tc, dimension_wise


# A few codes, each repeated (the same q(z)), so a million draws cost seconds.
ONE_D = (np.array([[-0.3], [0.0], [0.4]]), np.log(np.array([[0.8], [1.0], [0.9]])), 1201)
TWO_D = (np.array([[-0.5, -0.4], [0.5, 0.45], [0.1, 0.0]]),
         np.log(np.array([[0.7, 0.8], [0.9, 0.6], [1.0, 1.0]])), 401)


@pytest.mark.parametrize("case", [
    pytest.param(ONE_D, id="1-D"), pytest.param(TWO_D, id="2-D", marks=pytest.mark.slow)])
def test_kl_decomposition_matches_numerical_integration(case):
    mu, logvar, points = case
    estimate = kl_decomposition(np.repeat(mu, 30, 0), np.repeat(logvar, 30, 0),
                                samples=10_000, max_points=90)
    exact = kl_split_on_a_grid(mu, logvar, points)
    for key, value in zip(("mutual_information", "total_correlation", "dimension_wise_kl"),
                          exact, strict=True):
        assert estimate[key] == pytest.approx(value, abs=1e-3), key


def test_dimension_roles_read_the_matrix():
    matrix = [[0.9, 0.0, 0.0], [0.0, 0.05, 0.0], [0.1, 0.0, 0.7]]
    assert dimension_roles(matrix) == {"roles": {0: 0, 2: 2}, "uncaptured": [1]}


# --- disentanglement_lib's published cases: ten factors of ten values (1..10) -------------------
TEN = np.random.default_rng(8).integers(1, 11, size=(600, 10))


def test_published_identity_codes_score_high():
    codes = TEN.astype(float)
    assert compute_mig(codes, TEN)["mig"] >= 0.9
    assert compute_sap_continuous(codes, TEN)["sap_continuous"] >= 0.9
    dci = compute_dci(codes, TEN)
    assert dci["dci_disentanglement"] >= 0.9 and dci["dci_completeness"] >= 0.9


def test_published_zero_codes_score_low():
    codes = np.zeros(TEN.shape)
    assert compute_mig(codes, TEN)["mig"] <= 0.2
    assert compute_sap_continuous(codes, TEN)["sap_continuous"] <= 0.2
    dci = compute_dci(codes, TEN)
    assert dci["dci_disentanglement"] <= 0.2 and dci["dci_completeness"] <= 0.2


def test_published_duplicated_codes():
    codes = np.hstack([TEN, TEN]).astype(float)
    assert compute_mig(codes, TEN)["mig"] <= 0.1
    assert compute_sap_continuous(codes, TEN)["sap_continuous"] <= 0.2
    dci = compute_dci(codes, TEN)
    assert dci["dci_disentanglement"] >= 0.9
    # each factor's importance splits over two dimensions of twenty
    assert dci["dci_completeness"] == pytest.approx(1 - math.log(2) / math.log(20), abs=0.1)


def test_published_codes_shuffled_per_example_score_low_on_dci():
    rng = np.random.default_rng(9)
    codes = rng.permuted(TEN.astype(float), axis=1)  # every example's values in a new order
    dci = compute_dci(codes, TEN)
    assert dci["dci_disentanglement"] <= 0.2 and dci["dci_completeness"] <= 0.2


DIAGONAL = np.diag(np.full(5, 5.0))
HALF = 1 - math.log(2) / math.log(10)  # one unit of importance split evenly over two of ten


@pytest.mark.parametrize(("importance", "expected"), [
    (DIAGONAL, (1.0, 1.0)),
    (np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]]), (1.0, 1.0)),  # an unused dimension
    (np.zeros((10, 10)), (0.0, 0.0)),
    (np.vstack([DIAGONAL, DIAGONAL]), (1.0, HALF)),  # every factor in two dimensions
    (DIAGONAL[:2], (1.0, 1.0)),  # factors no dimension captures weigh nothing
    (np.hstack([DIAGONAL, DIAGONAL]), (HALF, 1.0)),  # every dimension serves two factors
])
def test_dci_aggregation_of_the_published_importance_matrices(importance, expected):
    assert dci_aggregate(importance) == pytest.approx(expected, abs=1e-9)


def test_dci_scores_stay_in_their_range():
    rng = np.random.default_rng(10)
    for _ in range(200):
        importance = rng.exponential(size=(rng.integers(1, 8), rng.integers(2, 8)))
        importance[rng.random(importance.shape) < 0.5] = 0
        d, c = dci_aggregate(importance)
        assert 0 <= d <= 1 and 0 <= c <= 1


# --- SAP as disentanglement_lib's default: one linear SVM per dimension and factor -------------
BINARY = np.random.default_rng(11).integers(2, size=(4000, 4))


def test_sap_on_binary_factors_is_the_gap_over_chance():
    # The matching dimension classifies its factor perfectly; any other guesses, right half
    # of the time on balanced classes: the gap is 1 - 0.5.
    assert compute_sap(BINARY.astype(float), BINARY)["sap"] == pytest.approx(0.5, abs=0.05)
    duplicated = np.hstack([BINARY, BINARY]).astype(float)
    assert compute_sap(duplicated, BINARY)["sap"] == pytest.approx(0.0, abs=0.02)


# --- FactorVAE: collapsed dimensions take no votes ------------------------------------------


def test_factor_vae_prunes_collapsed_dimensions():
    # Shape lives only in a dimension spreading less than PRUNE_STD: pruned, it takes no votes,
    # so batches with shape fixed are misread (4 of 5 factors right); counted, it would win
    # them all, as its variance drops to 0.
    codes = GRID.astype(float)
    assert compute_factor_vae(codes, SIZES, n_train=2000, n_eval=1000)["factor_vae"] >= 0.99
    codes[:, 0] *= PRUNE_STD / 10
    scores = compute_factor_vae(codes, SIZES, n_train=2000, n_eval=1000)
    assert scores["factor_vae_active_dims"] == 4
    assert scores["factor_vae"] == pytest.approx(0.8, abs=0.03)


def test_factor_vae_standard_error_is_within_a_hundredth():
    # One code for x and y together: about half the votes of those two land right.
    codes = GRID.astype(float)
    codes[:, 3] = GRID[:, 3] + 16 * GRID[:, 4]
    codes[:, 4] = np.random.default_rng(13).normal(size=len(GRID))
    scores = [compute_factor_vae(codes, SIZES, seed=s)["factor_vae"] for s in range(4)]
    assert 0.6 < np.mean(scores) < 0.9
    assert np.std(scores, ddof=1) <= 0.01
