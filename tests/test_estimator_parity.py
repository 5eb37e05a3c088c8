"""bpnet.MLPRegressor / MLPClassifier against scikit-learn's on problems with one answer.

Same random_state gives the same initial weights (bpnet draws them as scikit-learn does), so
one epoch of sgd or adam with shuffle=False must give scikit-learn's weights up to rounding;
a linear model fitted by lbfgs must reach the ridge solution; loss_ must be the objective
recomputed in NumPy. Then held-out accuracy on data sets scikit-learn ships.
"""
import copy
import pickle
import warnings

import numpy as np
import pytest

sklearn = pytest.importorskip("sklearn")
from sklearn import neural_network as sk  # noqa: E402
from sklearn.base import clone  # noqa: E402
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


@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_sample_weight_with_mini_batches_matches_sklearn(regression, solver):
    # scikit-learn averages an epoch's batch losses by their row counts, not their weight
    # sums: loss_curve_, the tol test and so the epoch training stops at depend on it
    X, y = regression
    w = np.linspace(0.0, 2.0, len(X)) ** 2
    kw = dict(hidden_layer_sizes=(6,), solver=solver, batch_size=20, shuffle=False,
              max_iter=40, tol=1e-3, learning_rate_init=0.01, random_state=0)
    ours = quiet_fit(bpnet.MLPRegressor(**kw), X, y, sample_weight=w)
    theirs = quiet_fit(sk.MLPRegressor(**kw), X, y, sample_weight=w)
    np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-9)
    assert ours.n_iter_ == theirs.n_iter_ and ours.best_loss_ == pytest.approx(theirs.best_loss_, rel=1e-9)
    assert_same_params(ours, theirs, 1e-8)


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


@pytest.mark.parametrize("opts", [dict(solver="adam"), dict(solver="sgd", early_stopping=True),
                                  dict(solver="sgd", warm_start=True)],
                         ids=["adam", "sgd-early_stopping", "sgd-warm_start"])
def test_shared_random_state_instance_advances_as_sklearns(digits, opts):
    # with shuffle=False scikit-learn draws nothing from random_state after the initial
    # weights (and the split): a RandomState instance shared by several fits (clones in a
    # cross-validation) must be where scikit-learn leaves it, so the next fit starts alike
    X, y = digits
    X, y = X[:150], y[:150]
    kw = dict(hidden_layer_sizes=(5,), max_iter=2, shuffle=False, **opts)
    ours = bpnet.MLPClassifier(random_state=np.random.RandomState(7), **kw)
    theirs = sk.MLPClassifier(random_state=np.random.RandomState(7), **kw)
    for _ in range(3):
        assert_same_params(quiet_fit(ours, X, y), quiet_fit(theirs, X, y), 1e-10)
    if not ours.early_stopping:
        ours.partial_fit(X, y)
        theirs.partial_fit(X, y)
        assert_same_params(ours, theirs, 1e-10)
    assert ours.random_state.randint(1 << 30) == theirs.random_state.randint(1 << 30)


POISSON_CASES = [
    dict(solver="adam", n_targets=1),
    dict(solver="sgd", n_targets=1, weights=True),  # weights: the term averages per batch
    dict(solver="adam", n_targets=2, early_stopping=True, weights=True),
    dict(solver="lbfgs", n_targets=2, weights=True),
]


@pytest.mark.parametrize("case", POISSON_CASES, ids=lambda c: "-".join(f"{k}={v}" for k, v in c.items()))
def test_poisson_loss_values_are_sklearns(case):
    # scikit-learn's loss is the half Poisson deviance with its constant y log y - y, which
    # bpnet's core leaves out: loss_, loss_curve_ and best_loss_ must include it
    case = dict(case)
    n_targets, weights = case.pop("n_targets"), case.pop("weights", False)
    X, Y = make_regression(n_samples=100, n_features=5, n_targets=n_targets, random_state=3)
    X = StandardScaler().fit_transform(X)
    Y = np.exp(Y / np.abs(Y).max())  # positive targets, some near 1 (y log y ~ 0)
    w = np.linspace(0.2, 2.0, len(X)) if weights else None
    kw = dict(loss="poisson", hidden_layer_sizes=(6,), activation="tanh", batch_size=30,
              max_iter=12, shuffle=False, learning_rate_init=0.01, random_state=0, **case)
    ours = quiet_fit(bpnet.MLPRegressor(**kw), X, Y, sample_weight=w)
    theirs = quiet_fit(sk.MLPRegressor(**kw), X, Y, sample_weight=w)
    assert ours.n_iter_ == theirs.n_iter_
    assert ours.loss_ == pytest.approx(theirs.loss_, rel=1e-9)
    if case["solver"] != "lbfgs":
        np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-9)
        if theirs.best_loss_ is not None:
            assert ours.best_loss_ == pytest.approx(theirs.best_loss_, rel=1e-9)
    assert_same_params(ours, theirs, 1e-8 if n_targets == 1 else 1e-5)


def test_poisson_plateau_decisions_and_partial_fit_match_sklearn(regression):
    # with the constant in the loss, a warm-started fit compares with scikit-learn's best_loss_
    # (on other rows, another constant) and partial_fit's plateau bookkeeping sees its losses
    X, y = regression
    y = np.exp(y / np.abs(y).max())
    kw = dict(loss="poisson", hidden_layer_sizes=(6,), solver="sgd", learning_rate="adaptive",
              learning_rate_init=0.05, tol=1e-3, n_iter_no_change=2, max_iter=300, shuffle=False,
              random_state=0)
    ours, theirs = bpnet.MLPRegressor(**kw), sk.MLPRegressor(**kw)
    for warm_start, rows in ((False, slice(None)), (True, slice(0, 70)), (True, slice(None))):
        quiet_fit(ours.set_params(warm_start=warm_start), X[rows], y[rows])
        quiet_fit(theirs.set_params(warm_start=warm_start), X[rows], y[rows])
        assert_same_outcome(ours, theirs, our_rate, sgd_rate_theirs)
    assert_same_trace(plateau_trace(ours, our_rate, 8, X[:50], y[:50]),
                      plateau_trace(theirs, sgd_rate_theirs, 8, X[:50], y[:50]))


# ---------------------------------------------------------------- plateau state across partial_fit
# scikit-learn's partial_fit is one epoch each; _no_improvement_count, best_loss_ and the sgd
# rate (its _optimizer.learning_rate) carry over from call to call, and "adaptive" divides the
# rate by 5 once the count exceeds n_iter_no_change. bpnet's current rate is its optimizer
# state's (what the next epoch uses).


def our_rate(est):
    return est._net._net.train_state["learning_rate"]


def plateau_trace(est, rate, calls, X, y, **kw):
    """(no-improvement count, sgd rate, best_loss_) after each of ``calls`` partial_fit calls."""
    out = []
    for _ in range(calls):
        est.partial_fit(X, y, **kw)
        out.append((est._no_improvement_count, rate(est), est.best_loss_))
    return out


def assert_same_trace(ours, theirs):
    assert [t[:2] for t in ours] == [t[:2] for t in theirs]  # counts and rates exactly
    np.testing.assert_allclose([t[2] for t in ours], [t[2] for t in theirs], rtol=1e-10)


# tol so large that every epoch after the first counts as no improvement: the decisions do not
# depend on the losses, only on the rules (the rate falls to <= 1e-6 within the 30 calls, after
# which scikit-learn leaves it and lets the count grow)
HUGE_TOL = dict(tol=1e6, n_iter_no_change=2, learning_rate_init=0.01, shuffle=False, random_state=0)


@pytest.mark.parametrize("schedule", ["adaptive", "constant", "invscaling"])
def test_partial_fit_plateau_state_matches_sklearn_regressor(regression, schedule):
    X, y = regression
    kw = dict(hidden_layer_sizes=(6,), solver="sgd", learning_rate=schedule, **HUGE_TOL)
    ours = plateau_trace(bpnet.MLPRegressor(**kw), our_rate, 30, X, y)
    theirs = plateau_trace(sk.MLPRegressor(**kw), lambda e: e._optimizer.learning_rate, 30, X, y)
    if schedule == "invscaling":  # the rate is η/(t+1)^power_t in both; pow may differ in the last bit
        np.testing.assert_allclose([t[1] for t in ours], [t[1] for t in theirs], rtol=1e-14)
        ours, theirs = [(c, 0, b) for c, _, b in ours], [(c, 0, b) for c, _, b in theirs]
    assert_same_trace(ours, theirs)
    if schedule == "adaptive":
        assert theirs[-1][1] <= 1e-6 < theirs[0][1] and theirs[-1][0] > HUGE_TOL["n_iter_no_change"]


@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_partial_fit_plateau_state_matches_sklearn_classifier(digits, solver):
    X, y = digits
    X, y = X[:300], y[:300]
    kw = dict(hidden_layer_sizes=(8,), solver=solver, learning_rate="adaptive", **HUGE_TOL)
    ours, theirs = bpnet.MLPClassifier(**kw), sk.MLPClassifier(**kw)
    classes = np.unique(y)
    ours.partial_fit(X, y, classes=classes)
    theirs.partial_fit(X, y, classes=classes)
    rate_ours = our_rate if solver == "sgd" else (lambda e: 0)
    rate_theirs = (lambda e: e._optimizer.learning_rate) if solver == "sgd" else (lambda e: 0)
    assert_same_trace(plateau_trace(ours, rate_ours, 25, X, y),
                      plateau_trace(theirs, rate_theirs, 25, X, y))
    assert_same_params(ours, theirs, 1e-8)


def test_partial_fit_plateau_messages_are_sklearns(regression, capsys):
    X, y = regression
    kw = dict(hidden_layer_sizes=(6,), solver="sgd", learning_rate="adaptive", verbose=True, **HUGE_TOL)
    printed = []
    for est in (bpnet.MLPRegressor(**kw), sk.MLPRegressor(**kw)):
        for _ in range(22):
            est.partial_fit(X, y)
        printed.append([line for line in capsys.readouterr().out.splitlines() if "improve" in line])
    assert printed[0] == printed[1]
    assert any("Setting learning rate to" in line for line in printed[1])
    assert printed[1][-1].endswith("Learning rate too small. Stopping.")


def test_partial_fit_plateau_decisions_from_the_losses_match_sklearn(regression):
    # a tol at which the losses decide: some epochs improve, some do not, the rate falls
    # several times. Both libraries' losses agree to ~1e-15, far inside the margin checked here.
    X, y = regression
    kw = dict(hidden_layer_sizes=(6,), solver="sgd", learning_rate="adaptive", learning_rate_init=0.2,
              tol=1e-3, n_iter_no_change=2, shuffle=False, random_state=0)
    ours, theirs = bpnet.MLPRegressor(**kw), sk.MLPRegressor(**kw)
    traces = (plateau_trace(ours, our_rate, 40, X, y),
              plateau_trace(theirs, lambda e: e._optimizer.learning_rate, 40, X, y))
    curve = np.array(theirs.loss_curve_)
    best_before = np.minimum.accumulate(curve)[:-1]
    assert np.min(np.abs(curve[1:] - (best_before - kw["tol"]))) > 1e-8  # no decision is a tie
    counts = [c for c, _, _ in traces[1]]
    assert 0 in counts[1:] and max(counts) >= 2 and len({r for _, r, _ in traces[1]}) >= 3
    assert_same_trace(*traces)
    np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-10)


def test_fit_then_partial_fit_continue_the_plateau_state_as_sklearn(regression):
    # fit leaves the count its epoch loop ended with and the reduced rate; partial_fit goes on
    X, y = regression
    kw = dict(hidden_layer_sizes=(6,), solver="sgd", learning_rate="adaptive", max_iter=11, **HUGE_TOL)
    ours, theirs = quiet_fit(bpnet.MLPRegressor(**kw), X, y), quiet_fit(sk.MLPRegressor(**kw), X, y)
    assert ours._no_improvement_count == theirs._no_improvement_count == 1
    assert our_rate(ours) == theirs._optimizer.learning_rate == 0.01 / 5 / 5 / 5  # epochs 4, 7, 10
    assert_same_trace(plateau_trace(ours, our_rate, 8, X, y),
                      plateau_trace(theirs, lambda e: e._optimizer.learning_rate, 8, X, y))


@pytest.mark.parametrize("kw", [dict(learning_rate="adaptive"), dict(learning_rate="constant"),
                                dict(learning_rate="adaptive", early_stopping=True)],
                         ids=["adaptive", "constant", "early_stopping"])
def test_count_after_fit_matches_sklearn(regression, kw):
    X, y = regression
    kw = dict(hidden_layer_sizes=(6,), solver="sgd", max_iter=300, **HUGE_TOL, **kw)
    ours, theirs = quiet_fit(bpnet.MLPRegressor(**kw), X, y), quiet_fit(sk.MLPRegressor(**kw), X, y)
    assert ours.n_iter_ == theirs.n_iter_ < 300  # stopped on the plateau
    assert ours._no_improvement_count == theirs._no_improvement_count
    assert our_rate(ours) == theirs._optimizer.learning_rate


def test_plateau_state_survives_pickle_and_clone_drops_it(regression):
    X, y = regression
    kw = dict(hidden_layer_sizes=(6,), solver="sgd", learning_rate="adaptive", **HUGE_TOL)
    ours, theirs = bpnet.MLPRegressor(**kw), sk.MLPRegressor(**kw)
    rate = lambda e: e._optimizer.learning_rate  # noqa: E731
    assert_same_trace(plateau_trace(ours, our_rate, 5, X, y), plateau_trace(theirs, rate, 5, X, y))
    assert our_rate(ours) < kw["learning_rate_init"]  # reduced once already
    ours, theirs = pickle.loads(pickle.dumps(ours)), pickle.loads(pickle.dumps(theirs))
    assert_same_trace(plateau_trace(ours, our_rate, 10, X, y), plateau_trace(theirs, rate, 10, X, y))
    assert hasattr(ours, "_no_improvement_count")
    for est in (ours, theirs):
        assert not hasattr(clone(est), "_no_improvement_count")
    # a fit without warm_start starts afresh, warm_start or not the optimizer (and its rate) too
    for warm_start in (False, True):
        o, t = ours.set_params(warm_start=warm_start), theirs.set_params(warm_start=warm_start)
        quiet_fit(o.set_params(max_iter=1), X, y)
        quiet_fit(t.set_params(max_iter=1), X, y)
        assert our_rate(o) == rate(t) == kw["learning_rate_init"]
        assert_same_params(o, t, 1e-10)


def test_plateau_state_survives_the_model_file(regression, tmp_path):
    X, y = regression
    kw = dict(hidden_layer_sizes=(6,), solver="sgd", learning_rate="adaptive", **HUGE_TOL)
    ours, theirs = bpnet.MLPRegressor(**kw), sk.MLPRegressor(**kw)
    rate = lambda e: e._optimizer.learning_rate  # noqa: E731
    plateau_trace(ours, our_rate, 5, X, y)
    plateau_trace(theirs, rate, 5, X, y)
    ours.save(tmp_path / "m.bpnet")
    back = bpnet.MLPRegressor.load(tmp_path / "m.bpnet")
    assert_same_trace(plateau_trace(back, our_rate, 10, X, y), plateau_trace(theirs, rate, 10, X, y))


# ---------------------------------------------------------------- plateau state across a warm-started fit
# scikit-learn resets _no_improvement_count, best_loss_ and best_validation_score_ on a first
# pass only, so a warm-started fit goes on counting where the previous fit (or partial_fit)
# stopped and compares its epochs with the previous best; its optimizer, and the sgd rate,
# start afresh. After a fit that stopped on the plateau, the next warm-started one stops (or,
# adaptive sgd, divides the rate) at its first epoch without improvement, not
# n_iter_no_change + 1 epochs later as a restarted count would.


def fit_outcome(est):
    """What a fit did and what it leaves for the next warm-started one."""
    return dict(n_iter=est.n_iter_, epochs=len(est.loss_curve_), t=est.t_,
                count=est._no_improvement_count)


def assert_same_outcome(ours, theirs, rate_ours=None, rate_theirs=None):
    assert fit_outcome(ours) == fit_outcome(theirs)
    for name in ("best_loss_", "best_validation_score_"):
        a, b = getattr(ours, name), getattr(theirs, name)
        assert (a is None) == (b is None), name
        if b is not None:
            assert a == pytest.approx(b, rel=1e-10, abs=1e-12), name
    np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-9)
    if theirs.early_stopping:
        np.testing.assert_allclose(ours.validation_scores_, theirs.validation_scores_, rtol=1e-9)
    if rate_ours is not None:
        assert rate_ours(ours) == pytest.approx(rate_theirs(theirs), rel=1e-14)
    assert_same_params(ours, theirs, 1e-8)


def restarted(est):
    """A copy of a fitted scikit-learn estimator whose plateau state is afresh (count 0, no
    best yet): what its next warm-started fit would do if the state restarted."""
    est = copy.deepcopy(est)
    est._no_improvement_count = 0
    if est.early_stopping:
        est.best_validation_score_ = -np.inf
    else:
        est.best_loss_ = np.inf
    return est


def decision_margin(est):
    """Closest distance of a plateau decision to its threshold over all the fits so far
    (the state carries over, so the best before each epoch is a running extreme)."""
    if est.early_stopping:
        v = np.array(est.validation_scores_)
        return np.min(np.abs(v[1:] - (np.maximum.accumulate(v)[:-1] + est.tol)))
    v = np.array(est.loss_curve_)
    return np.min(np.abs(v[1:] - (np.minimum.accumulate(v)[:-1] - est.tol)))


def sgd_rate_theirs(est):
    return est._optimizer.learning_rate


WARM_CASES = [
    ("MLPRegressor", dict(solver="adam", learning_rate_init=0.01)),
    ("MLPRegressor", dict(solver="sgd", learning_rate_init=0.05, momentum=0.9)),
    ("MLPRegressor", dict(solver="sgd", learning_rate="adaptive", learning_rate_init=0.05)),
    ("MLPRegressor", dict(solver="adam", learning_rate_init=0.01, early_stopping=True)),
    ("MLPRegressor", dict(solver="sgd", learning_rate="adaptive", learning_rate_init=0.05,
                          early_stopping=True)),
    ("MLPClassifier", dict(solver="adam", learning_rate_init=0.01)),
    ("MLPClassifier", dict(solver="sgd", learning_rate_init=0.1, early_stopping=True)),
]


@pytest.mark.parametrize("kind, opts", WARM_CASES,
                         ids=lambda v: v if isinstance(v, str) else "-".join(f"{k}={x}" for k, x in v.items()))
def test_warm_started_fit_continues_the_plateau_state_as_sklearn(regression, digits, kind, opts):
    # a tol at which the losses (validation scores) decide; a cold fit, then two warm-started
    # ones, each compared with scikit-learn's after it
    if kind == "MLPRegressor":
        X, y = regression
    else:
        X, y = digits
        X, y = X[:300], y[:300]
    kw = dict(hidden_layer_sizes=(6,), tol=1e-3, n_iter_no_change=3, max_iter=500, shuffle=False,
              random_state=0, **opts)
    ours, theirs = getattr(bpnet, kind)(**kw), getattr(sk, kind)(**kw)
    rates = (our_rate, sgd_rate_theirs) if opts["solver"] == "sgd" else ()
    restarts_differ = []
    for warm_start in (False, True, True):
        if warm_start:
            alternative = quiet_fit(restarted(theirs).set_params(warm_start=True), X, y)
        quiet_fit(ours.set_params(warm_start=warm_start), X, y)
        quiet_fit(theirs.set_params(warm_start=warm_start), X, y)
        assert_same_outcome(ours, theirs, *rates)
        if warm_start:
            restarts_differ.append(alternative.n_iter_ != theirs.n_iter_)
    assert theirs.n_iter_ < 500 and any(restarts_differ)  # restarting the count is not sklearn
    assert decision_margin(theirs) > 1e-7  # no decision is a near tie the rounding could flip


@pytest.mark.parametrize("schedule, epochs", [("constant", [4, 1, 1]), ("adaptive", [22, 19, 19])])
@pytest.mark.parametrize("early_stopping", [False, True])
def test_warm_started_fit_after_a_plateau_matches_sklearn(regression, schedule, epochs, early_stopping):
    # tol so large that no epoch improves after the first of a cold fit: the rules alone
    # decide. A cold fit stops with count 3 > 2 after 4 epochs. The warm-started fit's first
    # epoch makes it 4: "constant" stops there; "adaptive" divides its fresh rate by 5 at
    # once (and at every 3rd epoch after) until it is <= 1e-6: 19 epochs instead of 22.
    X, y = regression
    kw = dict(hidden_layer_sizes=(6,), solver="sgd", learning_rate=schedule, max_iter=300,
              early_stopping=early_stopping, **HUGE_TOL)
    ours, theirs = bpnet.MLPRegressor(**kw), sk.MLPRegressor(**kw)
    for warm_start, n in zip((False, True, True), epochs):
        quiet_fit(ours.set_params(warm_start=warm_start), X, y)
        quiet_fit(theirs.set_params(warm_start=warm_start), X, y)
        assert ours.n_iter_ == theirs.n_iter_ == n
        assert_same_outcome(ours, theirs, our_rate, sgd_rate_theirs)


def test_warm_started_fit_after_partial_fit_continues_their_count_as_sklearn(regression):
    X, y = regression
    kw = dict(hidden_layer_sizes=(6,), solver="adam", max_iter=300, **HUGE_TOL)
    ours, theirs = bpnet.MLPRegressor(**kw), sk.MLPRegressor(**kw)
    for _ in range(5):  # counts 0, 1, 2, 3, 4
        ours.partial_fit(X, y)
        theirs.partial_fit(X, y)
    quiet_fit(ours.set_params(warm_start=True), X, y)
    quiet_fit(theirs.set_params(warm_start=True), X, y)
    assert ours.n_iter_ == theirs.n_iter_ == 1 and ours._no_improvement_count == 5
    assert_same_outcome(ours, theirs)


# ---------------------------------------------------------------- fitted attributes' types


def attribute_types(est):
    """type of loss_, best_loss_, best_validation_score_ and of the entries of loss_curve_
    and validation_scores_ (None where the attribute is missing or None)."""
    out = {}
    for name in ("loss_", "best_loss_", "best_validation_score_"):
        v = getattr(est, name, None)
        out[name] = None if v is None else type(v)
    for name in ("loss_curve_", "validation_scores_"):
        v = getattr(est, name, None)
        out[name] = None if v is None else {type(x) for x in v}
    return out


TYPE_CASES = [dict(solver="adam"), dict(solver="sgd"), dict(solver="sgd", early_stopping=True),
              dict(solver="adam", early_stopping=True), dict(solver="lbfgs")]


@pytest.mark.parametrize("opts", TYPE_CASES, ids=lambda o: "-".join(f"{k}={v}" for k, v in o.items()))
@pytest.mark.parametrize("kind", ["MLPRegressor", "MLPClassifier"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_fitted_attribute_types_are_sklearns(digits, kind, opts, dtype, tmp_path):
    X, y = digits
    X, y = X[:200].astype(dtype), y[:200] if kind == "MLPClassifier" else y[:200] / 9.0
    kw = dict(hidden_layer_sizes=(5,), max_iter=4, random_state=0, **opts)
    ours = quiet_fit(getattr(bpnet, kind)(**kw), X, y)
    theirs = quiet_fit(getattr(sk, kind)(**kw), X, y)
    expected = attribute_types(theirs)
    if opts["solver"] == "lbfgs":  # bpnet keeps a loss curve for lbfgs too, of the same type
        assert expected["loss_curve_"] is None
        expected["loss_curve_"] = {type(theirs.loss_)}
    assert attribute_types(ours) == expected
    assert attribute_types(pickle.loads(pickle.dumps(ours))) == expected
    ours.save(tmp_path / "m.bpnet")
    assert attribute_types(getattr(bpnet, kind).load(tmp_path / "m.bpnet")) == expected
    if opts["solver"] != "lbfgs" and not opts.get("early_stopping"):
        extra = dict(classes=np.unique(y)) if kind == "MLPClassifier" else {}
        ours, theirs = getattr(bpnet, kind)(**kw), getattr(sk, kind)(**kw)
        for _ in range(2):
            ours.partial_fit(X, y, **extra)
            theirs.partial_fit(X, y, **extra)
        assert attribute_types(ours) == attribute_types(theirs)


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
