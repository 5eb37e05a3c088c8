"""The learner-facing features as a student and a teacher use them: explain, gradcheck, the
docs' statements. Every expectation is computed here in NumPy from the equations (or from
central differences written here), never taken from bpnet's own output."""
import io
import os
import re

import numpy as np
import pytest

import bpnet

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir)


def sigma(name, z):
    return {"identity": lambda z: z, "sigmoid": lambda z: 1 / (1 + np.exp(-z)), "tanh": np.tanh,
            "relu": lambda z: np.maximum(z, 0),
            "softmax": lambda z: np.exp(z - z.max()) / np.exp(z - z.max()).sum()}[name](z)


def one_sample(net, x):
    """z^(l), a^(l) of one sample, written out as the text writes them."""
    a, zs, As = np.asarray(x, float), [], [np.asarray(x, float)]
    for W, b, name in zip(net.weights, net.biases, net.activations):
        zs.append(W @ a + b)
        a = sigma(name, zs[-1])
        As.append(a)
    return zs, As


def backward_line(text):
    [line] = [l for l in text.splitlines() if l.startswith("Backward pass:")]
    return line


def flat_index(net, which, l):
    """Positions in ``params`` of W^(l) or b^(l) (which = "weights" / "biases")."""
    marked = net.copy()
    marked.params[:] = np.arange(net.n_params)
    return set(getattr(marked, which)[l - 1].ravel().astype(int).tolist())


# ------------------------------------------------------------------------------ explain
def test_explain_softmax_with_squared_error_prints_the_jacobian_form():
    # explain printed "δ^(2) = 2 (a^(2) - y) ⊙ σ'(z^(2))" for a softmax output, beside
    # numbers that are the softmax Jacobian's product, which that formula does not give
    net = bpnet.Network((2, 3, 3), activation="tanh", output_activation="softmax",
                        loss="squared_error", seed=0)
    x, y = np.array([1.0, 2.0]), np.array([0.0, 1.0, 0.0])
    out = io.StringIO()
    e = bpnet.explain(net, x, y, file=out)
    zs, As = one_sample(net, x)
    a = As[-1]
    g = 2 * (a - y)                                              # ∇_a C_x
    J = np.diag(a) - np.outer(a, a)                              # ∂a_i/∂z_j of softmax
    np.testing.assert_allclose(e.delta[-1], J.T @ g, rtol=1e-12)
    elementwise = g * a * (1 - a)                                # what "⊙ σ'(z)" reads as
    assert np.abs(elementwise - J.T @ g).max() > 1e-3
    line = backward_line(out.getvalue())
    assert "⊙ σ'(z^(2))" not in line, line
    assert "diag(a^(2)) - a^(2) a^(2)ᵀ" in line, line
    np.testing.assert_allclose(a * (g - a @ g), J.T @ g, rtol=1e-12)  # the form printed

    half = bpnet.Network((2, 3), output_activation="softmax", loss="half_squared_error", seed=0)
    out = io.StringIO()
    e = bpnet.explain(half, x, y, file=out)
    a = one_sample(half, x)[1][-1]
    g = (a - y) / 3
    np.testing.assert_allclose(e.delta[-1], (np.diag(a) - np.outer(a, a)) @ g, rtol=1e-12)
    assert "⊙ σ'" not in backward_line(out.getvalue())


def test_explain_cross_entropy_label_holds_for_targets_that_do_not_sum_to_one():
    # "δ^(L) = a^(L) - y" was printed for any target; the core computes (Σ_j y_j) a - y,
    # the true ∂C_x/∂z, which is a - y only when the row sums to 1
    net = bpnet.Network((2, 3), output_activation="softmax", loss="cross_entropy", seed=0)
    x, y = np.array([1.0, 2.0]), np.array([0.5, 0.2, 0.1])
    out = io.StringIO()
    e = bpnet.explain(net, x, y, file=out)
    a = one_sample(net, x)[1][-1]
    grad_a = -y / a                                              # ∇_a of -Σ y log a
    truth = (np.diag(a) - np.outer(a, a)) @ grad_a
    np.testing.assert_allclose(e.delta[-1], truth, rtol=1e-12)
    np.testing.assert_allclose(truth, y.sum() * a - y, rtol=1e-12)
    assert np.abs(truth - (a - y)).max() > 0.1
    line = backward_line(out.getvalue())
    assert "(Σ_j y_j) a^(1) - y" in line, line


def test_explain_names_the_argument_it_cannot_read():
    net = bpnet.Network((3, 2), seed=0)
    with pytest.raises(ValueError, match=r"^explain: x: could not convert"):
        bpnet.explain(net, ["a", 1, 2], [0, 1], file=io.StringIO())
    with pytest.raises(ValueError, match=r"^explain: y: could not convert"):
        bpnet.explain(net, [0, 1, 2], ["b", 1], file=io.StringIO())


# ------------------------------------------------------------------------------ docs
def read(page):
    with open(os.path.join(ROOT, page), encoding="utf-8") as f:
        return f.read()


def test_backprop_md_states_the_cross_entropy_delta_for_any_target():
    text = read("docs/backprop.md")
    paragraph = text[text.index("With softmax and cross entropy"):]
    paragraph = paragraph[:paragraph.index("```")]
    assert "(Σ_j y_j) a^(L) − y" in paragraph, paragraph


def test_backprop_md_states_the_softmax_output_delta():
    # δ^(L) = ∇_a C ⊙ σ'(z^(L)) does not hold for a softmax output (σ' is a Jacobian there);
    # the page must say what the code computes for softmax with squared errors
    text = read("docs/backprop.md")
    section = text[text.index("## 4."):text.index("## 5.")]
    assert "diag(a) − a aᵀ" in section


# ------------------------------------------------------------------------------ gradcheck
def central(net, X, y, h=1e-6):
    """∂C/∂θ by central differences, on a copy (the network is not touched)."""
    c = net.copy()
    out = np.empty(c.n_params)
    for i in range(c.n_params):
        keep = c.params[i]
        c.params[i] = keep + h
        up = c.loss(X, y)
        c.params[i] = keep - h
        down = c.loss(X, y)
        c.params[i] = keep
        out[i] = (up - down) / (2 * h)
    return out


def text_linear_regression(dtype="float64", noise=0.1):
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, size=(200, 2))
    y = 3 * X[:, 0] - 2 * X[:, 1] + 1 + rng.normal(0, noise, size=200) * (noise > 0)
    net = bpnet.Network((2, 1), output_activation="identity", loss="squared_error", dtype=dtype, seed=0)
    net.fit(X, y, learning_rate=0.5, epochs=2000)
    return net, X, y


@pytest.mark.parametrize("dtype, noise", [("float64", 0.1), ("float64", 0.0), ("float32", 0.1)])
def test_gradcheck_passes_the_linear_regression_at_its_minimum(dtype, noise):
    # The text's first network, trained to the least-squares solution, then checked: the
    # gradient is rounding noise there, and gradcheck reported a relative error of about 1
    # (FAIL) for a backward that is right
    net, X, y = text_linear_regression(dtype, noise)
    A = np.column_stack([X, np.ones(len(X))])
    coef = np.linalg.lstsq(A, y, rcond=None)[0]
    theta = np.concatenate([net.weights[0].ravel(), net.biases[0]])
    assert np.abs(theta - coef).max() < (1e-9 if dtype == "float64" else 1e-5)  # at the minimum
    exact = 2 * A.T @ (A @ theta - y) / len(y)                    # ∂C/∂θ there: ~0
    assert np.abs(exact).max() < (1e-12 if dtype == "float64" else 1e-5)
    res = bpnet.gradcheck(net, X, y)
    assert res.passed()
    assert res.resolution[0] > 1e-2  # and it says why: finite differences resolve nothing here


def test_gradcheck_passes_a_correct_deep_sigmoid_network():
    # vanishing gradients: layer 1's gradients are 1e-4 of the last layer's, where central
    # differences have a relative error above 1e-6 of their own; gradcheck failed it
    rng = np.random.default_rng(0)
    net = bpnet.Network([4] + [8] * 5 + [1], activation="sigmoid", seed=0)
    X, y = rng.normal(size=(10, 4)), rng.normal(size=10)
    res = bpnet.gradcheck(net, X, y)
    mine = central(net, X, y)
    ours = bpnet.Network.backward(net, X, y).flat
    first = sorted(flat_index(net, "weights", 1) | flat_index(net, "biases", 1))
    assert np.abs(ours[first]).max() < 1e-3 * np.abs(ours).max()  # a vanishing gradient
    np.testing.assert_allclose(res.numeric, mine, rtol=0, atol=1e-9)
    assert res.passed(), (res.max_rel_error, res.resolution)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("factor", [1.01, 2.0, -1.0])
def test_gradcheck_catches_a_wrong_gradient_in_the_layer_it_is_in(monkeypatch, dtype, factor):
    rng = np.random.default_rng(1)
    sizes = [3, 6, 6, 6, 2]
    net = bpnet.Network(sizes, activation="sigmoid", dtype=dtype, seed=2)
    X, y = rng.normal(size=(8, 3)), rng.normal(size=(8, 2))
    right = bpnet.Network.backward
    for l in range(1, len(sizes)):
        if dtype == "float32" and factor == 1.01:
            continue  # a 1% error is below what float32 differences resolve
        where = sorted(flat_index(net, "weights", l))
        exact = right(net, X, y).flat
        i = where[int(np.argmax(np.abs(exact[where])))]  # the layer's largest entry

        def wrong(self, *args, **kwargs):
            g = right(self, *args, **kwargs)
            g.flat[i] *= factor
            return g

        monkeypatch.setattr(bpnet.Network, "backward", wrong)
        res = bpnet.gradcheck(net, X, y)
        monkeypatch.setattr(bpnet.Network, "backward", right)
        assert not res.passed(), (l, res.max_rel_error)
        worst = int(np.argmax(res.max_rel_error))
        assert worst == l - 1, (l, res.max_rel_error)
        layer = sorted(set(where) | flat_index(net, "biases", l))
        # measured against the layer's largest entry, numeric or (wrong) analytic
        scale = max(np.abs(exact[layer]).max(), abs(factor * exact[i]))
        expected = abs(factor - 1) * abs(exact[i]) / scale
        assert res.max_rel_error[l - 1] == pytest.approx(expected, rel=0.2 if dtype == "float32" else 1e-3)


def test_gradcheck_leaves_out_the_parameters_whose_step_crosses_a_relu_kink():
    # XOR inputs, hidden biases set to zero: the (0, 0) row has z^(1) = b^(1) = 0 exactly, so
    # every step of a b^(1) entry moves a relu unit across its kink, where C has no
    # derivative; central differences there give half the one-sided slope, and gradcheck
    # failed a right backward
    X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    y = np.array([[0.0], [1.0], [1.0], [0.0]])
    net = bpnet.Network((2, 4, 1), activation="relu", seed=0)
    net.biases[0][:] = 0
    net.biases[1][:] = 0.5
    z1 = X @ net.weights[0].T
    assert (z1[0] == 0).all() and (np.abs(z1[1:]) > 1e-3).all()
    mine = central(net, X, y)
    analytic = bpnet.Network.backward(net, X, y).flat
    kinked = flat_index(net, "biases", 1)
    off = [i for i in range(net.n_params) if abs(mine[i] - analytic[i]) > 1e-6 * np.abs(analytic).max()]
    assert off and set(off) <= kinked  # only kinked entries differ: the kink, not backprop
    res = bpnet.gradcheck(net, X, y)
    assert set(res.kinks) == kinked
    assert res.passed(), res.max_rel_error
    assert max(res.max_rel_error) < 1e-6


def test_gradcheck_compares_a_relu_layer_with_many_rows_at_a_smaller_step(monkeypatch):
    # With 3000 rows some z^(1) lies within h of 0 for every first-layer parameter: all were
    # left out as kinks, the layer reported NaN and a right float32 backward failed. Retried
    # at h/10 and h/100 they are compared, at the coarser resolution the smaller step has;
    # a wrong gradient there is still caught.
    rng = np.random.default_rng(0)
    X = rng.normal(size=(3000, 8)).astype(np.float32)
    y = rng.normal(size=3000).astype(np.float32)
    net = bpnet.Network((8, 16, 16, 1), activation="relu", dtype=np.float32, seed=0)
    res = bpnet.gradcheck(net, X, y)
    assert not np.isnan(res.max_rel_error).any(), res.max_rel_error
    assert res.passed(), (res.max_rel_error, res.resolution)
    assert res.resolution[0] < 0.2  # what is compared is compared to better than 20%

    first = net.weights[0].size + net.biases[0].size
    keep = np.setdiff1d(np.arange(first), res.kinks)
    net64 = bpnet.Network((8, 16, 16, 1), activation="relu", seed=0)
    net64.params[:] = net.params
    mine = central(net64, X.astype(np.float64), y.astype(np.float64))  # float64 reference
    scale = np.abs(mine[keep]).max()
    assert np.abs(res.numeric[keep] - mine[keep]).max() <= 4 * res.resolution[0] * scale

    backward = bpnet.Network.backward

    def wrong(self, *args, **kwargs):  # layer 1's ∂C/∂W doubled
        g = backward(self, *args, **kwargs)
        g.weights[0][...] *= 2.0
        return g

    monkeypatch.setattr(bpnet.Network, "backward", wrong)
    assert bpnet.gradcheck(net, X, y).layer_passed() == [False, True, True]


def test_gradcheck_restores_the_parameter_when_interrupted(monkeypatch):
    rng = np.random.default_rng(2)
    net = bpnet.Network((3, 4, 2), activation="tanh", seed=0)
    X, y = rng.normal(size=(5, 3)), rng.normal(size=(5, 2))
    before = net.params.copy()
    calls = {"n": 0}
    loss = bpnet.Network.loss

    def interrupted(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 6:
            raise KeyboardInterrupt
        return loss(self, *args, **kwargs)

    monkeypatch.setattr(bpnet.Network, "loss", interrupted)
    with pytest.raises(KeyboardInterrupt):
        bpnet.gradcheck(net, X, y)
    assert net.params.tobytes() == before.tobytes()


def test_cli_gradcheck_passes_a_model_at_its_minimum_and_says_why(tmp_path, capsys):
    # `bpnet gradcheck` on the text's linear regression, saved at its least-squares minimum,
    # exited 1 ("some layer differs") for a right backward
    from bpnet.__main__ import main

    net, X, y = text_linear_regression()
    net.save(tmp_path / "lr.bpnet")
    with open(tmp_path / "lr.csv", "w") as f:
        f.write("x1,x2,y\n")
        for (a, b), t in zip(X, y):
            f.write(f"{float(a)!r},{float(b)!r},{float(t)!r}\n")
    rc = main(["gradcheck", str(tmp_path / "lr.bpnet"), str(tmp_path / "lr.csv"),
               "--target", "y", "--rows", "200"])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "finite differences resolve this layer only to" in out and "CHECK" not in out
