"""Concurrency, interruption and copying: a fit in one thread while others read the network,
an interrupted fit, and pickles and copies of subclasses — each checked against an independent
computation (a re-fit from the same seed, gradients computed before the threads start)."""
import _thread
import copy
import pickle
import threading
import time
import warnings

import numpy as np
import pytest

import bpnet


def _readers(fn, n, calls=None):
    """Start n threads that call fn() until the returned event is set; errors are collected,
    and each finished call appended to ``calls`` when given."""
    stop, errors = threading.Event(), []

    def loop():
        try:
            while not stop.is_set():
                fn()
                if calls is not None:
                    calls.append(1)
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)

    threads = [threading.Thread(target=loop, daemon=True) for _ in range(n)]
    for t in threads:
        t.start()
    return stop, threads, errors


def test_a_fit_is_not_starved_by_predicts_in_other_threads(rng):
    # Three threads predicting a large batch in a loop always held a read lock between them:
    # the fit waiting for the write lock waited (for ever) for a moment with no reader, since
    # new reads were let in ahead of the waiting fit. It must wait only for reads in flight.
    X, y = rng.normal(size=(64, 5)), rng.normal(size=64)
    XB = rng.normal(size=(150_000, 5))
    net = bpnet.Network((5, 32, 1), activation="tanh", seed=0)
    expected = net.copy()
    expected.fit(X, y, epochs=3, batch_size=16, seed=1)

    stop, threads, errors = _readers(lambda: net.predict(XB, n_threads=1), 3)
    time.sleep(0.3)  # the readers are running
    done = threading.Event()
    fitter = threading.Thread(target=lambda: (net.fit(X, y, epochs=3, batch_size=16, seed=1), done.set()),
                              daemon=True)
    fitter.start()
    finished = done.wait(timeout=5)
    stop.set()
    fitter.join(timeout=60)
    for t in threads:
        t.join(timeout=60)
    assert not errors
    assert finished, "fit waited more than 5 s for a moment without any predict in flight"
    np.testing.assert_array_equal(net.params, expected.params)


def test_gradient_is_of_one_set_of_weights_while_another_thread_steps(rng):
    # Network.gradient/backward ran forward and backward under two separate read locks: a step
    # in another thread between them gave a gradient of the forward pass at one set of weights
    # backpropagated through another (no error, silently wrong). Every gradient must be the
    # gradient at one of the two sets the stepper alternates between.
    net = bpnet.Network((4, 16, 3), activation="tanh", seed=0)
    net.params[:] = np.round(net.params * 8) / 8  # steps of 1/4 are exact: the sets alternate
    X, y = rng.normal(size=(64, 4)), rng.normal(size=(64, 3))
    d = np.full(net.n_params, 0.25)
    p0 = net.params.copy()
    g0 = net.gradient(X, y)[1]
    net.params[:] = p0 - d
    g1 = net.gradient(X, y)[1]
    b1 = net.backward(X, y)
    net.params[:] = p0
    b0 = net.backward(X, y)

    stop = threading.Event()

    def stepper():
        while not stop.is_set():
            net.step(d, learning_rate=1.0)
            net.step(-d, learning_rate=1.0)

    t = threading.Thread(target=stepper, daemon=True)
    t.start()
    torn = 0
    deadline = time.perf_counter() + 3.0
    try:
        while time.perf_counter() < deadline:
            for _ in range(200):
                g = net.gradient(X, y)[1]
                torn += not (np.array_equal(g, g0) or np.array_equal(g, g1))
            b = net.backward(X, y)
            ok = any(np.array_equal(b.flat, r.flat) and np.array_equal(b.deltas[0], r.deltas[0])
                     and np.array_equal(b.trace.a[1], r.trace.a[1]) for r in (b0, b1))
            torn += not ok
    finally:
        stop.set()
        t.join(timeout=60)
    assert torn == 0, f"{torn} gradients mixed two sets of weights"


def _ctrl_c_soon():
    """In 0.2 s, a Ctrl-C to the main thread (``_thread.interrupt_main``), which by then is
    inside a long fit without callbacks: the fit sees it between two batches, in C++."""

    def interrupt():
        time.sleep(0.2)
        _thread.interrupt_main()

    threading.Thread(target=interrupt, daemon=True).start()


def test_ctrl_c_in_network_fit_carries_the_finished_epochs(rng):
    X, y = rng.normal(size=(4000, 10)), rng.normal(size=(4000, 2))
    net = bpnet.Network((10, 32, 2), activation="relu", seed=0)
    _ctrl_c_soon()
    with pytest.raises(KeyboardInterrupt) as info:
        net.fit(X, y, epochs=100_000, batch_size=8, learning_rate=1e-3, seed=3)
    h = info.value.history
    assert isinstance(h, bpnet.History) and h.interrupted
    k = h.epochs_run
    assert k >= 1 and len(h.loss) == k
    # the epochs it finished are those of an uninterrupted fit from the same start
    ref = bpnet.Network((10, 32, 2), activation="relu", seed=0)
    assert ref.fit(X, y, epochs=k, batch_size=8, learning_rate=1e-3, seed=3).loss == h.loss
    net.predict(X[:3])  # usable afterwards


def test_an_exception_from_a_callback_carries_the_finished_epochs(rng):
    X, y = rng.normal(size=(50, 3)), rng.normal(size=50)
    net = bpnet.Network((3, 4, 1), seed=0)

    def callback(rec):
        if rec["epoch"] == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt) as info:
        net.fit(X, y, epochs=10, batch_size=10, seed=1, callback=callback)
    ref = bpnet.Network((3, 4, 1), seed=0)
    expected = ref.fit(X, y, epochs=3, batch_size=10, seed=1)
    h = info.value.history
    assert h.loss == expected.loss and h.epochs_run == 3 and h.stopped_by_callback
    np.testing.assert_array_equal(net.params, ref.params)

    class Stop(Exception):  # an exception with a history of its own keeps it
        def __init__(self):
            super().__init__()
            self.history = "mine"

    def stop(rec):
        raise Stop

    with pytest.raises(Stop) as info:
        net.fit(X, y, epochs=10, callback=stop)
    assert info.value.history == "mine"


def test_an_exception_with_a_read_only_history_from_a_callback_is_raised_as_itself(rng):
    # Network.fit set exc.history on the way out; where the exception's class makes history
    # read-only (a property), that assignment raised AttributeError in place of the user's error
    X, y = rng.normal(size=(50, 3)), rng.normal(size=50)

    class Computed(Exception):
        @property
        def history(self):
            return None

    class Failing(Exception):
        @property
        def history(self):
            raise LookupError("no history here")

    for cls in (Computed, Failing):
        def callback(rec):
            if rec["epoch"] == 2:
                raise cls("the user's error")

        net = bpnet.Network((3, 4, 1), seed=0)
        with pytest.raises(cls, match="the user's error"):
            net.fit(X, y, epochs=10, batch_size=10, seed=1, callback=callback)
        ref = bpnet.Network((3, 4, 1), seed=0)
        ref.fit(X, y, epochs=2, batch_size=10, seed=1)
        np.testing.assert_array_equal(net.params, ref.params)  # stopped after epoch 2 as usual


def _stop_at(epoch):
    def callback(rec):
        if rec["epoch"] == epoch:
            raise KeyboardInterrupt  # as a Ctrl-C while the callback runs

    return callback


@pytest.mark.parametrize("early_stopping", [False, True])
@pytest.mark.parametrize("Est", ["MLPRegressor", "MLPClassifier"])
def test_an_interrupted_estimator_fit_records_its_finished_epochs(rng, Est, early_stopping):
    # scikit-learn's fit, interrupted, keeps what the finished epochs recorded (n_iter_,
    # loss_curve_, loss_, t_, best_loss_ / validation_scores_); bpnet's kept the trained weights
    # but reported n_iter_ == 0, an empty loss_curve_ and no loss_.
    pytest.importorskip("sklearn")
    Est = getattr(bpnet, Est)
    X = rng.normal(size=(200, 4))
    y = X @ [1.0, -2.0, 0.5, 0.0] if Est is bpnet.MLPRegressor else (X[:, 0] > X[:, 1]).astype(int)
    kw = dict(hidden_layer_sizes=(8,), random_state=0, early_stopping=early_stopping, tol=0.0)
    est = Est(max_iter=50, **kw)
    with pytest.warns(UserWarning, match="Training interrupted by user"):
        est.fit(X, y, callbacks=[_stop_at(3)])
    ref = Est(max_iter=3, **kw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning
        ref.fit(X, y)
    assert est.n_iter_ == ref.n_iter_ == 3
    assert est.t_ == ref.t_
    assert est.loss_curve_ == ref.loss_curve_
    assert est.loss_ == ref.loss_
    assert est.best_loss_ == ref.best_loss_
    assert est.validation_scores_ == ref.validation_scores_
    assert est.best_validation_score_ == ref.best_validation_score_
    assert est._no_improvement_count == ref._no_improvement_count
    for a, b in zip(est.coefs_ + est.intercepts_, ref.coefs_ + ref.intercepts_):
        np.testing.assert_array_equal(a, b)


def test_a_ctrl_c_in_an_estimator_fit_records_its_finished_epochs(rng):
    pytest.importorskip("sklearn")
    X = rng.normal(size=(4000, 10))
    y = X[:, :2].sum(axis=1)
    kw = dict(hidden_layer_sizes=(32,), batch_size=8, random_state=0, tol=0.0, n_iter_no_change=10**6)
    est = bpnet.MLPRegressor(max_iter=100_000, **kw)
    _ctrl_c_soon()
    with pytest.warns(UserWarning, match="Training interrupted by user"):
        est.fit(X, y)
    k = est.n_iter_
    assert k >= 1 and len(est.loss_curve_) == k and est.loss_ == est.loss_curve_[-1]
    ref = bpnet.MLPRegressor(max_iter=k, **kw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref.fit(X, y)
    assert est.loss_curve_ == ref.loss_curve_
    assert est.t_ == ref.t_ == k * len(X)


@pytest.mark.parametrize("solver", ["adam", "lbfgs"])
@pytest.mark.parametrize("Est", ["MLPRegressor", "MLPClassifier"])
def test_predictions_during_a_refit_are_of_a_whole_model(rng, Est, solver):
    # A refit published its new network (initial weights) before training it, and lbfgs wrote
    # its iterates into the parameters a predict was reading; a classifier also replaced its
    # label binarizer before fitting it. Predictions from other threads during a refit came
    # from untrained or half-trained weights (most of them, for a small problem), or raised
    # NotFittedError. Every refit here ends at the same weights (the same random_state), so
    # every prediction must be exactly the fitted model's.
    pytest.importorskip("sklearn")
    Est = getattr(bpnet, Est)
    X = rng.normal(size=(300, 6))
    y = X @ rng.normal(size=6)
    if Est is bpnet.MLPClassifier:
        y = np.digitize(y, [-1.0, 1.0])  # three classes
    kw = dict(hidden_layer_sizes=(16,), max_iter=5, random_state=0, solver=solver)
    if solver == "adam":
        kw["early_stopping"] = True
    est = Est(**kw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning
        est.fit(X, y)
    expected = [est.predict(X[:20])] + ([est.predict_proba(X[:20])] if Est is bpnet.MLPClassifier else [])

    def read():
        got = [est.predict(X[:20])] + ([est.predict_proba(X[:20])] if Est is bpnet.MLPClassifier else [])
        if not all(np.array_equal(a, b) for a, b in zip(got, expected)):
            raise AssertionError("a prediction from neither the old nor the new model")

    reads, fits = [], 0
    stop, threads, errors = _readers(read, 2, reads)
    try:
        deadline = time.perf_counter() + 2.0
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            while time.perf_counter() < deadline and not errors:
                est.fit(X, y)
                fits += 1
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=60)
    assert not errors, errors[0]
    # back-to-back refits leave room for the reads that wait (neither side starves)
    assert fits >= 5 and len(reads) >= fits // 2, (fits, len(reads))
    for a, b in zip([est.predict(X[:20])], expected):
        np.testing.assert_array_equal(a, b)


def test_an_estimator_callback_may_read_the_estimator_it_trains(rng):
    # the fitting thread reads (predict, pickle) what it trains, without waiting for itself
    pytest.importorskip("sklearn")
    X = rng.normal(size=(100, 3))
    y = X.sum(axis=1)
    est = bpnet.MLPRegressor(hidden_layer_sizes=(4,), max_iter=3, random_state=0)
    seen = []

    def callback(rec):
        seen.append((est.predict(X[:2]).shape, type(pickle.loads(pickle.dumps(est)))))

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.fit(X, y, callbacks=[callback])
    assert seen == [((2,), bpnet.MLPRegressor)] * 3


class _TaggedNetwork(bpnet.Network):
    """A user's subclass with a method and an attribute of its own."""

    def first_output(self, X):
        return self.predict(X)[:, 0]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_pickles_and_copies_keep_a_subclass_and_its_attributes(rng, dtype):
    X, y = rng.normal(size=(30, 3)), rng.normal(size=(30, 2))
    net = _TaggedNetwork((3, 5, 2), activation="tanh", dtype=dtype, seed=0)
    net.fit(X, y, optimizer="adam", epochs=3, batch_size=10, seed=1)
    net.tag = {"run": 7}
    net.metadata["note"] = "kept"
    ref = bpnet.Network((3, 5, 2), activation="tanh", dtype=dtype, seed=0)
    ref.fit(X, y, optimizer="adam", epochs=3, batch_size=10, seed=1)
    for other in (pickle.loads(pickle.dumps(net)), copy.deepcopy(net), copy.copy(net), net.copy()):
        assert type(other) is _TaggedNetwork
        assert other.tag == {"run": 7} and other.metadata == {"note": "kept"}
        assert other._net is not net._net
        np.testing.assert_array_equal(other.first_output(X), ref.predict(X)[:, 0])
        # the optimizer state travelled too: one more epoch on each gives the same weights
        other.fit(X, y, optimizer="adam", epochs=1, batch_size=10, seed=2)
    ref.fit(X, y, optimizer="adam", epochs=1, batch_size=10, seed=2)
    np.testing.assert_array_equal(other.params, ref.params)
    # a plain Network still pickles as before (loadable by older versions)
    plain = pickle.loads(pickle.dumps(ref))
    assert type(plain) is bpnet.Network
    assert ref.__reduce__()[0] == bpnet.Network.from_bytes


class _EqualByParams(bpnet.MLPRegressor):
    """Compares (and hashes) by parameters, as some user subclasses do."""

    def __eq__(self, other):
        return type(self) is type(other) and self.get_params() == other.get_params()

    def __hash__(self):
        return hash(tuple(sorted((k, repr(v)) for k, v in self.get_params().items())))


class _Unhashable(bpnet.MLPRegressor):
    def __eq__(self, other):  # (no __hash__: instances are unhashable)
        return self is other


def _fit_held_in_callback(est, X, y):
    """Starts est.fit in a thread whose first epoch callback waits; returns (release, thread)."""
    inside, release = threading.Event(), threading.Event()

    def callback(rec):
        inside.set()
        release.wait(30)

    def run():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            est.fit(X, y, callbacks=[callback])

    t = threading.Thread(target=run)
    t.start()
    assert inside.wait(30)
    return release, t


def test_estimators_equal_by_parameters_do_not_share_a_guard(rng):
    # The guards were looked up by the estimator's hash and ==: two equal estimators shared one,
    # so a predict of one waited for the other's fit.
    pytest.importorskip("sklearn")
    X = rng.normal(size=(60, 3))
    y = X.sum(axis=1)
    a, b = (_EqualByParams(hidden_layer_sizes=(4,), max_iter=2, random_state=0) for _ in range(2))
    assert a == b and hash(a) == hash(b)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        b.fit(X, y)
    release, t = _fit_held_in_callback(a, X, y)
    try:
        done = []
        reader = threading.Thread(target=lambda: done.append(b.predict(X[:3])))
        reader.start()
        reader.join(10)
        assert done, "b.predict waited for a.fit"
    finally:
        release.set()
        t.join(30)


def test_an_unhashable_estimator_subclass_is_guarded_too(rng):
    # (it was left unguarded: its predict read a half-trained model during a refit)
    pytest.importorskip("sklearn")
    X = rng.normal(size=(60, 3))
    y = X.sum(axis=1)
    # (lbfgs: its callbacks run between the core's calls, with no lock of the network held)
    est = _Unhashable(hidden_layer_sizes=(4,), max_iter=2, random_state=0, solver="lbfgs")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.fit(X, y)
    release, t = _fit_held_in_callback(est, X, y)
    done = []
    reader = threading.Thread(target=lambda: done.append(est.predict(X[:3])))
    try:
        reader.start()
        reader.join(0.5)
        assert not done, "predict did not wait for the running fit"
    finally:
        release.set()
        t.join(30)
        reader.join(30)
    assert len(done) == 1


def test_an_estimators_guard_goes_with_it(rng):
    pytest.importorskip("sklearn")
    import gc

    from bpnet import estimators

    X = rng.normal(size=(30, 2))
    before = len(estimators._GUARDS)
    est = bpnet.MLPRegressor(hidden_layer_sizes=(3,), max_iter=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.fit(X, X[:, 0])
    assert len(estimators._GUARDS) == before + 1
    del est
    gc.collect()
    assert len(estimators._GUARDS) == before


def test_set_params_in_another_thread_waits_for_a_running_fit(rng):
    # (it changed the parameters a running fit was reading)
    pytest.importorskip("sklearn")
    X = rng.normal(size=(60, 3))
    y = X.sum(axis=1)
    est = bpnet.MLPRegressor(hidden_layer_sizes=(4,), max_iter=2, random_state=0)
    release, t = _fit_held_in_callback(est, X, y)
    done = []
    setter = threading.Thread(target=lambda: done.append(est.set_params(alpha=0.5)))
    try:
        setter.start()
        setter.join(0.5)
        assert not done, "set_params did not wait for the running fit"
        assert est.alpha == 0.0001
    finally:
        release.set()
        t.join(30)
        setter.join(30)
    assert done == [est] and est.alpha == 0.5
