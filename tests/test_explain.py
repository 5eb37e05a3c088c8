"""bpnet.explain: the printed quantities are the text's, and equal an independent computation."""
import io

import numpy as np
import pytest

import bpnet


def test_explain_matches_the_equations():
    net = bpnet.Network((3, 4, 2), activation="tanh", output_activation="identity",
                        loss="squared_error", seed=0)
    x = np.array([0.5, -1.0, 2.0])
    y = np.array([0.3, -0.2])
    buf = io.StringIO()
    e = bpnet.explain(net, x, y, file=buf)
    text = buf.getvalue()

    W, b = net.weights, net.biases
    # forward: z^(l) = W^(l) a^(l-1) + b^(l), a^(l) = σ(z^(l))
    z1 = W[0] @ x + b[0]
    a1 = np.tanh(z1)
    z2 = W[1] @ a1 + b[1]
    a2 = z2
    # backward: δ^(L) = 2(a - y) ⊙ σ'(z^(L)), δ^(l) = (W^(l+1)ᵀ δ^(l+1)) ⊙ σ'(z^(l))
    d2 = 2 * (a2 - y)
    d1 = (W[1].T @ d2) * (1 - a1 ** 2)
    np.testing.assert_allclose(e.z[0], z1, rtol=1e-12)
    np.testing.assert_allclose(e.a[1], a1, rtol=1e-12)
    np.testing.assert_allclose(e.a[2], a2, rtol=1e-12)
    np.testing.assert_allclose(e.delta[1], d2, rtol=1e-12)
    np.testing.assert_allclose(e.delta[0], d1, rtol=1e-12)
    np.testing.assert_allclose(e.dW[0], np.outer(d1, x), rtol=1e-12)
    np.testing.assert_allclose(e.dW[1], np.outer(d2, a1), rtol=1e-12)
    np.testing.assert_allclose(e.db[1], d2, rtol=1e-12)
    assert e.loss == pytest.approx(np.sum((a2 - y) ** 2), rel=1e-12)
    np.testing.assert_array_equal(e.a[0], x)

    for symbol in ("a^(0)", "z^(1)", "a^(1)", "z^(2)", "a^(2)", "δ^(2)", "δ^(1)",
                   "∂C/∂W^(1)", "∂C/∂b^(1)", "∂C/∂W^(2)", "∂C/∂b^(2)", "C_x"):
        assert symbol in text, symbol


def test_explain_softmax_and_defaults(capsys):
    net = bpnet.Network((2, 3, 3), activation="relu", output_activation="softmax",
                        loss="cross_entropy", seed=1)
    e = bpnet.explain(net, [[1.0, 2.0]], [0, 0, 1])
    out = capsys.readouterr().out
    assert "softmax and cross entropy fused" in out
    np.testing.assert_allclose(e.delta[-1], e.a[-1] - [0, 0, 1], rtol=1e-12, atol=1e-15)
    assert e.loss == pytest.approx(-np.log(e.a[-1][2]))


def test_explain_scalar_target_and_no_change(capsys):
    net = bpnet.Network((1, 1), seed=0)
    before = net.params.copy()
    e = bpnet.explain(net, [2.0], 1.0)
    assert e.dW[0].shape == (1, 1)
    np.testing.assert_array_equal(net.params, before)


@pytest.mark.parametrize("x, y", [([1.0, 2.0], [0.0]), ([[1.0, 2.0, 3.0]] * 2, [0.0]), ([1.0, 2.0, 3.0], [0.0, 1.0])])
def test_explain_rejects_bad_shapes(x, y):
    net = bpnet.Network((3, 1), seed=0)
    with pytest.raises(ValueError, match="explain"):
        bpnet.explain(net, x, y, file=io.StringIO())


def test_explain_and_gradcheck_take_a_fitted_estimator():
    # explain(clf, x, label) used to fail with "'MLPClassifier' object has no attribute
    # 'layer_sizes'": the estimator's network is used, its label encoded as its fit encodes it
    import warnings

    pytest.importorskip("sklearn")
    from sklearn.exceptions import ConvergenceWarning

    rng = np.random.default_rng(0)
    X = rng.normal(size=(30, 3))
    labels = np.array(["a", "b", "c"])[rng.integers(0, 3, size=30)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf = bpnet.MLPClassifier(hidden_layer_sizes=(4,), max_iter=3, random_state=0).fit(X, labels)
    e = bpnet.explain(clf, X[0], "b", file=io.StringIO())
    np.testing.assert_array_equal(e.y, [0, 1, 0])
    g = clf._net.backward(X[:1], [[0.0, 1.0, 0.0]])
    assert e.loss == g.loss
    assert bpnet.gradcheck(clf, X[:5], labels[:5]).passed()
    with pytest.raises(ValueError, match="explain: y: .*'z'"):
        bpnet.explain(clf, X[0], "z", file=io.StringIO())
    with pytest.raises(TypeError, match="fitted bpnet.MLPClassifier.*not fitted yet"):
        bpnet.explain(bpnet.MLPClassifier(), X[0], "a", file=io.StringIO())
