"""Zero-copy views, input conversion, bad input, and thread safety of predict."""
import gc
import threading
import warnings

import numpy as np
import pytest

import bpnet
import reference as ref


@pytest.fixture
def net():
    return bpnet.Network((4, 5, 3, 2), activation=["tanh", "relu"], seed=7)


def test_every_view_shares_memory_with_params(net):
    p = net.params
    for W, b in zip(net.weights, net.biases):
        assert np.shares_memory(W, p) and np.shares_memory(b, p)
        assert W.flags.writeable and b.flags.writeable
    assert [W.shape for W in net.weights] == [(5, 4), (3, 5), (2, 3)]
    assert [b.shape for b in net.biases] == [(5,), (3,), (2,)]
    assert p.size == 5 * 4 + 5 + 3 * 5 + 3 + 2 * 3 + 2


def test_writes_through_views_change_predictions(net, rng):
    X = rng.normal(size=(3, 4))
    before = net.predict(X)
    net.biases[-1][:] += 1.0
    np.testing.assert_allclose(net.predict(X), before + 1.0)
    net.weights[0][:] = 0
    Ws, bs = [w.copy() for w in net.weights], [b.copy() for b in net.biases]
    np.testing.assert_allclose(net.predict(X), ref.forward(Ws, bs, ["tanh", "relu", "identity"], X)[1][-1], rtol=1e-12)
    net.params[:] = 0
    np.testing.assert_array_equal(net.predict(X), 0)


def test_views_keep_the_network_alive(rng):
    net = bpnet.Network((2, 3, 1), seed=1)
    W = net.weights[0]
    expected = W.copy()
    del net
    gc.collect()
    np.testing.assert_array_equal(W, expected)


def test_two_predictions_never_share_memory(net, rng):
    X = rng.normal(size=(3, 4))
    a, b = net.predict(X), net.predict(X)
    assert not np.shares_memory(a, b)
    assert not np.shares_memory(a, X) and not np.shares_memory(a, net.params)


def test_c_contiguous_input_is_read_in_place(net, rng):
    X = rng.normal(size=(6, 4))
    assert net.forward(X).a[0] is X


def test_other_layouts_and_dtypes_give_the_same_answer(net, rng):
    X = rng.integers(-3, 4, size=(8, 4)).astype(np.float64)
    expected = net.predict(X)
    fortran = np.asfortranarray(X)
    strided = np.zeros((16, 8))
    strided[::2, ::2] = X
    readonly = X.copy()
    readonly.flags.writeable = False
    unaligned = np.frombuffer(b"\0" + X.tobytes(), dtype=np.float64, offset=1).reshape(X.shape)
    for variant in [fortran, strided[::2, ::2], X.astype(np.int64), X.astype(np.int32),
                    X.astype(np.float32), readonly, X.tolist(), X.astype(">f8"), X.astype(">f4"),
                    unaligned]:
        np.testing.assert_array_equal(net.predict(variant), expected)
    y = rng.normal(size=(8, 2))
    ref_loss = net.loss(X, y)
    assert net.loss(fortran, np.asfortranarray(y)) == ref_loss


def test_float32_network_reads_every_layout_alike(rng):
    # a float32 network takes C-contiguous float32 input as it is (the binding's fast path);
    # other layouts, byte orders and dtypes are converted first: the same answer either way,
    # and the same as a forward pass in NumPy
    net = bpnet.Network((4, 5, 2), activation="tanh", output_activation="softmax",
                        loss="cross_entropy", dtype="float32", seed=3)
    X = rng.normal(size=(7, 4)).astype(np.float32)
    expected = net.predict(X)
    W1, W2 = net.weights
    b1, b2 = net.biases
    z = np.tanh(X.astype(np.float64) @ W1.T.astype(np.float64) + b1) @ W2.T.astype(np.float64) + b2
    z = np.exp(z - z.max(axis=1, keepdims=True))
    np.testing.assert_allclose(expected, z / z.sum(axis=1, keepdims=True), rtol=1e-5, atol=1e-6)
    for variant in [np.asfortranarray(X), X.astype(">f4"), np.repeat(X, 2, axis=1)[:, ::2],
                    X.astype(np.float64), X.tolist()]:
        got = net.predict(variant)
        assert got.dtype == np.float32 and got.flags.c_contiguous
        np.testing.assert_array_equal(got, expected)


def test_fit_on_fortran_and_integer_inputs_matches(rng):
    X = rng.integers(-3, 4, size=(20, 2)).astype(np.float64)
    y = rng.normal(size=20)
    results = []
    for Xv in [X, np.asfortranarray(X), X.astype(np.int64)]:
        net = bpnet.Network((2, 3, 1), seed=0)
        net.fit(Xv, y, epochs=3, batch_size=5, seed=1)
        results.append(net.params.copy())
    np.testing.assert_array_equal(results[0], results[1])
    np.testing.assert_array_equal(results[0], results[2])


BAD_CONSTRUCTION = [
    (dict(layer_sizes=(3,)), "at least 2"),
    (dict(layer_sizes=()), "at least 2"),
    (dict(layer_sizes=(3, 0, 1)), r"layer_sizes\[1\]"),
    (dict(layer_sizes=(3, -2, 1)), r"layer_sizes\[1\].*-2"),
    (dict(layer_sizes=(3, 2.5, 1)), r"layer_sizes\[1\]"),
    (dict(layer_sizes=(3, 2, 1), activation="nope"), "sigmoid.*relu"),
    (dict(layer_sizes=(3, 2, 1), activation="softmax"), "output layer only"),
    (dict(layer_sizes=(3, 2, 2, 1), activation=["relu"]), "one per hidden layer"),
    (dict(layer_sizes=(3, 2, 1), loss="hinge"), "squared_error.*cross_entropy"),
    (dict(layer_sizes=(3, 2, 1), output_activation="identity", loss="cross_entropy"), "softmax"),
    (dict(layer_sizes=(3, 2, 1), dtype="int32"), "float32"),
    (dict(layer_sizes=(3, 2, 1), dtype=np.int64), "float32"),
    (dict(layer_sizes=(3, 2, 1), seed=-1), "seed"),
    (dict(layer_sizes=(2**64, 2)), r"layer_sizes\[0\].*below 2\*\*63"),
]


@pytest.mark.parametrize("kwargs,match", BAD_CONSTRUCTION)
def test_bad_construction_raises_value_error(kwargs, match):
    with pytest.raises(ValueError, match=match):
        bpnet.Network(**kwargs)


def test_too_large_network_is_refused_cleanly():
    with pytest.raises((ValueError, MemoryError)):
        bpnet.Network((100_000, 100_000, 100_000, 1))


def _bad_fits(rng):
    X, y = rng.normal(size=(10, 4)), rng.normal(size=(10, 2))
    nanX = X.copy(); nanX[3, 2] = np.nan
    infy = y.copy(); infy[1, 1] = np.inf
    return [
        ((X[:, :3], y), {}, "3 columns, expected 4"),
        ((X[0], y), {}, "2-D"),
        ((X[None], y), {}, "2-D"),
        ((X, y[:9]), {}, "9 rows, expected 10"),
        ((X, y[:, :1]), {}, "1 columns, expected 2"),
        ((X, y[..., None]), {}, "y"),
        ((nanX, y), {}, "X.*NaN"),
        ((X, infy), {}, "y.*inf"),
        ((X[:0], y[:0]), {}, "at least 1 row"),
        ((X, y), {"learning_rate": 0}, "learning_rate"),
        ((X, y), {"learning_rate": -0.1}, "learning_rate"),
        ((X, y), {"epochs": 0}, "epochs"),
        ((X, y), {"epochs": -5}, "epochs"),
        ((X, y), {"batch_size": 0}, "batch_size"),
        ((X, y), {"batch_size": -1}, "batch_size"),
        ((X, y), {"optimizer": "rmsprop"}, "sgd, adam"),
        ((X, y), {"momentum": 1.5}, "momentum"),
        ((X, y), {"alpha": -1}, "alpha"),
        ((X, y), {"sample_weight": np.ones(9)}, "sample_weight"),
        ((X, y), {"sample_weight": -np.ones(10)}, "sample_weight"),
        ((X.astype(str), y), {}, "numeric"),
    ]


def test_every_bad_fit_raises_and_leaves_parameters_unchanged(net, rng):
    before = net.params.copy()
    for args, kwargs, match in _bad_fits(rng):
        with pytest.raises(ValueError, match=match):
            net.fit(*args, **kwargs)
        np.testing.assert_array_equal(net.params, before)


def test_bad_predict_input(net, rng):
    for X, match in [(np.zeros((2, 3)), "3 columns, expected 4"), (np.zeros(4), "2-D"),
                     (np.zeros((1, 2, 4)), "2-D"), (np.full((1, 4), np.nan), "NaN")]:
        with pytest.raises(ValueError, match=match):
            net.predict(X)


def test_concurrent_predict_equals_serial(rng):
    net = bpnet.Network((20, 64, 32, 5), activation="relu", seed=3)
    inputs = [rng.normal(size=(300 + 17 * i, 20)) for i in range(4)]
    expected = [net.predict(X) for X in inputs]
    results = [None] * 4

    def work(i):
        for _ in range(20):
            out = net.predict(inputs[i])
            if results[i] is None:
                results[i] = out
            elif not np.array_equal(out, results[i]):
                results[i] = "mismatch"

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for r, e in zip(results, expected):
        np.testing.assert_array_equal(r, e)


def test_loss_backward_gradient_score_reject_bad_values(net, rng):
    X, y = rng.normal(size=(5, 4)), rng.normal(size=(5, 2))
    bad_y = y.copy()
    bad_y[0, 0] = np.nan
    for call in (net.loss, net.backward, net.gradient, lambda X, y, **kw: net.score(X, y, "r2", **kw)):
        with pytest.raises(ValueError, match="at least 1 row"):
            call(X[:0], y[:0])
        with pytest.raises(ValueError, match="y.*NaN"):
            call(X, bad_y)
        with pytest.raises(ValueError, match="sample_weight"):
            call(X, y, sample_weight=-np.ones(5))
        with pytest.raises(ValueError, match="sample_weight"):
            call(X, y, sample_weight=np.zeros(5))
    with pytest.raises(ValueError, match="alpha"):
        net.loss(X, y, alpha=-1)
    for metric, match in ((None, "^metric: expected one of"), ("f1", "^metric: unknown name 'f1'")):
        with pytest.raises(ValueError, match=match):
            net.score(X, y, metric)


def test_float64_input_beyond_float32s_range_is_named(rng):
    # a finite float64 value too large for a float32 network becomes inf on conversion: every
    # call names it, with no NumPy overflow warning first (pytest turns warnings into errors,
    # and pybind's forcecast made a TypeError "incompatible function arguments" of that)
    net = bpnet.Network((4, 3, 2), dtype="float32", seed=0)
    X = rng.normal(size=(5, 4))
    Y = rng.normal(size=(5, 2))
    X[2, 1] = 1e39
    before = net.params.copy()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ValueError, match=r"X: .*inf at flat index 9 \(a float32 network"):
            net.predict(X)
        for call in (net.forward, lambda X: net.loss(X, Y), lambda X: net.backward(X, Y),
                     lambda X: net.gradient(X, Y), lambda X: net.fit(X, Y, epochs=1)):
            with pytest.raises(ValueError, match=r"inf .*\(a float32 network"):
                call(X)
        X[2, 1] = 0.0
        Y[1, 0] = -1e39
        for call in (lambda: net.loss(X, Y), lambda: net.backward(X, Y), lambda: net.fit(X, Y, epochs=1)):
            with pytest.raises(ValueError, match=r"y: .*inf .*\(a float32 network"):
                call()
        Y[1, 0] = 0.0
        w = np.ones(5)
        w[3] = 1e39
        with pytest.raises(ValueError, match=r"sample_weight"):
            net.fit(X, Y, epochs=1, sample_weight=w)
    np.testing.assert_array_equal(net.params, before)


def test_metadata_that_is_not_unicode_text_is_refused(tmp_path):
    net = bpnet.Network((2, 1), seed=0)
    for md in ({"k": "\udc80"}, {"\ud800": "v"}):
        net.metadata = md
        with pytest.raises(ValueError, match="metadata: the (key|value) .* not valid Unicode"):
            net.save(tmp_path / "m.bpnet")
        with pytest.raises(ValueError, match="not valid Unicode"):
            net.to_bytes()
    assert not (tmp_path / "m.bpnet").exists()


def test_softmax_needs_two_outputs():
    with pytest.raises(ValueError, match="softmax"):
        bpnet.Network((2, 1), output_activation="softmax")
    with pytest.raises(ValueError, match="activation"):
        bpnet.Network((2, 3, 1), activation=5)


def test_backward_trace_holds_the_converted_input(net, rng):
    X = rng.integers(-2, 3, size=(4, 4))
    g = net.backward(X, rng.normal(size=(4, 2)))
    assert g.trace.a[0].dtype == np.float64
    np.testing.assert_array_equal(g.trace.a[0], X)
