"""bpnet.MLPRegressor and bpnet.MLPClassifier as scikit-learn estimators.

scikit-learn's own estimator checks, its constructor parameters, the fitted attributes (coefs_
as views of the network), every kind of target, the extras (n_threads, activation lists,
X_val/y_val, callbacks, transform, class_weight), pickles and the model-selection tools.
"""
import inspect
import pickle
import sys
import warnings

import numpy as np
import pytest

sklearn = pytest.importorskip("sklearn")
from scipy import sparse  # noqa: E402
from sklearn import neural_network as sk  # noqa: E402
from sklearn.base import clone  # noqa: E402
from sklearn.datasets import make_classification, make_multilabel_classification, make_regression  # noqa: E402
from sklearn.exceptions import ConvergenceWarning, NotFittedError  # noqa: E402
from sklearn.model_selection import GridSearchCV, cross_val_score  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

import bpnet  # noqa: E402
from bpnet import MLPClassifier, MLPRegressor  # noqa: E402


def quiet_fit(est, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return est.fit(*args, **kwargs)


@pytest.fixture(scope="module")
def clf_data():
    X, y = make_classification(n_samples=200, n_features=8, n_informative=5, n_classes=3,
                               random_state=0)
    return StandardScaler().fit_transform(X), y


@pytest.fixture(scope="module")
def reg_data():
    X, y = make_regression(n_samples=200, n_features=6, n_targets=1, noise=1.0, random_state=0)
    return StandardScaler().fit_transform(X), y / y.std()


SMALL = dict(hidden_layer_sizes=(12,), max_iter=30, learning_rate_init=0.02, random_state=0)


# ---------------------------------------------------------------- scikit-learn's checks

# None of scikit-learn's checks is skipped or expected to fail. They run with default
# parameters, where max_iter=200 is often reached on the checks' tiny data sets (as with
# scikit-learn's own MLP), hence the ConvergenceWarning filter.
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@parametrize_with_checks([MLPRegressor(), MLPClassifier()])
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


# scikit-learn's set_output and feature-name checks, which parametrize_with_checks does not
# yield: they apply since transform (bpnet's, not in scikit-learn's MLP) comes with set_output.
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
# (the checks fit on a DataFrame and transform an array, and the reverse, on purpose)
@pytest.mark.filterwarnings("ignore:X does not have valid feature names:UserWarning")
@pytest.mark.filterwarnings("ignore:X has feature names, but:UserWarning")
@pytest.mark.parametrize("check", [
    "check_set_output_transform", "check_set_output_transform_pandas",
    "check_global_output_transform_pandas", "check_transformer_get_feature_names_out",
    "check_transformer_get_feature_names_out_pandas", "check_get_feature_names_out_error",
])
@pytest.mark.parametrize("est", [MLPRegressor, MLPClassifier])
def test_sklearn_set_output_checks(est, check):
    from sklearn.utils import estimator_checks
    if "pandas" in check:
        pytest.importorskip("pandas")
    getattr(estimator_checks, check)(est.__name__, est(max_iter=20))


# ---------------------------------------------------------------- the constructor


@pytest.mark.parametrize("ours, theirs, extras", [
    (MLPRegressor, sk.MLPRegressor, {"n_threads": None}),
    (MLPClassifier, sk.MLPClassifier, {"n_threads": None, "class_weight": None}),
])
def test_same_parameters_and_defaults_as_sklearn(ours, theirs, extras):
    mine, ref = ours().get_params(), theirs().get_params()
    assert {k: v for k, v in mine.items() if k not in extras} == ref
    assert {k: mine[k] for k in extras} == extras
    # the same positional parameters, in the same order; everything else keyword-only
    positional = lambda cls: [p.name for p in inspect.signature(cls).parameters.values()
                              if p.kind == p.POSITIONAL_OR_KEYWORD]
    assert positional(ours) == positional(theirs)


def test_invalid_parameters_are_reported(reg_data):
    X, y = reg_data
    with pytest.raises(ValueError, match="solver"):
        MLPRegressor(solver="newton").fit(X, y)
    with pytest.raises(ValueError, match="hidden_layer_sizes"):
        MLPRegressor(hidden_layer_sizes=(3, 0)).fit(X, y)
    for sizes in ((3.5,), (3.0, 2), (True,)):  # not silently int(3.5) = 3 units
        with pytest.raises(ValueError, match="hidden_layer_sizes: expected integers"):
            MLPRegressor(hidden_layer_sizes=sizes).fit(X, y)
    with pytest.raises(ValueError, match="one name or a list of 2"):
        MLPRegressor(hidden_layer_sizes=(3, 3), activation=["tanh"]).fit(X, y)
    with pytest.raises(ValueError, match="activation"):
        MLPRegressor(hidden_layer_sizes=(3,), activation=["softplus"]).fit(X, y)
    with pytest.raises(ValueError, match="n_threads"):
        MLPRegressor(n_threads=0).fit(X, y)


# ---------------------------------------------------------------- fitted attributes


def test_fitted_attributes_and_coefs_are_views(clf_data):
    X, y = clf_data
    est = quiet_fit(MLPClassifier(hidden_layer_sizes=(10, 7), max_iter=5, random_state=0), X, y)
    assert est.n_layers_ == 4 and est.n_outputs_ == 3 and est.out_activation_ == "softmax"
    assert est.n_features_in_ == 8 and list(est.classes_) == [0, 1, 2]
    assert [c.shape for c in est.coefs_] == [(8, 10), (10, 7), (7, 3)]
    assert [b.shape for b in est.intercepts_] == [(10,), (7,), (3,)]
    params = est._net.params
    for a in est.coefs_ + est.intercepts_:
        assert np.shares_memory(a, params)
    assert len(est.loss_curve_) == est.n_iter_ == 5 and est.t_ == 5 * len(X)
    assert est.loss_ == est.loss_curve_[-1] and est.best_loss_ == min(est.loss_curve_)
    assert est.validation_scores_ is None and est.best_validation_score_ is None
    # writing into a view changes the model; assigning a list copies it in
    before = est.predict_proba(X)
    est.coefs_[2][:] = 0
    est.intercepts_[2][:] = 0
    np.testing.assert_allclose(est.predict_proba(X), 1 / 3)
    est.coefs_ = [np.ones_like(c) for c in est.coefs_]
    assert np.all(est._net.weights[0] == 1) and np.shares_memory(est.coefs_[0], params)
    assert not np.allclose(before, est.predict_proba(X))


def test_float32_is_trained_and_kept_in_float32(reg_data, clf_data):
    X, y = reg_data
    est = quiet_fit(MLPRegressor(**SMALL), X.astype(np.float32), y)
    assert est._net.dtype == np.float32
    assert all(c.dtype == np.float32 for c in est.coefs_ + est.intercepts_)
    assert est.predict(X.astype(np.float32)).dtype == np.float32
    assert est.transform(X.astype(np.float32)).dtype == np.float32
    est64 = quiet_fit(MLPRegressor(**SMALL), X.astype(np.int64), y)
    assert est64._net.dtype == np.float64 and est64.predict(X).dtype == np.float64
    Xc, yc = clf_data
    clf32 = quiet_fit(MLPClassifier(**SMALL), Xc.astype(np.float32), yc)
    clf64 = quiet_fit(MLPClassifier(**SMALL), Xc, yc)
    assert clf32.predict_proba(Xc.astype(np.float32)).dtype == np.float32
    # same initial weights (drawn in float64, then rounded): the same model up to rounding
    np.testing.assert_allclose(clf32.predict_proba(Xc), clf64.predict_proba(Xc), atol=1e-4)


@pytest.mark.parametrize("fit_dtype", [np.float32, np.float64])
@pytest.mark.parametrize("X_dtype", [np.float32, np.float64, np.int64])
@pytest.mark.parametrize("kind", ["dense", "csr"])
def test_output_dtype_is_scikit_learns(fit_dtype, X_dtype, kind, clf_data):
    """As scikit-learn's MLP (X @ coefs_ promotes): float32 out only when the model and the
    given X both are float32; a float32 model given float64 X answers in float64."""
    X, y = clf_data
    X = np.round(X * 4)  # whole numbers: the same values in every X dtype
    yr = X[:, 0] - X[:, 1]
    pairs = [(MLPClassifier, sk.MLPClassifier, y), (MLPRegressor, sk.MLPRegressor, yr)]
    Xt = X.astype(X_dtype)
    Xt = sparse.csr_matrix(Xt) if kind == "csr" else Xt
    for ours, theirs, target in pairs:
        params = dict(hidden_layer_sizes=(5,), max_iter=3, random_state=0)
        mine = quiet_fit(ours(**params), X.astype(fit_dtype), target)
        ref = quiet_fit(theirs(**params), X.astype(fit_dtype), target)
        methods = ["predict"] + (["predict_proba", "predict_log_proba"] if ours is MLPClassifier else [])
        for method in methods:
            want = getattr(ref, method)(Xt).dtype
            assert getattr(mine, method)(Xt).dtype == want, (ours.__name__, method)
        # transform (bpnet's own) follows predict's rule
        want = np.result_type(np.float64 if X_dtype is np.int64 else X_dtype, fit_dtype)
        assert mine.transform(Xt).dtype == want
        assert isinstance(mine.score(Xt, target), float)


def test_output_in_the_models_dtype_is_not_copied(reg_data):
    """No extra copy when X's dtype is the model's: predict hands back the network's array."""
    X, y = reg_data
    est = quiet_fit(MLPRegressor(**SMALL), X, y)
    from bpnet import estimators
    out = np.empty((3, 1))
    assert estimators._output_dtype(out, X) is out
    out32 = np.empty((3, 1), np.float32)
    assert estimators._output_dtype(out32, X.astype(np.float32)) is out32
    assert estimators._output_dtype(out32, X).dtype == np.float64
    assert est.predict(X).dtype == np.float64


def test_values_beyond_float32_are_refused_when_a_float32_model_continues(reg_data):
    # scikit-learn's validation sees finite float64 values; the cast into the float32 network
    # makes inf of them, and fit must still refuse them (its own check runs after a narrowing
    # cast) and leave the model as it was
    X, y = reg_data
    est = quiet_fit(MLPRegressor(**SMALL, warm_start=True), X.astype(np.float32), y)
    before = [c.copy() for c in est.coefs_]
    big, big_y = X.copy(), y.copy()
    big[3, 1] = 1e39
    big_y[5] = -1e39
    for args in ((big, y), (X, big_y)):
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # no NumPy overflow warning from the cast either
            with pytest.raises(ValueError, match="float32 network"):
                est.fit(*args)
            with pytest.raises(ValueError, match="float32 network"):
                est.partial_fit(*args)
        for a, b in zip(est.coefs_, before):
            np.testing.assert_array_equal(a, b)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for call in (est.predict, est.transform):
            with pytest.raises(ValueError, match="float32 network"):
                call(big)


def test_convergence_warning_when_max_iter_is_reached(reg_data):
    X, y = reg_data
    with pytest.warns(ConvergenceWarning, match="Maximum iterations \\(3\\)"):
        MLPRegressor(max_iter=3, random_state=0).fit(X, y)
    with pytest.warns(ConvergenceWarning, match="lbfgs failed to converge"):
        MLPRegressor(solver="lbfgs", max_iter=2, random_state=0).fit(X, y)
    # converging before max_iter: no warning, n_iter_ < max_iter
    est = MLPRegressor(hidden_layer_sizes=(4,), tol=10.0, max_iter=50, random_state=0).fit(X, y)
    assert est.n_iter_ < 50


def test_verbose_prints_scikit_learns_lines(reg_data, capsys):
    X, y = reg_data
    quiet_fit(MLPRegressor(hidden_layer_sizes=(4,), max_iter=2, verbose=True, random_state=0), X, y)
    out = capsys.readouterr().out
    assert "Iteration 1, loss = " in out and "Iteration 2, loss = " in out


# ---------------------------------------------------------------- kinds of targets


def test_binary_with_string_labels(clf_data):
    X, y = clf_data
    labels = np.array(["no", "yes"])[(y > 0).astype(int)]
    clf = quiet_fit(MLPClassifier(**SMALL), X, labels)
    assert clf.out_activation_ == "logistic" and clf.n_outputs_ == 1
    assert list(clf.classes_) == ["no", "yes"]
    assert set(clf.predict(X)) <= {"no", "yes"}
    proba = clf.predict_proba(X)
    assert proba.shape == (len(X), 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1)
    np.testing.assert_allclose(np.exp(clf.predict_log_proba(X)), proba)
    np.testing.assert_array_equal(clf.predict(X), clf.classes_[proba.argmax(axis=1)])
    assert clf.score(X, labels) > 0.8


def test_multiclass(clf_data):
    X, y = clf_data
    clf = quiet_fit(MLPClassifier(**SMALL), X, y)
    proba = clf.predict_proba(X)
    assert proba.shape == (len(X), 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1)
    np.testing.assert_array_equal(clf.predict(X), proba.argmax(axis=1))


def test_multilabel():
    X, Y = make_multilabel_classification(n_samples=150, n_features=6, n_classes=4, random_state=0)
    clf = quiet_fit(MLPClassifier(**SMALL), X, Y)
    assert clf.out_activation_ == "logistic" and clf.n_outputs_ == 4
    pred = clf.predict(X)
    assert pred.shape == Y.shape
    np.testing.assert_array_equal(pred, (clf.predict_proba(X) > 0.5).astype(int))
    assert clf.score(X, Y) > 0.3


def test_multi_output_regression():
    X, Y = make_regression(n_samples=120, n_features=5, n_targets=3, random_state=0)
    est = quiet_fit(MLPRegressor(hidden_layer_sizes=(16,), solver="lbfgs", max_iter=200,
                                 random_state=0), X, Y / Y.std())
    assert est.predict(X).shape == (120, 3) and est.n_outputs_ == 3
    assert est.score(X, Y / Y.std()) > 0.9


def test_poisson_loss():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 3))
    y = rng.poisson(np.exp(0.5 * X[:, 0]))
    est = quiet_fit(MLPRegressor(loss="poisson", hidden_layer_sizes=(), activation="identity",
                                 solver="lbfgs", alpha=0, random_state=0), X, y)
    assert est.out_activation_ == "exp" and np.all(est.predict(X) > 0)
    assert est.coefs_[0][0, 0] == pytest.approx(0.5, abs=0.15)


def test_sparse_input_is_densified(clf_data):
    X, y = clf_data
    dense = quiet_fit(MLPClassifier(**SMALL), X, y)
    sp = quiet_fit(MLPClassifier(**SMALL), sparse.csr_matrix(X), y)
    np.testing.assert_array_equal(dense.predict_proba(X), sp.predict_proba(sparse.csc_matrix(X)))


# ---------------------------------------------------------------- weights


def test_sample_weight_zero_and_integer_weights_lbfgs(reg_data):
    X, y = reg_data
    kw = dict(hidden_layer_sizes=(5,), solver="lbfgs", max_iter=30, random_state=0)
    w = np.ones(len(X))
    w[:50] = 0
    w[50:80] = 2
    weighted = quiet_fit(MLPRegressor(**kw), X, y, sample_weight=w)
    idx = np.r_[np.arange(50, 80), np.arange(50, len(X))]
    repeated = quiet_fit(MLPRegressor(**kw), X[idx], y[idx])
    np.testing.assert_allclose(weighted.predict(X), repeated.predict(X), rtol=1e-6, atol=1e-8)


def test_class_weight_is_sample_weight(clf_data):
    X, y = clf_data
    kw = dict(hidden_layer_sizes=(6,), solver="lbfgs", max_iter=20, random_state=0)
    a = quiet_fit(MLPClassifier(class_weight={0: 3.0, 1: 1.0, 2: 0.5}, **kw), X, y)
    b = quiet_fit(MLPClassifier(**kw), X, y, sample_weight=np.array([3.0, 1.0, 0.5])[y])
    np.testing.assert_allclose(a.predict_proba(X), b.predict_proba(X), rtol=1e-10)
    balanced = quiet_fit(MLPClassifier(class_weight="balanced", **SMALL), X[:150], y[:150])
    assert balanced.score(X, y) > 0.6


# ---------------------------------------------------------------- continuing training


def test_warm_start_continues_from_the_weights(reg_data):
    X, y = reg_data
    est = quiet_fit(MLPRegressor(hidden_layer_sizes=(8,), max_iter=5, warm_start=True,
                                 random_state=0), X, y)
    first = [c.copy() for c in est.coefs_]
    curve = list(est.loss_curve_)
    quiet_fit(est, X, y)
    assert len(est.loss_curve_) == 10 and est.loss_curve_[:5] == curve
    assert est.loss_curve_[5] < curve[0] and est.t_ == 10 * len(X)
    cold = quiet_fit(clone(est).set_params(warm_start=False), X, y)
    np.testing.assert_array_equal(cold.coefs_[0], first[0])  # same start, same 5 epochs


def test_partial_fit_with_classes(clf_data):
    X, y = clf_data
    clf = MLPClassifier(hidden_layer_sizes=(10,), random_state=0)
    with pytest.raises(ValueError, match="classes must be passed on the first call"):
        clf.partial_fit(X[:50], y[:50])
    clf.partial_fit(X[:50][y[:50] < 2], y[:50][y[:50] < 2], classes=[0, 1, 2])
    assert list(clf.classes_) == [0, 1, 2] and clf.n_outputs_ == 3
    for _ in range(20):
        clf.partial_fit(X, y)
    assert clf.n_iter_ == 1 and len(clf.loss_curve_) == 21
    assert clf.loss_curve_[-1] < clf.loss_curve_[1]
    with pytest.raises(ValueError, match="classes not in"):
        clf.partial_fit(X[:3], np.array([0, 1, 7]))
    assert not hasattr(MLPClassifier(solver="lbfgs"), "partial_fit")
    reg = MLPRegressor(hidden_layer_sizes=(4,), random_state=0)
    for _ in range(3):
        reg.partial_fit(X, y.astype(float))
    assert reg.t_ == 3 * len(X)


def test_partial_fit_equals_fit_epoch_by_epoch(reg_data):
    # the optimizer state (adam moments) is continued by partial_fit
    X, y = reg_data
    kw = dict(hidden_layer_sizes=(6,), shuffle=False, random_state=0)
    fitted = quiet_fit(MLPRegressor(max_iter=3, **kw), X, y)
    stepped = MLPRegressor(**kw)
    for _ in range(3):
        stepped.partial_fit(X, y)
    np.testing.assert_allclose(stepped.coefs_[0], fitted.coefs_[0], rtol=0, atol=1e-14)


def test_prepare_and_record_hooks_give_sklearns_partial_fit_on_a_shard(clf_data):
    # the seam bpnet.distributed uses: _prepare_fit with every class, a loop elsewhere (here
    # Network.fit), _record_fit. On rows holding 2 of the 3 classes it must give what
    # scikit-learn's partial_fit(classes=...) gives on them.
    X, y = clf_data
    shard = y < 2
    kw = dict(hidden_layer_sizes=(5,), solver="sgd", batch_size=20, shuffle=False,
              learning_rate_init=0.05, random_state=0)
    ours = MLPClassifier(**kw)
    fit = ours._prepare_fit(X[shard], y[shard], classes=[0, 1, 2])
    assert list(ours.classes_) == [0, 1, 2] and fit.network.dtype == np.float64
    np.testing.assert_array_equal(fit.Y, (y[shard][:, None] == np.arange(3)).astype(float))
    h = fit.network.fit(fit.X, fit.Y, optimizer="sgd", learning_rate=0.05, momentum=0.9,
                        epochs=1, batch_size=20, shuffle=False, alpha=ours.alpha, warm_start=False)
    ours._record_fit(h, int(shard.sum()))
    theirs = sk.MLPClassifier(**kw).partial_fit(X[shard], y[shard], classes=[0, 1, 2])
    for a, b in zip(ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-10)
    assert ours.loss_ == pytest.approx(theirs.loss_, rel=1e-10)
    assert type(ours.loss_) is type(theirs.loss_) and ours.best_loss_ == pytest.approx(theirs.best_loss_)
    assert (ours.n_iter_, ours.t_, ours._no_improvement_count) == (
        theirs.n_iter_, theirs.t_, theirs._no_improvement_count)
    # continuing: a part of the data needs only known labels, not all of them
    ours.set_params(warm_start=True)
    ours._prepare_fit(X[y == 2], y[y == 2], classes=ours.classes_)
    with pytest.raises(ValueError, match="classes not in"):
        ours._prepare_fit(X, np.where(y == 2, 7, y), classes=ours.classes_)
    with pytest.raises(ValueError, match="only classifiers"):
        MLPRegressor()._prepare_fit(X, y.astype(float), classes=[0, 1])


# ---------------------------------------------------------------- validation and callbacks


def test_early_stopping_restores_the_best_epoch(clf_data):
    X, y = clf_data
    clf = MLPClassifier(hidden_layer_sizes=(16,), early_stopping=True, n_iter_no_change=3,
                        max_iter=300, learning_rate_init=0.05, random_state=0).fit(X, y)
    assert clf.best_loss_ is None and clf.n_iter_ < 300
    assert len(clf.validation_scores_) == clf.n_iter_ == len(clf.validation_loss_curve_)
    assert clf.best_validation_score_ == max(clf.validation_scores_)


def test_early_stopping_on_user_validation_data(clf_data):
    X, y = clf_data
    clf = MLPClassifier(hidden_layer_sizes=(16,), early_stopping=True, n_iter_no_change=3,
                        max_iter=300, learning_rate_init=0.05, random_state=0)
    clf.fit(X[:150], y[:150], X_val=X[150:], y_val=y[150:])
    assert clf.t_ == 150 * clf.n_iter_  # every training row used, none held out
    assert clf.best_validation_score_ == pytest.approx(clf.score(X[150:], y[150:]))
    # without early stopping the validation rows are only monitored
    reg = quiet_fit(MLPRegressor(**SMALL), X[:150], y[:150].astype(float),
                    X_val=X[150:], y_val=y[150:].astype(float))
    assert reg.n_iter_ == 30 and len(reg.validation_scores_) == 30
    assert reg.validation_scores_[-1] == pytest.approx(reg.score(X[150:], y[150:].astype(float)))
    with pytest.raises(ValueError, match="X_val and y_val"):
        MLPRegressor().fit(X, y, X_val=X)


@pytest.mark.parametrize("kind", ["regressor", "classifier"])
def test_lbfgs_monitors_user_validation_data_every_iteration(clf_data, kind):
    X, y = clf_data
    est_type, y = (MLPRegressor, y.astype(float)) if kind == "regressor" else (MLPClassifier, y)
    records = []
    est = quiet_fit(est_type(hidden_layer_sizes=(6,), solver="lbfgs", max_iter=7, random_state=0),
                    X[:150], y[:150], X_val=X[150:], y_val=y[150:], callbacks=records.append)
    assert est.n_iter_ == 7 and len(est.validation_scores_) == len(est.validation_loss_curve_) == 7
    # the last iteration's weights are the fitted ones: its entries are the final model's
    # score (R² or accuracy, scikit-learn's) and loss on the validation rows, from NumPy
    Xv, yv = X[150:], y[150:]
    if kind == "regressor":
        p = est.predict(Xv)
        r2 = 1 - np.sum((yv - p) ** 2) / np.sum((yv - yv.mean()) ** 2)
        loss = 0.5 * np.mean((p - yv) ** 2)
    else:
        proba = est.predict_proba(Xv)
        r2 = np.mean(est.predict(Xv) == yv)
        loss = -np.mean(np.log(proba[np.arange(len(yv)), np.searchsorted(est.classes_, yv)]))
    assert est.validation_scores_[-1] == pytest.approx(r2, rel=1e-9)
    assert est.validation_loss_curve_[-1] == pytest.approx(loss, rel=1e-9)
    assert est.best_validation_score_ == max(est.validation_scores_)
    assert [r["val_score"] for r in records] == est.validation_scores_


def test_callbacks_see_every_epoch_and_can_stop(reg_data):
    X, y = reg_data
    seen = []

    def stop_at_4(info):
        seen.append(info)
        return info["epoch"] < 4

    est = MLPRegressor(hidden_layer_sizes=(4,), max_iter=50, random_state=0)
    est.fit(X, y, callbacks=[stop_at_4, lambda info: None])
    assert est.n_iter_ == 4 and [r["epoch"] for r in seen] == [1, 2, 3, 4]
    assert [r["loss"] for r in seen] == est.loss_curve_
    assert {"loss", "learning_rate", "seconds"} <= set(seen[0])
    lb = []
    est = quiet_fit(MLPRegressor(hidden_layer_sizes=(4,), solver="lbfgs", max_iter=5,
                                 random_state=0), X, y, callbacks=lb.append)
    assert [r["epoch"] for r in lb] == [1, 2, 3, 4, 5]
    assert [r["loss"] for r in lb] == est.loss_curve_


# ---------------------------------------------------------------- extras


def test_transform_is_the_last_hidden_layer(reg_data):
    X, y = reg_data
    est = quiet_fit(MLPRegressor(hidden_layer_sizes=(7, 3), activation=["tanh", "relu"],
                                 max_iter=5, random_state=0), X, y)
    assert est._net.activations == ["tanh", "relu", "identity"]
    W1, W2, _ = est.coefs_
    b1, b2, _ = est.intercepts_
    expected = np.maximum(np.tanh(X @ W1 + b1) @ W2 + b2, 0)
    np.testing.assert_allclose(est.transform(X), expected, atol=1e-12)
    pipe = make_pipeline(est, StandardScaler())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        assert pipe.fit_transform(X, y).shape == (len(X), 3)


def test_set_output_pipelines_and_transform_names(clf_data):
    """scikit-learn's Pipeline.set_output asks every step with a transform for set_output:
    a pipeline ending in bpnet's estimator (which has transform, scikit-learn's has not) must
    accept it as one ending in scikit-learn's does, and transform then follows it."""
    pd = pytest.importorskip("pandas")
    X, y = clf_data
    df = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    for ours, theirs in [(MLPClassifier, sk.MLPClassifier), (MLPRegressor, sk.MLPRegressor)]:
        target = y if ours is MLPClassifier else X[:, 0]
        want = quiet_fit(make_pipeline(StandardScaler(), theirs(**SMALL)).set_output(transform="pandas"),
                         df, target).predict(df)
        pipe = make_pipeline(StandardScaler(), ours(**SMALL)).set_output(transform="pandas")
        assert quiet_fit(pipe, df, target).predict(df).shape == want.shape
    est = quiet_fit(MLPClassifier(**SMALL), df, y).set_output(transform="pandas")
    out = est.transform(df)
    assert isinstance(out, pd.DataFrame) and list(out.index) == list(df.index)
    assert list(out.columns) == [f"mlpclassifier{i}" for i in range(12)]
    np.testing.assert_array_equal(out.to_numpy(), est.set_output(transform="default").transform(df))
    assert list(est.get_feature_names_out()) == list(out.columns)
    # no hidden layer: transform is X, its columns keep their names
    lin = quiet_fit(MLPRegressor(hidden_layer_sizes=(), max_iter=5), df, X[:, 0])
    assert list(lin.set_output(transform="pandas").transform(df).columns) == list(df.columns)
    with pytest.raises(NotFittedError):
        MLPRegressor().get_feature_names_out()


def test_n_threads_gives_the_same_model(reg_data):
    X, y = reg_data
    before = bpnet.get_num_threads()
    one = quiet_fit(MLPRegressor(n_threads=1, **SMALL), X, y)
    two = quiet_fit(MLPRegressor(n_threads=2, **SMALL), X, y)
    np.testing.assert_array_equal(one.predict(X), two.predict(X))
    assert bpnet.get_num_threads() == before


# ---------------------------------------------------------------- pickles and model selection


@pytest.mark.parametrize("solver", ["adam", "lbfgs"])
def test_pickle_round_trip(clf_data, solver):
    X, y = clf_data
    clf = quiet_fit(MLPClassifier(solver=solver, **SMALL), X, y.astype(str))
    data = pickle.dumps(clf)
    back = pickle.loads(data)
    np.testing.assert_array_equal(back.predict_proba(X), clf.predict_proba(X))
    np.testing.assert_array_equal(back.predict(X), clf.predict(X))
    assert np.shares_memory(back.coefs_[0], back._net.params)
    assert not np.shares_memory(back.coefs_[0], clf._net.params)
    state = clf.__getstate__()  # the network travels as bpnet's model file
    assert "_net" not in state
    assert bpnet.Network.from_bytes(state["_net_model_file"]).n_params == clf._net.n_params
    if solver == "adam":  # the optimizer state travels too: partial_fit continues alike
        clf.partial_fit(X, y.astype(str))
        back.partial_fit(X, y.astype(str))
        np.testing.assert_array_equal(back.coefs_[0], clf.coefs_[0])


def test_save_takes_numpy_typed_parameters(reg_data, tmp_path):
    # GridSearchCV hands np.int64 grid values to best_estimator_; layer sizes may be an array
    X, y = reg_data
    grid = GridSearchCV(MLPRegressor(hidden_layer_sizes=np.array([6, 3]), learning_rate_init=np.float32(0.01),
                                     random_state=0),
                        {"max_iter": np.arange(5, 7)}, cv=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        best = grid.fit(X, y).best_estimator_
    assert isinstance(best.max_iter, np.integer)
    best.save(tmp_path / "m.bpnet")
    back = MLPRegressor.load(tmp_path / "m.bpnet")
    assert back.max_iter == best.max_iter and type(back.max_iter) is int
    assert back.hidden_layer_sizes == (6, 3) and back.learning_rate_init == pytest.approx(0.01)
    np.testing.assert_array_equal(back.predict(X), best.predict(X))


def test_clone_pipeline_gridsearch_cross_val(clf_data):
    X, y = clf_data
    est = MLPClassifier(hidden_layer_sizes=(8,), max_iter=15, learning_rate_init=0.02, random_state=0)
    c = clone(est)
    assert c.get_params() == est.get_params() and not hasattr(c, "coefs_")
    pipe = make_pipeline(StandardScaler(), est)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        scores = cross_val_score(pipe, X, y, cv=3)
        grid = GridSearchCV(pipe, {"mlpclassifier__alpha": [1e-4, 1e-1]}, cv=2).fit(X, y)
    assert len(scores) == 3 and np.all(scores > 0.5)
    assert grid.best_params_["mlpclassifier__alpha"] in (1e-4, 1e-1)
    assert grid.score(X, y) > 0.6


def test_missing_sklearn_gives_an_install_hint(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn", None)
    with pytest.raises(ImportError, match=r"pip install 'bpnet\[sklearn\]'"):
        bpnet.__getattr__("MLPRegressor")


def test_divergence_in_the_first_epoch_still_sets_loss_():
    # a fitted estimator has loss_ even when no epoch ended with a finite loss
    X = np.random.RandomState(0).randn(20, 3)
    est = MLPRegressor(max_iter=5, random_state=0)
    with pytest.warns(bpnet.DivergenceWarning, match="epoch 1"):
        est.fit(X * 1e300, X[:, 0])
    assert est.n_iter_ == 0 and est.loss_curve_ == []
    assert np.isnan(est.loss_)
    assert all(np.isfinite(c).all() for c in est.coefs_)
