"""dask-ml's Incremental wrapper drives bpnet's partial_fit over the chunks of a dask array."""
import warnings

import numpy as np
import pytest

pytest.importorskip("sklearn")
da = pytest.importorskip("dask.array", reason="dask is not installed (pip install 'dask[array]' dask-ml)")
with warnings.catch_warnings():  # dask-ml's imports may warn about their own dependencies
    warnings.simplefilter("ignore")
    wrappers = pytest.importorskip("dask_ml.wrappers", reason="dask-ml is not installed (pip install dask-ml)")

import dask  # noqa: E402
from sklearn.datasets import make_classification  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402

import bpnet  # noqa: E402

CHUNK, BATCH = 400, 50  # chunks a multiple of the batch: the same batches as one in-memory pass


@pytest.fixture(scope="module")
def problem():
    X, y = make_classification(n_samples=2400, n_features=20, n_informative=10, n_classes=3,
                               random_state=0)
    return X, y


def _clf(**kw):
    params = dict(hidden_layer_sizes=(32,), solver="adam", batch_size=BATCH, shuffle=False,
                  random_state=0, learning_rate_init=3e-3, n_iter_no_change=1000)
    params.update(kw)
    return bpnet.MLPClassifier(**params)


def test_incremental_in_order_equals_in_memory_fit(problem):
    X, y = problem
    Xd, yd = da.from_array(X, chunks=(CHUNK, X.shape[1])), da.from_array(y, chunks=CHUNK)
    epochs = 4
    with dask.config.set(scheduler="synchronous"):
        inc = wrappers.Incremental(_clf(), shuffle_blocks=False)
        inc.fit(Xd, yd, classes=np.unique(y))
        for _ in range(epochs - 1):
            inc.partial_fit(Xd, yd, classes=np.unique(y))
        est = inc.estimator_
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            ref = _clf(max_iter=epochs).fit(X, y)
        np.testing.assert_array_equal(est._net.params, ref._net.params)
        score = inc.score(Xd, yd)
    assert score == pytest.approx(ref.score(X, y))
    assert score > 0.8
    np.testing.assert_array_equal(np.asarray(inc.predict(Xd)), ref.predict(X))


def test_incremental_shuffled_blocks_learns(problem):
    X, y = problem
    Xd, yd = da.from_array(X, chunks=(CHUNK, X.shape[1])), da.from_array(y, chunks=CHUNK)
    with dask.config.set(scheduler="threads"):
        inc = wrappers.Incremental(_clf(shuffle=True), shuffle_blocks=True, random_state=1)
        inc.fit(Xd, yd, classes=np.unique(y))
        for _ in range(5):
            inc.partial_fit(Xd, yd, classes=np.unique(y))
        assert inc.score(Xd, yd) > 0.85
        proba = np.asarray(inc.predict_proba(Xd))
    np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-6)
