"""bpnet.MLPRegressor / MLPClassifier against scikit-learn's on problems with one answer.

Same random_state gives the same initial weights (bpnet draws them as scikit-learn does), so
one epoch of sgd or adam with shuffle=False must give scikit-learn's weights up to rounding;
a linear model fitted by lbfgs must reach the ridge solution; loss_ must be the objective
recomputed in NumPy. Then held-out accuracy on data sets scikit-learn ships.
"""
import warnings

import numpy as np
import pytest

sklearn = pytest.importorskip("sklearn")
from sklearn import neural_network as sk  # noqa: E402
from sklearn.datasets import load_breast_cancer, load_diabetes, load_digits, make_regression  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.linear_model import Ridge  # noqa: E402
from sklearn.model_selection import cross_val_score, train_test_split  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

import bpnet  # noqa: E402


def quiet_fit(est, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return est.fit(*args, **kwargs)


def assert_same_params(ours, theirs, tol):
    assert len(ours.coefs_) == len(theirs.coefs_)
    for a, b in zip(ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_):
        assert a.shape == b.shape
        np.testing.assert_allclose(a, b, rtol=0, atol=tol)


@pytest.fixture(scope="module")
def regression():
    X, y = make_regression(n_samples=150, n_features=6, n_targets=1, noise=5.0, random_state=0)
    return StandardScaler().fit_transform(X), y / y.std()


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X / 16.0, y


# ---------------------------------------------------------------- initial weights


@pytest.mark.parametrize("activation", ["relu", "logistic"])
def test_initial_weights_are_scikit_learns(regression, activation):
    X, y = regression
    # lbfgs with max_iter=1 still moves; compare the draw itself through a 1-epoch sgd run
    # with a tiny step, which leaves the weights within 1e-6 of the start
    kw = dict(hidden_layer_sizes=(7, 5), activation=activation, solver="sgd", max_iter=1,
              learning_rate_init=1e-12, momentum=0, shuffle=False, random_state=3)
    ours = quiet_fit(bpnet.MLPRegressor(**kw), X, y)
    theirs = quiet_fit(sk.MLPRegressor(**kw), X, y)
    assert_same_params(ours, theirs, 1e-12)


# ---------------------------------------------------------------- one epoch, same rules


STEP_CASES = [
    dict(solver="sgd", momentum=0.0),
    dict(solver="sgd", momentum=0.9, nesterovs_momentum=True),
    dict(solver="sgd", momentum=0.5, nesterovs_momentum=False),
    dict(solver="adam"),
    dict(solver="adam", beta_1=0.5, beta_2=0.9, epsilon=1e-6),
]


@pytest.mark.parametrize("opts", STEP_CASES, ids=lambda o: "-".join(f"{k}={v}" for k, v in o.items()))
def test_one_epoch_regressor_matches_sklearn(regression, opts):
    X, y = regression
    kw = dict(hidden_layer_sizes=(10, 4), activation="tanh", max_iter=1, shuffle=False,
              batch_size=32, alpha=0.01, learning_rate_init=0.01, random_state=0, **opts)
    ours = quiet_fit(bpnet.MLPRegressor(**kw), X, y)
    theirs = quiet_fit(sk.MLPRegressor(**kw), X, y)
    assert_same_params(ours, theirs, 1e-10)
    assert ours.loss_ == pytest.approx(theirs.loss_, rel=1e-10)
    assert ours.n_iter_ == theirs.n_iter_ == 1 and ours.t_ == theirs.t_ == len(X)


@pytest.mark.parametrize("opts", [STEP_CASES[1], STEP_CASES[3]], ids=["sgd", "adam"])
@pytest.mark.parametrize("n_classes", [2, 4])
def test_one_epoch_classifier_matches_sklearn(digits, opts, n_classes):
    X, y = digits
    keep = y < n_classes
    X, y = X[keep][:300], y[keep][:300]
    kw = dict(hidden_layer_sizes=(16,), activation="logistic", max_iter=1, shuffle=False,
              batch_size=50, alpha=1e-3, learning_rate_init=0.05, random_state=1, **opts)
    ours = quiet_fit(bpnet.MLPClassifier(**kw), X, y)
    theirs = quiet_fit(sk.MLPClassifier(**kw), X, y)
    assert ours.out_activation_ == theirs.out_activation_
    assert_same_params(ours, theirs, 1e-10)
    assert ours.loss_ == pytest.approx(theirs.loss_, rel=1e-10)
    np.testing.assert_allclose(ours.predict_proba(X), theirs.predict_proba(X), atol=1e-10)


def test_several_epochs_invscaling_matches_sklearn(regression):
    X, y = regression
    kw = dict(hidden_layer_sizes=(8,), solver="sgd", learning_rate="invscaling",
              learning_rate_init=0.5, power_t=0.25, max_iter=4, shuffle=False, random_state=2)
    ours = quiet_fit(bpnet.MLPRegressor(**kw), X, y)
    theirs = quiet_fit(sk.MLPRegressor(**kw), X, y)
    assert_same_params(ours, theirs, 1e-10)
    np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-10)


def test_early_stopping_split_and_scores_match_sklearn(digits):
    # same random_state -> the same held-out rows (scikit-learn's stratified split), so one
    # epoch trains on the same rows and scores the same validation set
    X, y = digits
    X, y = X[y < 2][:200], y[y < 2][:200]
    kw = dict(hidden_layer_sizes=(6,), solver="sgd", max_iter=1, shuffle=False,
              early_stopping=True, validation_fraction=0.2, random_state=5)
    ours = quiet_fit(bpnet.MLPClassifier(**kw), X, y)
    theirs = quiet_fit(sk.MLPClassifier(**kw), X, y)
    assert_same_params(ours, theirs, 1e-10)
    assert ours.validation_scores_ == pytest.approx(theirs.validation_scores_)
    assert ours.best_validation_score_ == pytest.approx(theirs.best_validation_score_)


def test_multi_output_gradient_is_the_gradient_of_the_reported_loss():
    # scikit-learn's squared-error gradient is n_outputs times the gradient of the loss it
    # reports (its issue #8349); bpnet's is the gradient of the loss. So bpnet with a step
    # k times larger takes scikit-learn's step (plain sgd, no penalty).
    X, Y = make_regression(n_samples=80, n_features=5, n_targets=3, random_state=0)
    X, Y = StandardScaler().fit_transform(X), Y / Y.std()
    kw = dict(hidden_layer_sizes=(6,), solver="sgd", momentum=0, alpha=0, max_iter=1,
              shuffle=False, random_state=0)
    ours = quiet_fit(bpnet.MLPRegressor(learning_rate_init=0.03, **kw), X, Y)
    theirs = quiet_fit(sk.MLPRegressor(learning_rate_init=0.01, **kw), X, Y)
    assert_same_params(ours, theirs, 1e-10)
    assert ours.loss_ == pytest.approx(theirs.loss_, rel=1e-10)


# ---------------------------------------------------------------- problems with one answer


def test_linear_model_matches_sklearn_and_ridge(regression):
    X, y = regression
    kw = dict(hidden_layer_sizes=(), activation="identity", solver="lbfgs", alpha=1.0,
              max_iter=2000, tol=1e-10, random_state=0)
    ours = bpnet.MLPRegressor(**kw).fit(X, y)
    theirs = quiet_fit(sk.MLPRegressor(**kw), X, y)
    np.testing.assert_allclose(ours.coefs_[0], theirs.coefs_[0], atol=1e-4)
    np.testing.assert_allclose(ours.intercepts_[0], theirs.intercepts_[0], atol=1e-4)
    # ½ mean r² + alpha/(2n) ||w||² has the minimiser of Σ r² + alpha ||w||²: ridge
    ridge = Ridge(alpha=1.0).fit(X, y)
    np.testing.assert_allclose(ours.coefs_[0].ravel(), ridge.coef_, atol=1e-4)
    np.testing.assert_allclose(ours.intercepts_[0], ridge.intercept_, atol=1e-4)


@pytest.mark.parametrize("n_targets", [1, 3])
def test_loss_is_the_objective_recomputed_in_numpy(n_targets):
    X, Y = make_regression(n_samples=90, n_features=4, n_targets=n_targets, random_state=1)
    X, Y = StandardScaler().fit_transform(X), Y / Y.std()
    alpha = 0.3
    est = quiet_fit(bpnet.MLPRegressor(hidden_layer_sizes=(5,), activation="tanh", solver="lbfgs",
                                       alpha=alpha, max_iter=50, random_state=0), X, Y)
    W1, W2 = est.coefs_
    b1, b2 = est.intercepts_
    pred = np.tanh(X @ W1 + b1) @ W2 + b2
    n = X.shape[0]
    expected = 0.5 * np.mean((pred - Y.reshape(pred.shape)) ** 2)
    expected += alpha / (2 * n) * (np.sum(W1 ** 2) + np.sum(W2 ** 2))
    assert est.loss_ == pytest.approx(expected, rel=1e-12)


# ---------------------------------------------------------------- accuracy on real data


def test_digits_accuracy_at_least_sklearns(digits):
    X, y = digits
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.25, random_state=0, stratify=y)
    kw = dict(hidden_layer_sizes=(64,), max_iter=40, random_state=0)
    ours = quiet_fit(bpnet.MLPClassifier(**kw), Xtr, ytr).score(Xte, yte)
    theirs = quiet_fit(sk.MLPClassifier(**kw), Xtr, ytr).score(Xte, yte)
    assert ours >= theirs - 0.01, (ours, theirs)


def test_breast_cancer_accuracy():
    # mean held-out accuracy of 5-fold cross-validation, default parameters
    X, y = load_breast_cancer(return_X_y=True)
    model = make_pipeline(StandardScaler(), bpnet.MLPClassifier(random_state=0))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        scores = cross_val_score(model, X, y, cv=5)
    assert scores.mean() >= 0.95, scores


def test_diabetes_r2_at_least_sklearns():
    X, y = load_diabetes(return_X_y=True)
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.25, random_state=0)
    scale = StandardScaler().fit(Xtr)
    Xtr, Xte = scale.transform(Xtr), scale.transform(Xte)
    kw = dict(hidden_layer_sizes=(16,), solver="lbfgs", alpha=1.0, max_iter=300, random_state=0)
    ours = quiet_fit(bpnet.MLPRegressor(**kw), Xtr, ytr).score(Xte, yte)
    theirs = quiet_fit(sk.MLPRegressor(**kw), Xtr, ytr).score(Xte, yte)
    assert ours >= theirs - 0.05, (ours, theirs)
