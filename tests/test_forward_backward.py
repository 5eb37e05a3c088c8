"""Forward and backward of the C++ core against the NumPy reference of DESIGN.md §1, and
against central finite differences of the loss."""
import numpy as np
import pytest

import bpnet
import reference as ref

HIDDEN = ["identity", "sigmoid", "tanh", "relu", "leaky_relu"]
# (output activation, loss) pairs the library accepts
PAIRS = [(o, "squared_error") for o in ["identity", "sigmoid", "tanh", "relu", "leaky_relu", "softmax", "exp"]]
PAIRS += [("identity", "half_squared_error"), ("softmax", "half_squared_error"), ("tanh", "half_squared_error")]
PAIRS += [("sigmoid", "binary_cross_entropy"), ("softmax", "cross_entropy"), ("exp", "poisson")]
TOL = {"float64": 1e-9, "float32": 1e-4}


def make_data(rng, sizes, out_act, loss, n=7):
    X = rng.normal(size=(n, sizes[0]))
    m = sizes[-1]
    if loss == "cross_entropy":
        y = np.eye(m)[rng.integers(0, m, size=n)]
    elif loss == "binary_cross_entropy":
        y = rng.integers(0, 2, size=(n, m)).astype(float)
    elif loss == "poisson":
        y = rng.poisson(2.0, size=(n, m)).astype(float)
    else:
        y = rng.normal(size=(n, m))
    return X, y


def close(actual, expected, tol):
    actual = np.asarray(actual, dtype=np.float64)
    scale = max(np.abs(expected).max(), 1e-30)
    assert actual.shape == expected.shape
    assert np.abs(actual - expected).max() <= tol * scale, np.abs(actual - expected).max() / scale


def set_nonzero_biases(net, seed, dtype):
    """Random biases, so that a bias left out or added twice shows."""
    rng_b = np.random.default_rng(seed)
    for b in net.biases:
        b[...] = rng_b.normal(size=b.shape).astype(dtype)


def check_forward(net, X, zs, As, tol):
    """forward's z and a of every layer (kept apart) and predict's output (σ applied in
    place) against the reference's."""
    trace = net.forward(X)
    for l in range(len(zs)):
        close(trace.z[l], zs[l], tol)
        close(trace.a[l + 1], As[l + 1], tol)
    close(net.predict(X), As[-1], tol)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
# depth 1 has no hidden layer, so its hidden activation is unused: one case of it suffices
@pytest.mark.parametrize("depth,hidden", [(1, "sigmoid")] + [(d, h) for d in (2, 3, 4) for h in HIDDEN])
@pytest.mark.parametrize("out_act,loss", PAIRS)
def test_forward_backward_match_numpy(rng, dtype, depth, hidden, out_act, loss):
    m = 3 if out_act == "softmax" else 2
    sizes = [4] + [5, 3, 6][: depth - 1] + [m]
    net = bpnet.Network(sizes, activation=hidden, output_activation=out_act, loss=loss, dtype=dtype, seed=3)
    X, y = make_data(rng, sizes, out_act, loss)
    X, y = X.astype(dtype), y.astype(dtype)
    Ws = [w.astype(np.float64) for w in net.weights]
    bs = [b.astype(np.float64) for b in net.biases]
    acts = [hidden] * (depth - 1) + [out_act]
    C, dWs, dbs, deltas, zs, As = ref.backward(Ws, bs, acts, loss, X.astype(np.float64), y.astype(np.float64))
    tol = TOL[dtype]

    trace = net.forward(X)
    assert len(trace.z) == depth and len(trace.a) == depth + 1
    assert trace.a[0] is X or np.array_equal(trace.a[0], X)
    for l in range(depth):
        close(trace.z[l], zs[l], tol)
        close(trace.a[l + 1], As[l + 1], tol)
    close(net.predict(X), As[-1], tol)

    g = net.backward(X, y)
    assert g.loss == pytest.approx(C, rel=tol)
    assert net.loss(X, y) == pytest.approx(C, rel=tol)
    for l in range(depth):
        close(g.weights[l], dWs[l], tol)
        close(g.biases[l], dbs[l], tol)
        close(g.deltas[l], deltas[l], tol)
        assert g.deltas[l].dtype == np.dtype(dtype)


@pytest.mark.parametrize("alpha", [0.0, 0.7])
def test_penalty_and_sample_weight_match_numpy(rng, alpha):
    sizes = [3, 4, 2]
    net = bpnet.Network(sizes, activation="tanh", loss="half_squared_error", seed=1)
    X, y = rng.normal(size=(6, 3)), rng.normal(size=(6, 2))
    w = rng.uniform(0.5, 2.0, size=6)
    C, dWs, dbs, deltas, _, _ = ref.backward(net.weights, net.biases, ["tanh", "identity"], "half_squared_error", X, y, w, alpha)
    g = net.backward(X, y, sample_weight=w, alpha=alpha)
    assert g.loss == pytest.approx(C, rel=1e-12)
    for l in range(2):
        close(g.weights[l], dWs[l], 1e-10)
        close(g.biases[l], dbs[l], 1e-10)
        close(g.deltas[l], deltas[l], 1e-10)  # w_i δ_i, as documented
    unweighted = net.backward(X, y, alpha=alpha)
    for l in range(2):
        close(g.deltas[l], w[:, None] * unweighted.deltas[l], 1e-10)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("n", [64, 200, 333])
def test_mid_size_batches_cut_in_row_chunks_match_numpy(rng, dtype, n):
    """A mid-size batch (digits-shaped: 64-100-10) is cut into row chunks whose gradients are
    summed (Network::row_chunks); with sample weights and a penalty it is still the gradient
    of the NumPy reference, and the Δ rows land where they belong."""
    sizes = [64, 100, 10]
    net = bpnet.Network(sizes, activation="relu", output_activation="softmax", loss="cross_entropy",
                        dtype=dtype, seed=4)
    X = rng.normal(size=(n, 64)).astype(dtype)
    y = np.eye(10)[rng.integers(0, 10, size=n)].astype(dtype)
    w = rng.uniform(0.2, 3.0, size=n).astype(dtype)
    Ws = [v.astype(np.float64) for v in net.weights]
    bs = [v.astype(np.float64) for v in net.biases]
    C, dWs, dbs, deltas, zs, As = ref.backward(Ws, bs, ["relu", "softmax"], "cross_entropy",
                                               X.astype(np.float64), y.astype(np.float64),
                                               w.astype(np.float64), 0.3)
    tol = TOL[dtype]
    trace = net.forward(X)
    for l in range(2):
        close(trace.z[l], zs[l], tol)
    g = net.backward(X, y, sample_weight=w, alpha=0.3)
    assert g.loss == pytest.approx(C, rel=tol)
    for l in range(2):
        close(g.weights[l], dWs[l], tol)
        close(g.biases[l], dbs[l], tol)
        close(g.deltas[l], deltas[l], tol)


def test_deep_network_on_a_chunked_batch_matches_numpy(rng):
    """More layers than backward keeps per-chunk pointers for on the stack (16), on a batch
    cut into row chunks."""
    sizes = [16] + [16] * 18 + [3]
    net = bpnet.Network(sizes, activation="tanh", loss="half_squared_error", seed=5)
    X, y = rng.normal(size=(200, 16)), rng.normal(size=(200, 3))
    C, dWs, dbs, deltas, _, _ = ref.backward(net.weights, net.biases, ["tanh"] * 18 + ["identity"],
                                             "half_squared_error", X, y)
    g = net.backward(X, y)
    assert g.loss == pytest.approx(C, rel=1e-12)
    for l in range(len(sizes) - 1):
        close(g.weights[l], dWs[l], 1e-9)
        close(g.biases[l], dbs[l], 1e-9)
        close(g.deltas[l], deltas[l], 1e-9)


def numeric_gradient(net, X, y, h=1e-6):
    """Central differences on the flat parameter vector, written here independently."""
    p = net.params
    out = np.empty(p.size)
    for i in range(p.size):
        keep = p[i]
        p[i] = keep + h
        cp = net.loss(X, y)
        p[i] = keep - h
        cm = net.loss(X, y)
        p[i] = keep
        out[i] = (cp - cm) / (2 * h)
    return out


@pytest.mark.parametrize("hidden", HIDDEN)
@pytest.mark.parametrize("out_act,loss", PAIRS)
def test_backward_matches_finite_differences(rng, hidden, out_act, loss):
    m = 3 if out_act == "softmax" else 2
    net = bpnet.Network([3, 4, 3, m], activation=hidden, output_activation=out_act, loss=loss, seed=5)
    X, y = make_data(rng, [3, 4, 3, m], out_act, loss, n=5)
    before = net.params.copy()
    analytic = net.backward(X, y).flat
    numeric = numeric_gradient(net, X, y)
    np.testing.assert_array_equal(net.params, before)
    assert np.abs(analytic - numeric).max() <= 1e-6 * max(np.abs(numeric).max(), 1e-8)


def test_gradcheck_reports_every_layer(rng):
    net = bpnet.Network([3, 5, 4, 2], activation=["tanh", "sigmoid"], output_activation="softmax",
                        loss="cross_entropy", seed=2)
    X = rng.normal(size=(8, 3))
    y = np.eye(2)[rng.integers(0, 2, size=8)]
    before = net.params.copy()
    res = bpnet.gradcheck(net, X, y)
    assert len(res.max_rel_error) == 3
    assert max(res.max_rel_error) < 1e-6
    assert res.passed()
    np.testing.assert_array_equal(net.params, before)
    # the numeric gradient is an independent computation: it matches our own central
    # differences of the loss, entry by entry
    np.testing.assert_allclose(res.numeric, numeric_gradient(net, X, y), rtol=1e-6, atol=1e-9)


def test_gradcheck_float32(rng):
    net = bpnet.Network([3, 4, 1], activation="tanh", dtype="float32", seed=2)
    X, y = rng.normal(size=(8, 3)), rng.normal(size=(8, 1))
    res = bpnet.gradcheck(net, X, y)
    assert max(res.max_rel_error) < 5e-2


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("m", [3, 10, 150])
def test_cross_entropy_soft_targets_and_many_classes_match_numpy(rng, dtype, m):
    """Softmax + cross entropy with soft targets (several nonzero entries per row, some rows
    with none) and with more than 64 classes (the loss works through a row's targets in blocks
    of 64, softmax through rows in groups of 64): loss, δ and gradient against NumPy."""
    n = 130
    sizes = [6, 9, m]
    net = bpnet.Network(sizes, activation="tanh", output_activation="softmax", loss="cross_entropy",
                        dtype=dtype, seed=5)
    X = rng.normal(size=(n, 6))
    y = rng.uniform(size=(n, m)) * (rng.uniform(size=(n, m)) < 0.3)
    y[::7] = 0  # rows without a target
    y[1::7] = np.eye(m)[rng.integers(0, m, size=len(y[1::7]))]  # one-hot rows
    X, y = X.astype(dtype), y.astype(dtype)
    Ws = [v.astype(np.float64) for v in net.weights]
    bs = [v.astype(np.float64) for v in net.biases]
    C, dWs, dbs, deltas, zs, As = ref.backward(Ws, bs, ["tanh", "softmax"], "cross_entropy",
                                               X.astype(np.float64), y.astype(np.float64))
    tol = TOL[dtype]
    close(net.predict(X), As[-1], tol)
    g = net.backward(X, y)
    assert g.loss == pytest.approx(C, rel=tol)
    assert net.loss(X, y) == pytest.approx(C, rel=tol)
    for l in range(2):
        close(g.weights[l], dWs[l], tol)
        close(g.biases[l], dbs[l], tol)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("out_act,loss", [("softmax", "cross_entropy"), ("identity", "squared_error")])
def test_wide_inputs_bias_added_after_several_k_slices(rng, dtype, out_act, loss):
    """A 900-input layer is summed over several KC slices of the product before the bias and
    the activation are applied to each finished block (and, for softmax, to whole rows after
    it): Z, A and the gradient against NumPy, on one row and on a batch."""
    sizes = [900, 40, 7]
    net = bpnet.Network(sizes, activation="relu", output_activation=out_act, loss=loss,
                        dtype=dtype, seed=6)
    set_nonzero_biases(net, 11, dtype)
    for n in (1, 150):
        X = rng.normal(size=(n, 900)).astype(dtype)
        y = np.eye(7)[rng.integers(0, 7, size=n)].astype(dtype)
        Ws = [v.astype(np.float64) for v in net.weights]
        bs = [v.astype(np.float64) for v in net.biases]
        C, dWs, dbs, deltas, zs, As = ref.backward(Ws, bs, ["relu", out_act], loss,
                                                   X.astype(np.float64), y.astype(np.float64))
        tol = TOL[dtype] * (30 if dtype == "float32" else 1)
        check_forward(net, X, zs, As, tol)
        g = net.backward(X, y)
        for l in range(2):
            close(g.weights[l], dWs[l], tol)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("hidden", HIDDEN)
@pytest.mark.parametrize("out_act,loss", [p for p in PAIRS if p[1] != "half_squared_error"])
def test_gemm_sized_layers_bias_and_activation_match_numpy(rng, dtype, hidden, out_act, loss):
    """Layers large enough for the kernels' fused epilogue (the bias and σ applied to each
    finished block of Z in one pass; softmax after the product): Z and A kept apart by
    forward, A alone by predict (which applies σ in place), against NumPy, with nonzero biases."""
    sizes = [70, 50, 40, 3 if out_act == "softmax" else 2]
    net = bpnet.Network(sizes, activation=hidden, output_activation=out_act, loss=loss,
                        dtype=dtype, seed=4)
    set_nonzero_biases(net, 12, dtype)
    X = rng.normal(size=(64, 70)).astype(dtype)
    Ws = [v.astype(np.float64) for v in net.weights]
    bs = [v.astype(np.float64) for v in net.biases]
    y = np.zeros((64, sizes[-1]))
    acts = [hidden, hidden, out_act]
    _, _, _, _, zs, As = ref.backward(Ws, bs, acts, "squared_error", X.astype(np.float64), y)
    tol = TOL[dtype] * (10 if dtype == "float32" else 1)
    check_forward(net, X, zs, As, tol)


@pytest.mark.parametrize("out_act, loss", [("identity", "squared_error"), ("softmax", "squared_error"),
                                           ("sigmoid", "binary_cross_entropy"), ("exp", "poisson")])
def test_gradcheck_passes_a_correct_float32_network_by_default(rng, out_act, loss):
    # float32 central differences are good to ~1e-3 relative: passed() with no tolerance must
    # accept a correct float32 backward (it used float64's 1e-6, which no float32 net meets)
    sizes = [3, 4, 2]
    net = bpnet.Network(sizes, activation="sigmoid", output_activation=out_act, loss=loss,
                        dtype="float32", seed=1)
    X, y = make_data(rng, sizes, out_act, loss, n=8)
    res = bpnet.gradcheck(net, X, y)
    assert res.default_tol == 1e-2 and res.passed()
    assert not res.passed(1e-9)  # an explicit tolerance still rules
    assert bpnet.gradcheck(bpnet.Network(sizes, seed=1), X, y).default_tol == 1e-6


def test_gradcheck_rejects_a_step_that_is_no_step(rng):
    net = bpnet.Network([3, 2], seed=0)
    X, y = rng.normal(size=(4, 3)), rng.normal(size=(4, 2))
    for eps in (0, -1e-6, float("nan"), "a"):
        with pytest.raises(ValueError, match="eps: expected a finite number > 0"):
            bpnet.gradcheck(net, X, y, eps=eps)
    before = net.params.copy()
    with pytest.raises(ValueError, match="too small a step for parameter 0"):
        bpnet.gradcheck(net, X, y, eps=1e-300)  # keep ± 1e-300 == keep: not a division by zero
    assert net.params.tobytes() == before.tobytes()
