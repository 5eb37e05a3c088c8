"""Hyper-parameter search across processes: GridSearchCV(n_jobs=2) over bpnet estimators."""
import pickle
import warnings

import numpy as np
import pytest

pytest.importorskip("sklearn")
from sklearn.datasets import make_classification  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.model_selection import GridSearchCV  # noqa: E402

import bpnet  # noqa: E402

GRID = {"hidden_layer_sizes": [(8,), (16,)], "alpha": [1e-4, 1e-2]}


def _search(n_jobs):
    X, y = make_classification(n_samples=300, n_features=10, n_informative=6, random_state=0)
    est = bpnet.MLPClassifier(solver="adam", max_iter=60, learning_rate_init=0.01, random_state=0,
                              n_threads=1)
    search = GridSearchCV(est, GRID, cv=3, n_jobs=n_jobs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        search.fit(X, y)
    return search, X


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_grid_search_in_two_processes_equals_one():
    one, X = _search(1)
    two, _ = _search(2)
    np.testing.assert_array_equal(one.cv_results_["mean_test_score"], two.cv_results_["mean_test_score"])
    assert one.best_params_ == two.best_params_
    np.testing.assert_array_equal(one.best_estimator_._net.params, two.best_estimator_._net.params)
    np.testing.assert_array_equal(one.predict_proba(X), two.predict_proba(X))
    assert one.best_score_ > 0.7


def test_fitted_estimator_pickles_small():
    search, X = _search(1)
    est = search.best_estimator_
    blob = pickle.dumps(est)
    # the parameters (float64) plus the optimizer state and a small header: no training data
    assert len(blob) < 8 * est._net.n_params * 4 + 8192
    again = pickle.loads(blob)
    np.testing.assert_array_equal(again.predict_proba(X), est.predict_proba(X))
