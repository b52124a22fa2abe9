"""Disentanglement metrics over plain arrays, and the KL decomposition of the ELBO.

Each metric is `compute_x(codes, factors, ...) -> dict` (disentanglement_lib's shape): codes
(n, d) floats, factors (n, k) integer factor values. FactorVAE alone takes an encode function
and a fixed-factor sampler, because it needs batches drawn with one factor held fixed.
Degenerate inputs (constant codes, a constant factor) give defined values, never NaN.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from vae.losses import gaussian_log_density

# scikit-learn is imported inside the metrics that use it: it takes a second, and METRICS is
# read at every app start.

# The definitions' version: bump it when a metric changes, so cached scores are recomputed.
VERSION = 1
DEFAULT_BINS = 20
# The headline scores, in the order the CLI, the sweep table and the app show them: the key in
# a metrics result -> its name for people.
METRICS = {"mig": "MIG", "sap": "SAP", "factor_vae": "FactorVAE",
           "dci_disentanglement": "DCI disentanglement", "dci_completeness": "DCI completeness",
           "dci_informativeness": "DCI informativeness"}


def discretize(codes: np.ndarray, bins: int = DEFAULT_BINS) -> np.ndarray:
    """Each dimension cut into `bins` equal-width bins over its own range (as
    disentanglement_lib's histogram discretizer); a constant dimension is one bin."""
    out = np.zeros(codes.shape, np.int64)
    for j in range(codes.shape[1]):
        lo, hi = codes[:, j].min(), codes[:, j].max()
        if hi > lo:
            edges = np.linspace(lo, hi, bins + 1)[1:-1]
            out[:, j] = np.digitize(codes[:, j], edges)
    return out


def _entropy(values: np.ndarray) -> float:
    _, counts = np.unique(values, return_counts=True)
    p = counts / counts.sum()
    return float(-(p * np.log(p)).sum())


def mutual_info_matrix(codes: np.ndarray, factors: np.ndarray,
                       bins: int = DEFAULT_BINS) -> np.ndarray:
    """I(z_j; v_k) / H(v_k), shape (d, k): how much of each factor each dimension carries.
    Codes get at least as many bins as the factor with the most values has."""
    from sklearn.metrics import mutual_info_score

    bins = max(bins, max(len(np.unique(factors[:, k])) for k in range(factors.shape[1])))
    discrete = discretize(codes, bins)
    matrix = np.zeros((codes.shape[1], factors.shape[1]))
    for k in range(factors.shape[1]):
        h = _entropy(factors[:, k])
        if h > 0:
            for j in range(codes.shape[1]):
                matrix[j, k] = mutual_info_score(factors[:, k], discrete[:, j]) / h
    return matrix


def _gap(scores: np.ndarray) -> np.ndarray:
    """Per factor (column): the best dimension's score minus the second best's."""
    top = np.sort(scores, axis=0)[::-1]
    return top[0] - top[1] if len(top) > 1 else top[0]


def compute_mig(codes: np.ndarray, factors: np.ndarray, bins: int = DEFAULT_BINS) -> dict:
    """Mutual information gap (Chen et al. 2018): mean over factors of the normalized MI
    gap between the two dimensions that carry the most of it."""
    matrix = mutual_info_matrix(codes, factors, bins)
    per_factor = _gap(matrix)
    return {"mig": float(per_factor.mean()), "mig_per_factor": per_factor.tolist(),
            "mi_matrix": matrix.tolist()}


def _r2_matrix(codes: np.ndarray, factors: np.ndarray) -> np.ndarray:
    """R^2 of a one-dimension linear fit of each factor from each code dimension: corr^2."""
    z = codes - codes.mean(0)
    v = factors - factors.mean(0)
    zz, vv = np.sqrt((z ** 2).sum(0)), np.sqrt((v ** 2).sum(0))
    denominator = np.outer(zz, vv)
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = np.where(denominator > 0, (z.T @ v) / np.where(denominator > 0, denominator, 1),
                        0.0)
    return corr ** 2


def compute_sap(codes: np.ndarray, factors: np.ndarray) -> dict:
    """Separated attribute predictability (Kumar et al. 2018), scored by R^2 of a
    one-dimension linear fit, so a 3-valued factor's identity code can score 1."""
    matrix = _r2_matrix(codes.astype(np.float64), factors.astype(np.float64))
    per_factor = _gap(matrix)
    return {"sap": float(per_factor.mean()), "sap_per_factor": per_factor.tolist()}


def _normalized_entropy(p: np.ndarray, base: int) -> np.ndarray:
    """Entropy of each row of p (rows sum to 1) in log base `base`: 0 when one-hot, 1 when flat."""
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, p * np.log(np.where(p > 0, p, 1)), 0.0)
    return -terms.sum(1) / math.log(base)


def compute_dci(codes: np.ndarray, factors: np.ndarray, *, seed: int = 0,
                n_estimators: int = 30) -> dict:
    """DCI (Eastwood & Williams 2018) with a random forest per factor: disentanglement (each
    dimension serves one factor), completeness (each factor lives in one dimension),
    informativeness (test accuracy of predicting the factor from all dimensions)."""
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.model_selection import train_test_split

    d, k = codes.shape[1], factors.shape[1]
    importance = np.zeros((d, k))
    accuracy = []
    for f in range(k):
        x_train, x_test, y_train, y_test = train_test_split(codes, factors[:, f], test_size=0.2,
                                                            random_state=seed)
        if len(np.unique(y_train)) < 2:  # a constant factor tells nothing either way
            accuracy.append(1.0)
            continue
        # All features at every split (as gradient boosting in disentanglement_lib): with a
        # random subset, splits land on irrelevant dimensions and smear the importances.
        forest = RandomForestClassifier(n_estimators=n_estimators, max_depth=8, max_features=None,
                                        random_state=seed, n_jobs=1)
        forest.fit(x_train, y_train)
        importance[:, f] = forest.feature_importances_
        accuracy.append(float(forest.score(x_test, y_test)))
    total = importance.sum()
    result = {"dci_informativeness": float(np.mean(accuracy)),
              "dci_importance": importance.tolist()}
    if total == 0:  # constant codes: nothing is used, nothing is disentangled
        result.update(dci_disentanglement=0.0, dci_completeness=0.0)
        return result
    by_dim = importance.sum(1)
    used = by_dim > 0
    rho = by_dim / total
    if k > 1:
        p_dim = importance[used] / by_dim[used, None]
        disentanglement = float((rho[used] * (1 - _normalized_entropy(p_dim, k))).sum())
    else:
        disentanglement = None
    by_factor = importance.sum(0)
    has = by_factor > 0
    p_factor = (importance[:, has] / by_factor[has]).T
    completeness = (1 - _normalized_entropy(p_factor, d)) if d > 1 else np.ones(has.sum())
    weights = by_factor[has] / by_factor[has].sum()
    result.update(dci_disentanglement=disentanglement,
                  dci_completeness=float((weights * completeness).sum()))
    if disentanglement is None:
        result["dci_disentanglement_reason"] = "undefined for a single factor"
    return result


Sampler = Callable[[int, int, np.random.Generator], np.ndarray]


def compute_factor_vae(encode: Callable[[np.ndarray], np.ndarray], sample_fixed: Sampler,
                       sample_random: Callable[[int, np.random.Generator], np.ndarray],
                       num_factors: int, *, batch_size: int = 64, n_train: int = 300,
                       n_eval: int = 200, n_global: int = 5000, seed: int = 0) -> dict:
    """FactorVAE score (Kim & Mnih 2018): hold one factor fixed, find the dimension whose
    variance (normalized by its global spread) drops most, and score a majority-vote
    classifier from that dimension to the fixed factor.

    encode(inputs) -> codes; sample_fixed(factor, n, rng) -> inputs with that factor held at
    one random value; sample_random(n, rng) -> inputs with every factor random."""
    if num_factors < 2:
        return {"factor_vae": None, "factor_vae_reason": "undefined for a single factor"}
    rng = np.random.default_rng(seed)
    global_var = encode(sample_random(n_global, rng)).var(0)
    active = global_var > 1e-12
    if not active.any():
        return {"factor_vae": 0.0, "factor_vae_active_dims": 0}

    def votes(n: int) -> np.ndarray:
        chosen = rng.integers(num_factors, size=n)
        # One encode call for every batch: the encoder is far faster on one big array.
        codes = encode(np.concatenate([sample_fixed(int(k), batch_size, rng) for k in chosen]))
        local = codes.reshape(n, batch_size, -1).var(1)
        ratio = np.where(active, local / np.where(active, global_var, 1), np.inf)
        counts = np.zeros((len(global_var), num_factors), np.int64)
        np.add.at(counts, (ratio.argmin(1), chosen), 1)
        return counts

    train, test = votes(n_train), votes(n_eval)
    classifier = train.argmax(1)  # each dimension votes for the factor it most often marks
    correct = test[np.arange(len(classifier)), classifier].sum()
    return {"factor_vae": float(correct / test.sum()),
            "factor_vae_train": float(train.max(1).sum() / train.sum()),
            "factor_vae_active_dims": int(active.sum())}


def kl_decomposition(mu: np.ndarray, logvar: np.ndarray, *, samples: int = 1,
                     seed: int = 0, chunk: int = 256, max_points: int = 1000) -> dict:
    """Where the average KL goes (Chen et al. 2018; Hoffman & Johnson's ELBO surgery):
    KL = index-code MI + total correlation + dimension-wise KL, with the aggregate posterior
    q(z) = mean_n q(z|x_n) over all the given examples, estimated with z ~ q(z|x) drawn for
    at most `max_points` of them (a fixed random subset: the cost is points x examples)."""
    rng = np.random.default_rng(seed)
    mu, logvar = np.asarray(mu, np.float64), np.asarray(logvar, np.float64)
    n, d = mu.shape
    points = np.sort(rng.permutation(n)[:max_points])
    totals = np.zeros(4)  # E[log q(z|x)], E[log q(z)], E[sum_j log q(z_j)], E[log p(z)]
    for _ in range(samples):
        z = mu[points] + np.exp(0.5 * logvar[points]) * rng.standard_normal((len(points), d))
        for start in range(0, len(points), chunk):
            zc, own_index = z[start:start + chunk], points[start:start + chunk]
            # log q(z_i,j | x_m) for every sample i in the chunk and every example m: (c, n, d)
            log_q = gaussian_log_density(zc[:, None], mu[None], logvar[None])
            own = log_q[np.arange(len(zc)), own_index].sum(1)
            joint = _logmeanexp(log_q.sum(2), axis=1)
            marginals = _logmeanexp(log_q, axis=1).sum(1)
            prior = gaussian_log_density(zc).sum(1)
            totals += [own.sum(), joint.sum(), marginals.sum(), prior.sum()]
    e_cond, e_joint, e_marg, e_prior = totals / (len(points) * samples)
    return {"mutual_information": float(e_cond - e_joint),
            "total_correlation": float(e_joint - e_marg),
            "dimension_wise_kl": float(e_marg - e_prior),
            "kl": float(e_cond - e_prior)}


def _logmeanexp(a: np.ndarray, axis: int) -> np.ndarray:
    peak = a.max(axis=axis, keepdims=True)
    return (np.log(np.exp(a - peak).mean(axis=axis)) + np.squeeze(peak, axis))


def dimension_roles(mi_matrix: np.ndarray, *, threshold: float = 0.2) -> dict:
    """A plain reading of the MI matrix: for each dimension the factor it mostly encodes
    (share >= threshold), and the factors no dimension captures."""
    matrix = np.asarray(mi_matrix)
    roles = {int(j): int(matrix[j].argmax()) for j in range(len(matrix))
             if matrix[j].max() >= threshold}
    missed = [k for k in range(matrix.shape[1]) if matrix[:, k].max() < threshold]
    return {"roles": roles, "uncaptured": missed}
