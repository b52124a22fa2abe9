"""Disentanglement metrics over plain arrays, and the KL decomposition of the ELBO.

Each metric is `compute_x(codes, factors, ...) -> dict` (disentanglement_lib's shape): codes
(n, d) floats, factors (n, k) integer factor values. FactorVAE alone takes the codes of a whole
factor grid, because it needs batches drawn with one factor held fixed. Every score lies in
[0, 1], higher is better; degenerate inputs (constant codes, a constant factor) give defined
values, never NaN, and every key is always present (None, with a reason, where undefined).
"""

from __future__ import annotations

import math

import numpy as np

from vae import boosted_trees
from vae.losses import gaussian_log_density

# scikit-learn is imported inside the metrics that use it: it takes a second, and METRICS is
# read at every app start.

# The definitions' version: bump it when a metric changes, so cached scores are recomputed.
# 2: SAP as disentanglement_lib's default (the R^2 variant became sap_continuous); FactorVAE
# prunes collapsed dimensions and votes 10,000 / 5,000 times, as disentanglement_lib's study.
# 3: DCI from gradient-boosted trees, as disentanglement_lib (a random forest before).
# 4: those trees on binned codes (vae.boosted_trees).
VERSION = 4
DEFAULT_BINS = 20
# The headline scores, in the order the CLI, the sweep table and the app show them: the key in
# a metrics result -> its name for people.
METRICS = {"mig": "MIG", "sap": "SAP (linear SVM accuracy)",
           "sap_continuous": "SAP continuous (R² of a linear fit)",
           "factor_vae": "FactorVAE", "dci_disentanglement": "DCI disentanglement",
           "dci_completeness": "DCI completeness", "dci_informativeness": "DCI informativeness"}
# Share of the codes SAP and DCI hold out to score their classifiers.
TEST_FRACTION = 0.2
# disentanglement_lib's study: a dimension whose codes spread less than this is collapsed.
PRUNE_STD = 0.05
# The largest block of log-densities the KL split makes at once (kl_decomposition).
BLOCK_BYTES = 64 * 2**20


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


def held_out(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A fixed random split of n examples into training and test indices (TEST_FRACTION)."""
    order = np.random.default_rng(seed).permutation(n)
    cut = n - max(1, round(n * TEST_FRACTION))
    return np.sort(order[:cut]), np.sort(order[cut:])


def compute_sap(codes: np.ndarray, factors: np.ndarray, *, seed: int = 0) -> dict:
    """Separated attribute predictability (Kumar et al. 2018) as disentanglement_lib scores it
    by default: the test accuracy of a linear SVM predicting each factor from each single
    dimension; per factor, the best dimension's accuracy minus the second best's."""
    from sklearn.svm import LinearSVC

    train, test = held_out(len(codes), seed)
    matrix = np.zeros((codes.shape[1], factors.shape[1]))
    for k in range(factors.shape[1]):
        y_train, y_test = factors[train, k], factors[test, k]
        for j in range(codes.shape[1]):
            x = codes[:, j:j + 1].astype(np.float64)
            if len(np.unique(y_train)) < 2 or np.ptp(x[train]) == 0:
                # Nothing to fit: the classifier can only name the most common training value.
                values, counts = np.unique(y_train, return_counts=True)
                matrix[j, k] = np.mean(y_test == values[counts.argmax()])
                continue
            svm = LinearSVC(C=0.01, class_weight="balanced").fit(x[train], y_train)
            matrix[j, k] = svm.score(x[test], y_test)
    per_factor = _gap(matrix)
    return {"sap": _unit(per_factor.mean()), "sap_per_factor": per_factor.tolist()}


def compute_sap_continuous(codes: np.ndarray, factors: np.ndarray, *, seed: int = 0) -> dict:
    """SAP's continuous variant: scored by R^2 of a one-dimension linear fit on the training
    part of the codes (as disentanglement_lib), so a 3-valued factor's identity code can
    score 1."""
    train, _ = held_out(len(codes), seed)
    matrix = _r2_matrix(codes[train].astype(np.float64), factors[train].astype(np.float64))
    per_factor = _gap(matrix)
    return {"sap_continuous": _unit(per_factor.mean()),
            "sap_continuous_per_factor": per_factor.tolist()}


def _unit(score: float) -> float:
    """A score in [0, 1]: rounding can take a sum of shares a few ulps past either end. A NaN
    is a defect to report, never a score to clip."""
    if not math.isfinite(score):
        raise ValueError(f"a disentanglement score came out {score}")
    return float(min(1.0, max(0.0, score)))


def _normalized_entropy(p: np.ndarray, base: int) -> np.ndarray:
    """Entropy of each row of p (rows sum to 1) in log base `base`: 0 when one-hot, 1 when flat."""
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, p * np.log(np.where(p > 0, p, 1)), 0.0)
    return -terms.sum(1) / math.log(base)


def compute_dci(codes: np.ndarray, factors: np.ndarray, *, seed: int = 0) -> dict:
    """DCI (Eastwood & Williams 2018) from disentanglement_lib's classifier, scikit-learn's
    default gradient-boosted trees per factor (as vae.boosted_trees grows them, on binned codes:
    within 0.015 of the reference on the shipped models in a seventh of the time):
    disentanglement (each dimension serves one factor), completeness (each factor lives in one
    dimension), informativeness (test accuracy of predicting the factor from all dimensions)."""
    train, test = held_out(len(codes), seed)
    importance = np.zeros((codes.shape[1], factors.shape[1]))
    accuracy = []
    for f in range(factors.shape[1]):
        y = factors[:, f]
        if len(np.unique(y[train])) < 2:  # a constant factor tells nothing either way
            accuracy.append(1.0)
            continue
        importance[:, f], predicted = boosted_trees.fit_predict(codes[train], y[train], codes[test],
                                                                seed=seed)
        accuracy.append(float((predicted == y[test]).mean()))
    disentanglement, completeness = dci_aggregate(importance)
    result = {"dci_disentanglement": disentanglement, "dci_completeness": completeness,
              "dci_informativeness": _unit(np.mean(accuracy)),
              "dci_importance": importance.tolist()}
    if disentanglement is None:
        result["dci_disentanglement_reason"] = "undefined for a single factor"
    return result


def dci_aggregate(importance: np.ndarray) -> tuple[float | None, float]:
    """DCI's disentanglement and completeness of an importance matrix (dimensions x factors):
    each dimension's 1 - entropy over factors, weighted by its share of the importance, and
    each factor's 1 - entropy over dimensions, weighted likewise. Nothing important (constant
    codes) scores 0; disentanglement over a single factor is undefined (None)."""
    importance = np.abs(np.asarray(importance, np.float64))
    (d, k), total = importance.shape, importance.sum()
    if total == 0:
        return (0.0 if k > 1 else None), 0.0
    disentanglement = None
    if k > 1:
        by_dim = importance.sum(1)
        used = by_dim > 0
        p_dim = importance[used] / by_dim[used, None]
        disentanglement = _unit((by_dim[used] / total * (1 - _normalized_entropy(p_dim, k))).sum())
    by_factor = importance.sum(0)
    has = by_factor > 0
    p_factor = (importance[:, has] / by_factor[has]).T
    per_factor = (1 - _normalized_entropy(p_factor, d)) if d > 1 else np.ones(has.sum())
    return disentanglement, _unit((by_factor[has] / total * per_factor).sum())


def compute_factor_vae(grid_codes: np.ndarray, sizes: tuple[int, ...], *, batch_size: int = 64,
                       n_train: int = 10_000, n_eval: int = 5_000, seed: int = 0) -> dict:
    """FactorVAE score (Kim & Mnih 2018) with disentanglement_lib's study settings: hold one
    factor fixed over a batch, find the dimension whose variance (over its global variance)
    drops most, and score a majority-vote classifier from that dimension to the fixed factor.

    `grid_codes` are the codes of every factor combination, in np.indices order over `sizes`
    (shapes.grid()): a batch is a gather, the same statistic as encoding each batch anew.
    Dimensions spreading less than PRUNE_STD are collapsed and take no votes. With 5,000
    evaluation votes the score's standard error is about 0.007."""
    empty = {"factor_vae": None, "factor_vae_train": None, "factor_vae_active_dims": 0}
    if len(sizes) < 2:
        return {**empty, "factor_vae_reason": "undefined for a single factor"}
    codes = np.asarray(grid_codes, np.float64)
    global_var = codes.var(0)
    active = np.sqrt(global_var) >= PRUNE_STD
    if not active.any():
        return {**empty, "factor_vae": 0.0, "factor_vae_train": 0.0}
    rng = np.random.default_rng(seed)
    sizes_array = np.asarray(sizes)

    def votes(n: int) -> np.ndarray:
        counts = np.zeros((codes.shape[1], len(sizes)), np.int64)
        for start in range(0, n, 1000):  # bounded memory: 1000 batches at a time
            m = min(1000, n - start)
            chosen = rng.integers(len(sizes), size=m)
            rows = rng.integers(0, sizes_array, size=(m, batch_size, len(sizes)))
            rows[np.arange(m), :, chosen] = rows[np.arange(m), :1, chosen]
            batch = codes[np.ravel_multi_index(rows.reshape(-1, len(sizes)).T, sizes)]
            local = batch.reshape(m, batch_size, -1)[..., active].var(1, ddof=1)
            dims = np.flatnonzero(active)[(local / global_var[active]).argmin(1)]
            np.add.at(counts, (dims, chosen), 1)
        return counts

    train, test = votes(n_train), votes(n_eval)
    classifier = train.argmax(1)  # each dimension votes for the factor it most often marks
    correct = test[np.arange(len(classifier)), classifier].sum()
    return {"factor_vae": _unit(correct / test.sum()),
            "factor_vae_train": _unit(train.max(1).sum() / train.sum()),
            "factor_vae_active_dims": int(active.sum())}


def kl_decomposition(mu: np.ndarray, logvar: np.ndarray, *, samples: int = 1,
                     seed: int = 0, max_points: int = 1000) -> dict:
    """Where the average KL goes (Chen et al. 2018; Hoffman & Johnson's ELBO surgery):
    KL = index-code MI + total correlation + dimension-wise KL, with the aggregate posterior
    q(z) = mean_n q(z|x_n) over all the given examples, estimated with z ~ q(z|x) drawn for
    at most `max_points` of them (a fixed random subset: the cost is points x examples)."""
    rng = np.random.default_rng(seed)
    mu, logvar = np.asarray(mu, np.float64), np.asarray(logvar, np.float64)
    n, d = mu.shape
    points = np.sort(rng.permutation(n)[:max_points])
    # Each chunk of samples makes a (chunk, n, d) float64 block of log-densities, and the
    # log-mean-exp over examples two more of its size: bounded in bytes, not in samples, the
    # memory stays a few blocks whatever n (256 samples at a time over 10,000 codes took 1 GB).
    chunk = max(1, BLOCK_BYTES // (8 * n * d))
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


# The share of a factor's entropy a dimension must hold to count as carrying it.
ROLE_THRESHOLD = 0.2


def dimension_roles(mi_matrix: np.ndarray, *, threshold: float = ROLE_THRESHOLD) -> dict:
    """A plain reading of the MI matrix: for each dimension the factor it mostly encodes
    (share >= threshold), and the factors no dimension captures."""
    matrix = np.asarray(mi_matrix)
    roles = {int(j): int(matrix[j].argmax()) for j in range(len(matrix))
             if matrix[j].max() >= threshold}
    missed = [k for k in range(matrix.shape[1]) if matrix[:, k].max() < threshold]
    return {"roles": roles, "uncaptured": missed}
