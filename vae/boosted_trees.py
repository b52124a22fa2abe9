"""Gradient-boosted trees for DCI (docs/design.md §3): the algorithm of scikit-learn's default
GradientBoostingClassifier, which disentanglement_lib uses, on binned features.

DCI fits one booster per factor; scikit-learn's exact trees sort every node's samples for every
tree and took 41 s a shapes model on one thread. Here each feature is cut once into at most
BINS quantile bins, and a whole stage (one tree per class) grows level by level from weighted
histograms, as a histogram booster does, but with the reference's first-order criterion and
leaf values, so it finds the reference's trees up to where a bin edge falls (identical where a
feature has at most BINS distinct values).
"""

from __future__ import annotations

import numpy as np

BINS = 256
STAGES, LEARNING_RATE, DEPTH = 100, 0.1, 3  # scikit-learn's defaults
EPSILON = np.finfo(np.float64).eps  # a node this pure is a leaf, as in scikit-learn's trees


def bin_edges(column: np.ndarray, bins: int = BINS) -> np.ndarray:
    """Split points of one feature: halfway between neighbouring distinct values, at most
    bins - 1 of them, placed at quantiles when there are more values than bins."""
    values = np.unique(column)
    if len(values) > bins:
        cuts = np.quantile(column, np.linspace(0, 1, bins + 1)[1:-1], method="inverted_cdf")
        cuts = np.unique(cuts)
        above = values[np.minimum(np.searchsorted(values, cuts, side="right"), len(values) - 1)]
        return np.where(above > cuts, cuts / 2 + above / 2, cuts)
    return values[:-1] / 2 + values[1:] / 2


def fit_predict(x: np.ndarray, labels: np.ndarray, x_test: np.ndarray, *, bins: int = BINS,
                seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Boost on (x, labels) and return each feature's impurity importance (summing to 1, or
    all 0 when no tree split) and the predicted labels of x_test. The seed only breaks ties
    between features that split alike."""
    # Features as float32, as scikit-learn's trees see them, then compared in float64 as it does.
    x = np.asarray(x, np.float32).astype(np.float64)
    x_test = np.asarray(x_test, np.float32).astype(np.float64)
    classes, y = np.unique(labels, return_inverse=True)
    edges = [bin_edges(column, bins) for column in x.T]
    binned = np.stack([np.searchsorted(e, column) for e, column in zip(edges, x.T, strict=True)], 1)
    thresholds = np.full((x.shape[1], bins), np.inf)
    for f, e in enumerate(edges):
        thresholds[f, :len(e)] = e
    booster = _Booster(binned, thresholds, len(classes), bins, np.random.default_rng(seed))
    raw, raw_test = booster.initial(y, len(x_test))
    target = np.eye(len(classes))[y][:, -booster.trees:]
    for _ in range(STAGES):
        booster.stage(target, raw, raw_test, x_test)
    predicted = (raw_test[:, 0] > 0).astype(int) if booster.binary else raw_test.argmax(1)
    total = booster.importance.sum()
    return (booster.importance / total if total > 0 else booster.importance), classes[predicted]


class _Booster:
    """One tree per class and stage (one in all for two classes), grown together."""

    def __init__(self, binned: np.ndarray, thresholds: np.ndarray, classes: int, bins: int,
                 rng: np.random.Generator):
        self.n, self.d = binned.shape
        self.rng = rng
        self.thresholds, self.bins = thresholds, bins
        self.classes = classes
        self.binary = classes == 2
        self.trees = 1 if self.binary else classes
        self.cells = (np.arange(self.d) * bins)[None, :] + binned  # (n, d): feature and bin
        self.binned_by_feature = binned.T.ravel()
        # Reused each level: fresh arrays this size cost more in page faults than in arithmetic.
        self.cell = np.empty((self.trees, self.n, self.d), np.int64)
        self.spread = np.empty((self.trees, self.n, self.d))
        self.buffers = np.empty((3, self.trees * 2 ** (DEPTH - 1) * self.d * bins))
        self.first_counts = np.bincount(self.cells.ravel(), minlength=self.d * bins)
        self.importance = np.zeros(self.d)

    def initial(self, y: np.ndarray, n_test: int) -> tuple[np.ndarray, np.ndarray]:
        """Raw scores of the prior, as scikit-learn's initial estimator: log-odds of the
        second class for two, log-probabilities otherwise (softmax ignores a shared shift)."""
        prior = np.bincount(y, minlength=self.classes) / len(y)
        start = np.log(prior[1:] / prior[:1]) if self.binary else np.log(prior)
        return np.tile(start, (self.n, 1)), np.tile(start, (n_test, 1))

    def stage(self, target: np.ndarray, raw: np.ndarray, raw_test: np.ndarray,
              x_test: np.ndarray) -> None:
        """Fit this stage's trees to the negative gradient of the multinomial (or binomial)
        deviance and add their Newton-step leaf values, times the learning rate, to raw."""
        if self.binary:
            p = 1 / (1 + np.exp(-raw))
        else:
            e = np.exp(raw - raw.max(1, keepdims=True))
            p = e / e.sum(1, keepdims=True)
        residual = np.ascontiguousarray((target - p).T)  # (trees, n)
        node, node_test = self.grow(residual, x_test)
        leaves = 2 ** DEPTH
        slot = (np.arange(self.trees)[:, None] * leaves + node).ravel()
        numerator = np.bincount(slot, residual.ravel(), self.trees * leaves)
        denominator = np.bincount(slot, (p * (1 - p)).T.ravel(), self.trees * leaves)
        if not self.binary:  # Friedman's (K - 1) / K, which scikit-learn keeps
            numerator *= (self.classes - 1) / self.classes
        with np.errstate(divide="ignore", invalid="ignore"):
            value = np.where(np.abs(denominator) < 1e-150, 0.0, numerator / denominator)
        value = value.reshape(self.trees, leaves)
        raw += LEARNING_RATE * np.take_along_axis(value, node, 1).T
        raw_test += LEARNING_RATE * np.take_along_axis(value, node_test, 1).T

    def split_gains(self, sums: np.ndarray, counts: np.ndarray
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """From each node's histograms (trees, nodes, features, bins) of residual sums and
        example counts: Friedman's improvement (n_l n_r / n)(mean_l - mean_r)^2, times n, of
        cutting after each bin, and each node's residual sum and size. Where one side is
        empty the numerator is exactly 0: such a cut never wins."""
        size = sums.size
        left_sum = np.cumsum(sums, -1, out=sums)
        left_n = np.cumsum(counts, -1, np.float64, self.buffers[0, :size].reshape(sums.shape))
        total, count = left_sum[..., :1, -1:], left_n[..., :1, -1:]
        gain = np.multiply(count, left_sum, out=self.buffers[1, :size].reshape(sums.shape))
        gain -= np.multiply(left_n, total, out=self.buffers[2, :size].reshape(sums.shape))
        gain **= 2
        parts = np.subtract(count, left_n, out=self.buffers[2, :size].reshape(sums.shape))
        parts *= left_n
        gain /= np.maximum(parts, 1, out=parts)
        return gain, total[..., 0, 0], count[..., 0, 0]

    def grow(self, residual: np.ndarray, x_test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Grow every tree of the stage to DEPTH; return the leaf of each training and test
        example. Node m at one level has children 2m and 2m + 1 at the next; a node that
        does not split sends everything to 2m."""
        trees, n, d, bins = self.trees, self.n, self.d, self.bins
        tree = np.arange(trees)[:, None]
        node = np.zeros((trees, n), np.int64)
        node_test = np.zeros((trees, len(x_test)), np.int64)
        done = np.zeros((trees, 1), bool)
        spread = self.spread
        spread[...] = residual[:, :, None]
        spread = spread.ravel()
        flat = residual.ravel()
        rows, rows_test = np.arange(n), np.arange(len(x_test))
        for level in range(DEPTH):
            nodes = 2 ** level
            size = trees * nodes * d * bins
            group = tree * nodes + node
            cell = np.add((group * (d * bins))[:, :, None], self.cells[None], out=self.cell).ravel()
            sums = np.bincount(cell, spread, size).reshape(trees, nodes, d, bins)
            counts = (np.broadcast_to(self.first_counts, (trees, 1, d * bins)) if level == 0
                      else np.bincount(cell, minlength=size))
            gain, total, count = self.split_gains(sums, counts.reshape(sums.shape))
            # Each node reads the features in a random order and keeps the first best split,
            # as scikit-learn's trees do: two dimensions that tie (a duplicated code) share the
            # importance instead of the first taking it all.
            per_feature = gain.max(-1)
            order = self.rng.random((trees, nodes, d)).argsort(-1)
            best_feature = np.take_along_axis(
                order, np.take_along_axis(per_feature, order, -1).argmax(-1)[..., None], -1)
            gain_of = np.take_along_axis(gain, best_feature[..., None], 2)[:, :, 0]
            best_cut = gain_of.argmax(-1)
            best_feature = best_feature[..., 0]
            gain = np.take_along_axis(per_feature, best_feature[..., None], -1)[..., 0]
            squares = np.bincount(group.ravel(), flat * flat, trees * nodes)
            with np.errstate(divide="ignore", invalid="ignore"):
                impurity = squares.reshape(trees, nodes) / count - (total / count) ** 2
            # A node no cut improves stays a leaf (scikit-learn would still cut it): every cut
            # would have to leave both sides the same mean residual.
            split = (count >= 2) & (impurity > EPSILON) & ~done & (gain > 0)
            feature = np.where(split, best_feature, 0)
            cut = np.where(split, best_cut, bins)  # bin index past every bin: left
            t, m = np.nonzero(split)
            # The MSE decrease, weighted by the node's share of the examples (scikit-learn's
            # feature_importances_ before normalizing).
            np.add.at(self.importance, feature[t, m], gain[t, m] / count[t, m] / n)
            threshold = np.where(split, self.thresholds[feature, np.minimum(cut, bins - 1)], np.inf)
            done = np.repeat(done | ~split, 2, 1)
            chosen = feature.ravel()[group]
            node = 2 * node + (self.binned_by_feature[chosen * n + rows] > cut.ravel()[group])
            group_test = tree * nodes + node_test
            node_test = 2 * node_test + (x_test[rows_test, feature.ravel()[group_test]]
                                         > threshold.ravel()[group_test])
        return node, node_test
