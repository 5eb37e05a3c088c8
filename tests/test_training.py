"""Training: gradient descent reaches least squares, a hidden layer learns sin(x), and the
fit's bookkeeping (views, determinism, callbacks, divergence)."""
import pickle
import warnings

import numpy as np
import pytest

import bpnet
import reference as ref


def test_no_hidden_layer_reaches_least_squares(rng):
    X = rng.uniform(-1, 1, size=(300, 3))
    y = X @ np.array([1.5, -2.0, 0.25]) + 0.7 + rng.normal(0, 0.1, size=300)
    coef, *_ = np.linalg.lstsq(np.column_stack([X, np.ones(len(X))]), y, rcond=None)
    net = bpnet.Network((3, 1), output_activation="identity", loss="squared_error", seed=0)
    hist = net.fit(X, y, learning_rate=0.5, epochs=3000, batch_size=None)
    assert hist.epochs_run == 3000
    np.testing.assert_allclose(net.weights[0].ravel(), coef[:3], atol=1e-6)
    np.testing.assert_allclose(net.biases[0], coef[3:], atol=1e-6)


def test_hidden_layer_learns_sin():
    x = np.linspace(-3, 3, 200).reshape(-1, 1)
    y = np.sin(x)
    net = bpnet.Network((1, 8, 1), activation="sigmoid", seed=0)
    hist = net.fit(x, y, learning_rate=0.1, epochs=2000, batch_size=10, seed=0)
    assert hist.loss[-1] < hist.loss[0] / 20
    # the loss the history reports is the network's loss (recomputed in NumPy at the end)
    final = ref.loss_value("squared_error", ref.forward(net.weights, net.biases, ["sigmoid", "identity"], x)[1][-1], y)
    assert final < hist.loss[0] / 20


def test_one_full_batch_step_is_the_text_update(rng):
    """W ← W − η ∂C/∂W with ∂C/∂W from the NumPy reference."""
    net = bpnet.Network((3, 4, 2), activation="tanh", seed=4)
    X, y = rng.normal(size=(10, 3)), rng.normal(size=(10, 2))
    Ws, bs = [w.copy() for w in net.weights], [b.copy() for b in net.biases]
    _, dWs, dbs, _, _, _ = ref.backward(Ws, bs, ["tanh", "identity"], "squared_error", X, y)
    net.fit(X, y, learning_rate=0.3, epochs=1, batch_size=None, shuffle=False)
    for l in range(2):
        np.testing.assert_allclose(net.weights[l], Ws[l] - 0.3 * dWs[l], rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(net.biases[l], bs[l] - 0.3 * dbs[l], rtol=1e-12, atol=1e-14)


def test_adam_and_momentum_steps_match_numpy(rng):
    X, y = rng.normal(size=(12, 3)), rng.normal(size=(12, 1))
    for opt, kw in [("adam", {}), ("sgd", {"momentum": 0.9, "nesterovs_momentum": False}),
                    ("sgd", {"momentum": 0.9, "nesterovs_momentum": True})]:
        net = bpnet.Network((3, 5, 1), activation="relu", seed=8)
        theta = net.params.copy()
        lr = 0.01
        vel = np.zeros_like(theta)
        m = np.zeros_like(theta)
        v = np.zeros_like(theta)
        for t in range(1, 4):  # three full-batch steps
            tmp = bpnet.Network((3, 5, 1), activation="relu", seed=8)
            tmp.params[:] = theta
            g = tmp.backward(X, y).flat
            if opt == "adam":
                m = 0.9 * m + 0.1 * g
                v = 0.999 * v + 0.001 * g * g
                lr_t = lr * np.sqrt(1 - 0.999**t) / (1 - 0.9**t)
                theta = theta - lr_t * m / (np.sqrt(v) + 1e-8)
            else:
                vel = 0.9 * vel - lr * g
                theta = theta + (0.9 * vel - lr * g if kw["nesterovs_momentum"] else vel)
        net.fit(X, y, optimizer=opt, learning_rate=lr, epochs=3, batch_size=None, shuffle=False, **kw)
        np.testing.assert_allclose(net.params, theta, rtol=1e-10, atol=1e-13)


def test_views_taken_before_fit_show_trained_weights(rng):
    net = bpnet.Network((2, 3, 1), activation="tanh", seed=1)
    W0, b1, params = net.weights[0], net.biases[1], net.params
    before = W0.copy()
    net.fit(rng.normal(size=(20, 2)), rng.normal(size=20), epochs=5)
    assert not np.array_equal(W0, before)
    np.testing.assert_array_equal(W0, net.weights[0])
    np.testing.assert_array_equal(b1, net.biases[1])
    np.testing.assert_array_equal(params, net.params)


def test_same_seed_same_bits(rng):
    X, y = rng.normal(size=(50, 4)), rng.normal(size=(50, 2))
    runs = []
    for _ in range(2):
        net = bpnet.Network((4, 6, 2), activation="relu", seed=11, dtype="float32")
        h = net.fit(X, y, optimizer="adam", learning_rate=0.01, epochs=5, batch_size=7, seed=3)
        runs.append((net.params.copy(), h.loss))
    assert runs[0][0].tobytes() == runs[1][0].tobytes()
    assert runs[0][1] == runs[1][1]


def test_callback_sees_each_epoch_and_can_stop(rng):
    seen = []

    def cb(rec):
        seen.append(rec)
        return rec["epoch"] < 3

    net = bpnet.Network((2, 1), seed=0)
    h = net.fit(rng.normal(size=(10, 2)), rng.normal(size=10), epochs=10, callback=cb)
    assert [r["epoch"] for r in seen] == [1, 2, 3]
    assert h.epochs_run == 3 and h.stopped_by_callback
    assert [r["loss"] for r in seen] == h.loss


def test_callback_error_propagates(rng):
    def cb(rec):
        raise RuntimeError("boom")

    net = bpnet.Network((2, 1), seed=0)
    with pytest.raises(RuntimeError, match="boom"):
        net.fit(rng.normal(size=(10, 2)), rng.normal(size=10), epochs=10, callback=cb)


def test_divergence_stops_with_finite_weights():
    X = np.array([[1e3], [-2e3], [3e3]])
    y = np.array([1.0, 2.0, 3.0])
    net = bpnet.Network((1, 1), seed=0)
    with pytest.warns(bpnet.DivergenceWarning, match="learning_rate"):
        h = net.fit(X, y, learning_rate=10.0, epochs=50)
    assert h.diverged and h.epochs_run < 50
    assert np.isfinite(net.params).all()


def test_second_fit_continues(rng):
    X, y = rng.normal(size=(30, 2)), rng.normal(size=30)
    a = bpnet.Network((2, 3, 1), seed=2)
    a.fit(X, y, epochs=4, batch_size=None)
    b = bpnet.Network((2, 3, 1), seed=2)
    b.fit(X, y, epochs=2, batch_size=None)
    b.fit(X, y, epochs=2, batch_size=None)
    np.testing.assert_array_equal(a.params, b.params)


def test_float32_trains_in_float32(rng):
    X = rng.normal(size=(64, 3)).astype(np.float32)
    y = (X @ np.array([1.0, -1.0, 0.5], dtype=np.float32))
    net = bpnet.Network((3, 1), dtype="float32", seed=0)
    h = net.fit(X, y, learning_rate=0.2, epochs=300)
    assert net.params.dtype == np.float32 and net.predict(X).dtype == np.float32
    assert h.loss[-1] < 1e-6


def test_pickle_round_trip_owns_its_parameters(rng):
    net = bpnet.Network((3, 4, 2), activation="relu", seed=6)
    X = rng.normal(size=(5, 3))
    net.fit(X, rng.normal(size=(5, 2)), optimizer="adam", epochs=3)
    copy = pickle.loads(pickle.dumps(net))
    np.testing.assert_array_equal(copy.params, net.params)
    np.testing.assert_array_equal(copy.predict(X), net.predict(X))
    assert not np.shares_memory(copy.params, net.params)
    copy.params[:] = 0
    assert not np.all(net.params == 0)
    assert copy.layer_sizes == net.layer_sizes and copy.activations == net.activations
