"""The training engine (issue 4): schedules, stopping rules, validation, sample weights,
determinism, interruption and concurrency — each checked against an independent computation."""
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import numpy as np
import pytest

import bpnet


@pytest.fixture
def data(rng):
    X = rng.normal(size=(60, 3))
    y = np.sin(X @ np.array([1.0, -0.5, 0.3]))[:, None]
    return X, y


def test_invscaling_learning_rate_per_epoch(data):
    X, y = data
    net = bpnet.Network((3, 4, 1), activation="tanh", seed=0)
    h = net.fit(X, y, learning_rate=0.2, epochs=5, batch_size=16, learning_rate_schedule="invscaling", power_t=0.5)
    # scikit-learn: after each epoch η = η0 / (t + 1) ** power_t, t = samples seen so far
    expected = [0.2] + [0.2 / (60 * e + 1) ** 0.5 for e in range(1, 5)]
    np.testing.assert_allclose(h.learning_rate, expected, rtol=1e-12)


def test_adaptive_divides_by_five_on_plateau(data):
    X, y = data
    net = bpnet.Network((3, 1), seed=0)
    # tol so large that no epoch after the first counts as an improvement: as in scikit-learn,
    # the rate drops once more than n_iter_no_change = 2 epochs did not improve
    h = net.fit(X, y, learning_rate=0.1, epochs=10, learning_rate_schedule="adaptive", tol=1e9, n_iter_no_change=2)
    np.testing.assert_allclose(h.learning_rate, [0.1] * 4 + [0.02] * 3 + [0.004] * 3)


def test_schedule_rate_set_between_fits_is_continued(data):
    # the estimators' adaptive schedule across partial_fit calls sets the rate between fits
    X, y = data
    net = bpnet.Network((3, 1), seed=0)
    net.fit(X, y, learning_rate=0.1, epochs=1, learning_rate_schedule="adaptive")
    net._set_schedule_learning_rate(0.02)
    assert net.copy()._net.train_state["learning_rate"] == 0.02  # it travels with the state
    h = net.fit(X, y, learning_rate=0.1, epochs=2, learning_rate_schedule="adaptive",
                _keep_learning_rate=True)
    assert h.learning_rate == [0.02, 0.02]
    h = net.fit(X, y, learning_rate=0.1, epochs=1, warm_start=False)  # a fresh state: the given rate
    assert h.learning_rate == [0.1]
    for bad in (0.0, -1.0, float("nan")):
        with pytest.raises(ValueError, match="learning_rate"):
            net._set_schedule_learning_rate(bad)


@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_warm_started_sgd_fit_runs_at_the_rate_it_is_given(data, momentum):
    # warm_start continues the optimizer state, not the previous call's rate: a second fit
    # (or a fit after step) with another learning_rate takes a step of that size
    X, y = data
    net = bpnet.Network((3, 4, 1), activation="tanh", seed=0)
    net.fit(X, y, learning_rate=0.1, epochs=1, momentum=momentum)
    net.step(net.gradient(X, y)[1], learning_rate=0.01, momentum=momentum)
    theta = net.params.copy()
    v = np.array(net._net.train_state["velocity"]) if momentum else None
    g = net.gradient(X, y)[1]
    h = net.fit(X, y, learning_rate=0.5, epochs=1, shuffle=False, momentum=momentum)
    assert h.learning_rate == [0.5]
    if momentum:  # scikit-learn's Nesterov update with the continued velocity
        v = momentum * v - 0.5 * g
        expected = theta + momentum * v - 0.5 * g
    else:
        expected = theta - 0.5 * g
    np.testing.assert_allclose(net.params, expected, rtol=1e-12, atol=1e-15)


def test_divergence_restores_the_optimizer_state_too(data):
    # the weights and the Adam state of the diverged epoch's start: a following fit that
    # continues the state trains normally instead of "diverging" on poisoned moments
    X, y = data
    net = bpnet.Network((3, 4, 1), activation="tanh", dtype="float32", seed=0)
    net.fit(X, y, optimizer="adam", learning_rate=0.01, epochs=2, batch_size=16)
    params, state = net.params.copy(), net._net.train_state
    with pytest.warns(bpnet.DivergenceWarning):
        h = net.fit(X, y, optimizer="adam", learning_rate=1e30, epochs=3, batch_size=16)
    assert h.diverged and h.epochs_run == 0
    after = net._net.train_state
    np.testing.assert_array_equal(net.params, params)
    assert after["t"] == state["t"]
    np.testing.assert_array_equal(after["m"], state["m"])
    np.testing.assert_array_equal(after["v"], state["v"])
    h = net.fit(X, y, optimizer="adam", learning_rate=0.01, epochs=2, batch_size=16)
    assert not h.diverged and np.isfinite(h.loss).all()


def test_tol_stops_on_a_training_loss_plateau(data):
    X, y = data
    net = bpnet.Network((3, 1), seed=0)
    h = net.fit(X, y, learning_rate=0.1, epochs=500, tol=1e9, n_iter_no_change=3)
    assert h.converged and h.epochs_run == 5 and "did not improve" in h.message


def test_early_stopping_restores_best_epoch(rng):
    X = rng.normal(size=(80, 5))
    y = X[:, :1] + rng.normal(0, 1.0, size=(80, 1))  # noisy: the validation loss turns up
    Xv = rng.normal(size=(40, 5))
    yv = Xv[:, :1]
    net = bpnet.Network((5, 32, 1), activation="relu", seed=1)
    seen = []

    def remember(rec):
        seen.append((rec["val_score"], net.params.copy()))

    h = net.fit(X, y, optimizer="adam", learning_rate=0.01, epochs=200, batch_size=16,
                validation_data=(Xv, yv), early_stopping=True, n_iter_no_change=5, callback=remember)
    scores = [s for s, _ in seen]
    best = int(np.argmax(scores))
    assert h.restored_best and h.best_epoch == best + 1
    np.testing.assert_array_equal(net.params, seen[best][1])
    # the validation score after restoring is the best one, recomputed independently
    pred = net.predict(Xv)
    assert -np.mean(np.sum((pred - yv) ** 2, axis=1)) == pytest.approx(max(scores), rel=1e-10)
    assert h.val_score == scores


def test_validation_fraction_is_stratified(rng):
    from bpnet._network import _split_validation

    X = rng.normal(size=(100, 2))
    labels = (np.arange(100) < 20).astype(int)  # 20 / 80 classes
    Y = np.eye(2)[labels]
    Xt, Yt, _, Xv, Yv, _ = _split_validation(X, Y, None, 0.25, seed=3, stratify=True)
    assert Yv.sum(axis=0).tolist() == [20, 5]
    assert len(Xt) + len(Xv) == 100
    # every row lands on exactly one side
    rows = {tuple(r) for r in np.vstack([Xt, Xv])}
    assert rows == {tuple(r) for r in X}


def test_accuracy_and_r2_scores_match_numpy(rng):
    X = rng.normal(size=(50, 3))
    net = bpnet.Network((3, 4, 3), activation="tanh", output_activation="softmax", loss="cross_entropy", seed=2)
    Y = np.eye(3)[rng.integers(0, 3, size=50)]
    acc = np.mean(net.predict(X).argmax(1) == Y.argmax(1))
    assert net.score(X, Y, "accuracy") == pytest.approx(acc)
    reg = bpnet.Network((3, 4, 2), activation="tanh", seed=2)
    T = rng.normal(size=(50, 2))
    P = reg.predict(X)
    r2 = np.mean(1 - ((T - P) ** 2).sum(0) / ((T - T.mean(0)) ** 2).sum(0))
    assert reg.score(X, T, "r2") == pytest.approx(r2, rel=1e-12)


def test_sample_weight_two_equals_a_duplicated_row(data):
    X, y = data
    w = np.ones(len(X))
    w[7] = 2.0
    Xd, yd = np.vstack([X, X[7:8]]), np.vstack([y, y[7:8]])
    a = bpnet.Network((3, 4, 1), activation="tanh", seed=5)
    b = bpnet.Network((3, 4, 1), activation="tanh", seed=5)
    ha = a.fit(X, y, sample_weight=w, epochs=20, batch_size=None, shuffle=False)
    hb = b.fit(Xd, yd, epochs=20, batch_size=None, shuffle=False)
    np.testing.assert_allclose(a.params, b.params, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(ha.loss, hb.loss, rtol=1e-12)


def test_determinism_weights_state_and_history(data):
    X, y = data
    out = []
    for _ in range(2):
        net = bpnet.Network((3, 8, 1), activation="relu", seed=4, dtype="float32")
        h = net.fit(X, y, optimizer="adam", learning_rate=0.01, epochs=6, batch_size=8, seed=9,
                    validation_fraction=0.2)
        st = net._net.train_state
        out.append((net.params.tobytes(), np.array(st["m"]).tobytes(), np.array(st["v"]).tobytes(), h.loss, h.val_loss))
    assert out[0] == out[1]


def test_fits_in_two_threads_match_each_alone(rng):
    X = rng.normal(size=(400, 10))
    y = rng.normal(size=(400, 2))

    def run(seed):
        net = bpnet.Network((10, 32, 2), activation="relu", seed=seed)
        net.fit(X, y, optimizer="adam", learning_rate=1e-3, epochs=20, batch_size=32, seed=seed)
        return net.params.copy()

    alone = [run(1), run(2)]
    results = [None, None]
    threads = [threading.Thread(target=lambda i=i: results.__setitem__(i, run(i + 1))) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    np.testing.assert_array_equal(results[0], alone[0])
    np.testing.assert_array_equal(results[1], alone[1])


def test_verbose_prints_scikit_learn_style_lines(data, capsys):
    X, y = data
    bpnet.Network((3, 1), seed=0).fit(X, y, epochs=3, verbose=True)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("Iteration 1, loss = ") and len(lines) == 3


@pytest.mark.parametrize("kwargs,match", [
    (dict(optimizer="lbfgs"), "sgd, adam"),
    (dict(learning_rate_schedule="cosine"), "constant, invscaling, adaptive"),
    (dict(alpha=-0.1), "alpha"),
    (dict(momentum=1.5), "momentum"),
    (dict(momentum=-0.1), "momentum"),
    (dict(validation_fraction=0.0), "validation_fraction"),
    (dict(validation_fraction=1.0), "validation_fraction"),
    (dict(validation_data=(np.zeros((5, 2)), np.zeros(5))), "2 columns, expected 3"),
    (dict(validation_data=(np.zeros((5, 3)), np.zeros(4))), "4 rows, expected 5"),
    (dict(validation_data=(np.zeros((5, 3)),)), "validation_data"),
    (dict(validation_data=(np.zeros((0, 3)), np.zeros(0))), "X_val has 0 rows"),
    (dict(validation_data=(np.zeros((0, 3)), np.zeros(0)), early_stopping=True), "X_val has 0 rows"),
    (dict(validation_metric="f1", validation_fraction=0.2), "loss, accuracy, r2"),
    (dict(n_iter_no_change=0), "n_iter_no_change"),
    (dict(tol=-1.0), "tol"),
    (dict(beta_1=1.0, optimizer="adam"), "beta_1"),
])
def test_bad_engine_arguments(data, kwargs, match):
    X, y = data
    net = bpnet.Network((3, 4, 1), seed=0)
    before = net.params.copy()
    with pytest.raises(ValueError, match=match):
        net.fit(X, y, epochs=2, **kwargs)
    np.testing.assert_array_equal(net.params, before)


CTRL_C = textwrap.dedent(
    """
    import sys, time, numpy as np, bpnet
    rng = np.random.default_rng(0)
    X = rng.normal(size=(20000, 50)); y = rng.normal(size=(20000, 1))
    net = bpnet.Network((50, 64, 1), activation="relu", seed=0)
    start = net.params.copy()
    print("ready", flush=True)
    try:
        net.fit(X, y, epochs=100000, batch_size=32, learning_rate=1e-4)
    except KeyboardInterrupt:
        t = time.perf_counter()
        ok = np.isfinite(net.params).all() and not np.array_equal(net.params, start)
        print("interrupted", ok, flush=True)
    """
)


def test_ctrl_c_stops_a_long_fit_promptly():
    with subprocess.Popen([sys.executable, "-c", CTRL_C], stdout=subprocess.PIPE, text=True) as p:
        assert p.stdout.readline().strip() == "ready"
        time.sleep(1.0)
        sent = time.perf_counter()
        p.send_signal(signal.SIGINT)
        line = p.stdout.readline().strip()
        elapsed = time.perf_counter() - sent
        p.wait(timeout=30)
    assert line == "interrupted True"
    assert elapsed < 1.0, elapsed


def test_per_sample_fast_path_gives_the_generic_bits(rng):
    """Batch size 1 plain sgd has a lean fused path; unit sample weights take the generic
    forward/backward/step path: both must give the same bits."""
    X = rng.uniform(-1, 1, size=(200, 1))
    y = 2 * X + 1 + rng.normal(0, 0.1, size=(200, 1))
    for dtype in ("float64", "float32"):
        a = bpnet.Network((1, 3, 1), activation="sigmoid", dtype=dtype, seed=0)
        b = bpnet.Network((1, 3, 1), activation="sigmoid", dtype=dtype, seed=0)
        ha = a.fit(X, y, learning_rate=0.1, epochs=3, batch_size=1, seed=2)
        hb = b.fit(X, y, learning_rate=0.1, epochs=3, batch_size=1, seed=2, sample_weight=np.ones(200))
        assert a.params.tobytes() == b.params.tobytes()
        assert ha.loss == hb.loss


# (layer sizes, hidden activation(s), output activation, loss, target kind): every activation
# and loss through the per-sample path, small layers (at most 128 weights: plain loops, and the
# step compiled without the vectoriser when all are) and larger ones (the generic products),
# one and several hidden layers.
PER_SAMPLE_CASES = [
    ((2, 5, 4, 3), ["tanh", "relu"], "softmax", "cross_entropy", "onehot"),
    ((3, 4, 2), "leaky_relu", "sigmoid", "binary_cross_entropy", "binary"),
    ((2, 3, 2), "identity", "exp", "poisson", "counts"),
    ((3, 6, 2), "sigmoid", "softmax", "squared_error", "onehot"),
    ((4, 3, 2), "relu", "identity", "half_squared_error", "real"),
    ((5, 40, 17, 3), ["sigmoid", "tanh"], "identity", "squared_error", "real"),
    ((20, 3), [], "sigmoid", "binary_cross_entropy", "binary"),
]


def _targets(kind, rng, n, m):
    if kind == "onehot":
        return np.eye(m)[rng.integers(0, m, size=n)]
    if kind == "binary":
        return rng.integers(0, 2, size=(n, m)).astype(float)
    if kind == "counts":
        return rng.poisson(1.5, size=(n, m)).astype(float)
    return rng.normal(size=(n, m))


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("case", PER_SAMPLE_CASES, ids=lambda c: "-".join(map(str, c[0])) + "-" + c[3])
def test_per_sample_path_gives_the_generic_bits_for_every_activation_and_loss(rng, dtype, case):
    sizes, hidden, out, loss, kind = case
    X = rng.uniform(-1, 1, size=(150, sizes[0]))
    y = _targets(kind, rng, 150, sizes[-1])
    _assert_per_sample_step_is_generic(sizes, hidden, out, loss, dtype, X, y, seeds=(3, 4))


def _assert_per_sample_step_is_generic(sizes, hidden, out, loss, dtype, X, y, seeds):
    """Batch-1 plain sgd (the per-sample path) against the same fit with unit sample weights
    (the generic forward/backward/step path): the same weights and losses, bit for bit."""
    nets = [bpnet.Network(sizes, activation=hidden, output_activation=out, loss=loss,
                          dtype=dtype, seed=seeds[0]) for _ in range(2)]
    ha = nets[0].fit(X, y, learning_rate=0.05, epochs=2, batch_size=1, seed=seeds[1])
    hb = nets[1].fit(X, y, learning_rate=0.05, epochs=2, batch_size=1, seed=seeds[1],
                     sample_weight=np.ones(len(X)))
    assert nets[0].params.tobytes() == nets[1].params.tobytes()
    assert ha.loss == hb.loss


# One hidden layer of small layers with these kinds takes a copy of the step whose kinds are
# compile-time constants (FixedKinds in network.cpp); 1-12-2 has a hidden layer 8 or more wide
# (vmath's exp in the sigmoid), 2-3-1 one narrower (libm's).
FIXED_KINDS = [(h, out, loss) for h in ("sigmoid", "tanh", "relu")
               for out, loss in (("identity", "squared_error"), ("identity", "half_squared_error"),
                                 ("sigmoid", "binary_cross_entropy"))]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("sizes", [(2, 3, 1), (1, 12, 2)])
@pytest.mark.parametrize("kinds", FIXED_KINDS, ids="-".join)
def test_fixed_kinds_step_gives_the_generic_bits(rng, dtype, sizes, kinds):
    hidden, out, loss = kinds
    X = rng.uniform(-2, 2, size=(120, sizes[0]))
    y = _targets("binary" if loss == "binary_cross_entropy" else "real", rng, 120, sizes[-1])
    _assert_per_sample_step_is_generic(sizes, hidden, out, loss, dtype, X, y, seeds=(5, 6))


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("sizes", [(2, 3, 1), (2, 200, 1), (2, 1)])
def test_per_sample_path_keeps_the_sign_of_a_zero_weight_as_the_generic_path(dtype, sizes):
    # The per-sample step formed a weight's gradient as 1 · (δ_j · in_p); the generic path's
    # sums (plain loops and gemm) start from +0. For an input of 0 and a negative δ that is -0
    # against +0, so a weight of -0.0 became +0.0 on one path and stayed -0.0 on the other.
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, size=(20, 2))
    X[:, 1] = 0.0  # feature 1 is always 0: its weights' gradients are ±0
    y = rng.normal(size=(20, 1))
    nets = [bpnet.Network(sizes, dtype=dtype, seed=1) for _ in range(2)]
    for net in nets:
        net.weights[0][:, 1] = -0.0
    nets[0].fit(X, y, learning_rate=0.05, epochs=1, batch_size=1, seed=2)
    nets[1].fit(X, y, learning_rate=0.05, epochs=1, batch_size=1, seed=2, sample_weight=np.ones(20))
    assert nets[0].params.tobytes() == nets[1].params.tobytes()


def _numpy_per_sample_sgd(Ws, bs, acts, loss, X, Y, lr):
    """The text's per-sample gradient descent written out in NumPy (float64)."""
    f = {"identity": (lambda z: z, lambda z, a: np.ones_like(z)),
         "sigmoid": (lambda z: 1 / (1 + np.exp(-z)), lambda z, a: a * (1 - a)),
         "tanh": (np.tanh, lambda z, a: 1 - a * a),
         "relu": (lambda z: np.maximum(z, 0), lambda z, a: (z > 0).astype(float))}
    losses = []
    for x, y in zip(X, Y):
        zs, as_ = [], [x]
        for W, b, act in zip(Ws, bs, acts):
            z = W @ as_[-1] + b
            a = np.exp(z - z.max()) / np.exp(z - z.max()).sum() if act == "softmax" else f[act][0](z)
            zs.append(z), as_.append(a)
        a = as_[-1]
        if loss == "squared_error":
            losses.append(np.sum((a - y) ** 2))
            delta = 2 * (a - y) * f[acts[-1]][1](zs[-1], a)
        else:  # cross_entropy with softmax
            losses.append(-np.sum(y * np.log(a)))
            delta = a * y.sum() - y
        for l in range(len(Ws) - 1, -1, -1):
            gW, gb = np.outer(delta, as_[l]), delta
            if l > 0:
                delta = (Ws[l].T @ delta) * f[acts[l - 1]][1](zs[l - 1], as_[l])
            Ws[l] -= lr * gW
            bs[l] -= lr * gb
    return np.mean(losses)


@pytest.mark.parametrize("sizes,hidden,out,loss", [
    ((1, 3, 1), "sigmoid", "identity", "squared_error"),
    ((3, 5, 4, 3), ["tanh", "relu"], "softmax", "cross_entropy"),
    ((6, 30, 2), "sigmoid", "identity", "squared_error"),
    ((2, 9, 1), "tanh", "identity", "squared_error"),
    ((3, 4, 2), "relu", "identity", "squared_error"),
])
def test_per_sample_path_matches_numpy(rng, sizes, hidden, out, loss):
    """Per-sample sgd against the update rules written out in NumPy, sample by sample."""
    X = rng.uniform(-1, 1, size=(60, sizes[0]))
    y = np.eye(sizes[-1])[rng.integers(0, sizes[-1], size=60)] if loss == "cross_entropy" \
        else rng.normal(size=(60, sizes[-1]))
    net = bpnet.Network(sizes, activation=hidden, output_activation=out, loss=loss, seed=1)
    Ws = [W.copy() for W in net.weights]
    bs = [b.copy() for b in net.biases]
    acts = ([hidden] * (len(sizes) - 2) if isinstance(hidden, str) else list(hidden)) + [out]
    h = net.fit(X, y, learning_rate=0.05, epochs=1, batch_size=1, shuffle=False)
    want_loss = _numpy_per_sample_sgd(Ws, bs, acts, loss, X, y, 0.05)
    for got, want in zip(net.weights + net.biases, Ws + bs):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
    assert h.loss[0] == pytest.approx(want_loss, rel=1e-10)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_thread_count_does_not_change_mid_size_batches(rng, dtype):
    """Mid-size batches are cut into row chunks that run on separate threads (gathered rows,
    sample weights and a penalty included); the cut does not depend on the thread count, so
    neither do the weights, the losses or the optimizer state."""
    X = rng.normal(size=(700, 64)).astype(dtype)
    Y = np.eye(10, dtype=dtype)[rng.integers(0, 10, size=700)]
    w = rng.uniform(0.5, 2.0, size=700).astype(dtype)
    out = []
    before = bpnet.get_num_threads()
    try:
        for nt in (1, 2):
            bpnet.set_num_threads(nt)
            net = bpnet.Network((64, 100, 10), activation="relu", output_activation="softmax",
                                loss="cross_entropy", dtype=dtype, seed=1)
            h = net.fit(X, Y, optimizer="adam", learning_rate=1e-3, epochs=3, batch_size=200,
                        seed=0, sample_weight=w, alpha=1e-3)
            g = net.backward(X[:200], Y[:200], sample_weight=w[:200], alpha=1e-3)
            out.append((net.params.tobytes(), h.loss, g.flat.tobytes(), g.loss))
    finally:
        bpnet.set_num_threads(before)
    assert out[0] == out[1]


def test_thread_count_does_not_change_the_weights(rng):
    X = rng.normal(size=(512, 300)).astype(np.float32)
    Y = np.eye(4, dtype=np.float32)[rng.integers(0, 4, size=512)]
    out = []
    for nt in (1, 2):
        net = bpnet.Network((300, 256, 4), activation="relu", output_activation="softmax",
                            loss="cross_entropy", dtype="float32", seed=1)
        net.fit(X, Y, optimizer="adam", learning_rate=1e-3, epochs=2, batch_size=128, seed=0, n_threads=nt)
        out.append(net.params.tobytes())
    assert out[0] == out[1]


def test_batches_with_zero_total_weight_are_skipped(rng):
    X, y = rng.normal(size=(40, 3)), rng.normal(size=(40, 1))
    w = np.ones(40)
    w[:10] = 0  # the first batch (no shuffle) carries no weight
    a = bpnet.Network((3, 1), seed=0)
    h = a.fit(X, y, sample_weight=w, batch_size=10, shuffle=False, epochs=3)
    assert not h.diverged and np.isfinite(h.loss).all()
    b = bpnet.Network((3, 1), seed=0)
    b.fit(X[10:], y[10:], batch_size=10, shuffle=False, epochs=3)
    np.testing.assert_allclose(a.params, b.params, rtol=1e-12)


@pytest.mark.parametrize("opt,kw", [("sgd", {}), ("sgd", {"momentum": 0.9}), ("adam", {})])
def test_step_with_backward_equals_fit(rng, opt, kw):
    """A loop of backward + step (what a data-parallel driver runs) is fit's loop."""
    X, y = rng.normal(size=(40, 3)), rng.normal(size=(40, 2))
    a = bpnet.Network((3, 5, 2), activation="tanh", seed=3)
    b = bpnet.Network((3, 5, 2), activation="tanh", seed=3)
    a.fit(X, y, optimizer=opt, learning_rate=0.01, epochs=2, batch_size=10, shuffle=False, **kw)
    for _ in range(2):
        for s in range(0, 40, 10):
            b.step(b.backward(X[s:s + 10], y[s:s + 10]).flat, optimizer=opt, learning_rate=0.01, **kw)
    assert a.params.tobytes() == b.params.tobytes()


def test_step_with_backward_equals_fit_on_chunked_batches(rng):
    """The same on mid-size batches, which forward and backward cut into row chunks."""
    X = rng.normal(size=(400, 64))
    Y = np.eye(10)[rng.integers(0, 10, size=400)]
    kw = dict(activation="relu", output_activation="softmax", loss="cross_entropy", seed=3)
    a, b = bpnet.Network((64, 100, 10), **kw), bpnet.Network((64, 100, 10), **kw)
    a.fit(X, Y, optimizer="adam", learning_rate=1e-3, epochs=2, batch_size=200, shuffle=False)
    for _ in range(2):
        for s in range(0, 400, 200):
            b.step(b.backward(X[s:s + 200], Y[s:s + 200]).flat, optimizer="adam", learning_rate=1e-3)
    assert a.params.tobytes() == b.params.tobytes()


def test_step_rejects_bad_gradients():
    net = bpnet.Network((2, 1), seed=0)
    before = net.params.copy()
    with pytest.raises(ValueError, match="gradient"):
        net.step(np.zeros(2))
    with pytest.raises(ValueError, match="gradient.*NaN"):
        net.step(np.full(3, np.nan))
    np.testing.assert_array_equal(net.params, before)


def test_gradient_equals_backward(rng):
    net = bpnet.Network((4, 6, 3), activation="relu", output_activation="softmax", loss="cross_entropy", seed=2)
    X, Y = rng.normal(size=(9, 4)), np.eye(3)[rng.integers(0, 3, 9)]
    w = rng.uniform(0.5, 2, 9)
    g = net.backward(X, Y, sample_weight=w, alpha=0.3)
    loss, flat = net.gradient(X, Y, sample_weight=w, alpha=0.3)
    assert loss == g.loss and flat.tobytes() == g.flat.tobytes()
    with pytest.raises(ValueError, match="rows"):
        net.gradient(X, Y[:5])


def test_fit_refuses_data_that_shares_memory_with_the_parameters():
    # (fit read what it was changing: the per-sample and the batch paths gave other results)
    net = bpnet.Network((1, 3, 1), seed=0)
    before = net.params.copy()
    view = net.params.reshape(-1, 1)[:6]
    y = np.ones((6, 1))
    for kwargs in ({"X": view, "y": y}, {"X": y, "y": view},
                   {"X": y, "y": y, "sample_weight": net.params[:6]},
                   {"X": y, "y": y, "validation_data": (view, y)}):
        with pytest.raises(ValueError, match="shares memory with the network's parameters"):
            net.fit(learning_rate=0.1, epochs=1, batch_size=1, **kwargs)
    np.testing.assert_array_equal(net.params, before)
    net.fit(view.copy(), y, learning_rate=0.1, epochs=1, batch_size=1)  # a copy is fine
