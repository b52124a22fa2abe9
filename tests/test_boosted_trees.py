"""DCI's booster (vae/boosted_trees.py) against the classifier it stands for, scikit-learn's
default GradientBoostingClassifier."""

import numpy as np
import pytest
from sklearn.ensemble import GradientBoostingClassifier

from vae.boosted_trees import BINS, fit_predict


def problem(n, classes, features=4, seed=0):
    """The label follows the first two features, with noise; any others are noise."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, features)).astype(np.float32)
    score = x[:, 0] + 0.5 * x[:, min(1, features - 1)] + 0.3 * rng.normal(size=n)
    y = np.digitize(score, np.quantile(score, np.linspace(0, 1, classes + 1)[1:-1]))
    return x[: n // 2], y[: n // 2], x[n // 2:], y[n // 2:]


@pytest.mark.parametrize("classes", [2, 3, 5])
def test_the_same_predictions_where_every_value_has_a_bin(classes):
    # One feature with fewer distinct values than bins: every split scikit-learn can choose,
    # this booster can choose, and no other feature can tie with it. The same test predictions
    # after 100 stages mean the same splits, leaf values, learning rate and first guess.
    x, y, x_test, _ = problem(400, classes, features=1)
    assert len(np.unique(x)) <= BINS
    importance, predicted = fit_predict(x, y, x_test)
    reference = GradientBoostingClassifier(random_state=0).fit(x, y)
    np.testing.assert_array_equal(predicted, reference.predict(x_test))
    np.testing.assert_array_equal(importance, [1.0])


@pytest.mark.parametrize("classes", [2, 4, 16])
def test_close_to_the_exact_trees(classes):
    # More values than bins, and small nodes where two features split the same examples
    # apart (scikit-learn takes the first in a random order, this booster the lowest): what
    # DCI reads, the importances and the test accuracy, stay within 0.02.
    x, y, x_test, y_test = problem(6000, classes)
    importance, predicted = fit_predict(x, y, x_test)
    reference = GradientBoostingClassifier(random_state=0).fit(x, y)
    np.testing.assert_allclose(importance, reference.feature_importances_, atol=0.02)
    assert abs((predicted == y_test).mean() - reference.score(x_test, y_test)) <= 0.02


def test_features_that_never_vary_give_no_importance():
    x = np.ones((50, 3), np.float32)
    y = np.r_[np.zeros(30, int), np.ones(20, int)]
    importance, predicted = fit_predict(x, y, x[:5])
    assert not importance.any()
    np.testing.assert_array_equal(predicted, 0)  # the more common class
