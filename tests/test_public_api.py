"""The public API contract of DESIGN.md section 3 ("Public API (a contract)"), pinned name by name.

Code outside the project relies on these names. Every expectation below is written from
DESIGN.md's text as it stands (the lines are quoted in the comments), not from the code, so
that a change on either side fails here: a renamed parameter, a new default, a name that
moves or disappears. When the contract changes on purpose, DESIGN.md and this file change
together.
"""
from __future__ import annotations

import importlib.metadata
import inspect
import os
import pydoc
import re
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

import bpnet

ROOT = Path(__file__).resolve().parent.parent
P = inspect.Parameter
REQUIRED = P.empty  # "no default" in the tables below
ANY = object()  # a default exists, but DESIGN.md does not say which ("epochs=...")


# ---------------------------------------------------------------------------- the table
# (owner, method, [(parameter, default), ...], more_allowed)
# more_allowed: DESIGN.md writes "..." (further keywords may follow, each with a default) or
# shows only the call a user makes (further optional parameters may follow); False where it
# gives the whole signature.
SIGNATURES = [
    #     net = bpnet.Network(layer_sizes, activation="sigmoid", output_activation="identity",
    #                         loss="squared_error", dtype="float64", seed=None)
    ("Network", "__init__", [("layer_sizes", REQUIRED), ("activation", "sigmoid"),
                             ("output_activation", "identity"), ("loss", "squared_error"),
                             ("dtype", "float64"), ("seed", None)], False),
    #     net.predict(X) -> (n, n_L) array
    ("Network", "predict", [("X", REQUIRED)], True),
    #     net.forward(X) -> Trace with .z (list of L arrays) and .a (list of L+1, a[0] is X)
    ("Network", "forward", [("X", REQUIRED)], True),
    #     net.loss(X, y) -> float
    ("Network", "loss", [("X", REQUIRED), ("y", REQUIRED)], True),
    #     net.backward(X, y) -> Gradients with .weights, .biases (lists, shapes as above),
    ("Network", "backward", [("X", REQUIRED), ("y", REQUIRED)], True),
    #     net.fit(X, y, optimizer="sgd", learning_rate=0.1, epochs=..., batch_size=...,
    #             shuffle=True, seed=None, callback=None, ...) -> History (loss per epoch)
    ("Network", "fit", [("X", REQUIRED), ("y", REQUIRED), ("optimizer", "sgd"),
                        ("learning_rate", 0.1), ("epochs", ANY), ("batch_size", ANY),
                        ("shuffle", True), ("seed", None), ("callback", None)], True),
    #     net.save(path); bpnet.load(path) -> Network
    ("Network", "save", [("path", REQUIRED)], True),
    ("bpnet", "load", [("path", REQUIRED)], True),
    #     bpnet.gradcheck(net, X, y) -> result with .max_rel_error (list of floats, one per layer)
    ("bpnet", "gradcheck", [("net", REQUIRED), ("X", REQUIRED), ("y", REQUIRED)], True),
]

#         # optimizer "sgd" (plain gradient descent unless momentum > 0, as in the text) or
#         # "adam"; their hyper-parameters as keywords with scikit-learn's names: momentum,
#         # nesterovs_momentum, beta_1, beta_2, epsilon, alpha (L2); a second fit continues
#         # from the current weights
FIT_KEYWORDS = ["momentum", "nesterovs_momentum", "beta_1", "beta_2", "epsilon", "alpha"]

#     bpnet.__version__
#     net = bpnet.Network(...)
#     net.save(path); bpnet.load(path) -> Network
#     bpnet.gradcheck(net, X, y) -> ...
#     bpnet.MLPRegressor(...), bpnet.MLPClassifier(...)
DOCUMENTED_NAMES = ["__version__", "Network", "load", "gradcheck"]
ESTIMATORS = ["MLPRegressor", "MLPClassifier"]

#     net.layer_sizes, net.activations, net.loss_name, net.dtype
#     net.weights / net.biases / net.params
NETWORK_ATTRIBUTES = ["layer_sizes", "activations", "loss_name", "dtype", "weights", "biases",
                      "params"]
NETWORK_METHODS = ["predict", "forward", "loss", "backward", "fit", "save"]


def _owner(name):
    return bpnet if name == "bpnet" else getattr(bpnet, name)


def _signature(owner, method):
    obj = getattr(_owner(owner), method)
    params = list(inspect.signature(obj).parameters.values())
    if owner != "bpnet":  # a method: drop self
        assert params[0].name == "self"
        params = params[1:]
    return params


@pytest.mark.parametrize("owner, method, expected, more_allowed", SIGNATURES,
                         ids=[f"{o}.{m}" for o, m, _, _ in SIGNATURES])
def test_signature(owner, method, expected, more_allowed):
    params = _signature(owner, method)
    got = [p.name for p in params[: len(expected)]]
    assert got == [name for name, _ in expected], f"{owner}.{method}: parameters {got}"
    for p, (name, default) in zip(params, expected):
        # positional or keyword, as written: "bpnet.Network(layer_sizes, activation=...)"
        assert p.kind == P.POSITIONAL_OR_KEYWORD, f"{owner}.{method}: {name} is {p.kind}"
        if default is REQUIRED:
            assert p.default is P.empty, f"{owner}.{method}: {name} has a default {p.default!r}"
        elif default is ANY:
            assert p.default is not P.empty, f"{owner}.{method}: {name} has no default"
        else:
            assert p.default == default and type(p.default) is type(default), (
                f"{owner}.{method}: {name}={p.default!r}, DESIGN.md says {default!r}")
    rest = params[len(expected):]
    if not more_allowed:
        assert not rest, f"{owner}.{method}: undocumented parameters {[p.name for p in rest]}"
    for p in rest:  # the documented call must still work: everything further is optional
        assert p.default is not P.empty or p.kind in (P.VAR_POSITIONAL, P.VAR_KEYWORD), (
            f"{owner}.{method}: {p.name} is required but DESIGN.md's call does not pass it")


def test_fit_hyperparameter_keywords():
    params = {p.name: p for p in _signature("Network", "fit")}
    for name in FIT_KEYWORDS:
        assert name in params, f"Network.fit has no keyword {name!r}"
        assert params[name].kind in (P.POSITIONAL_OR_KEYWORD, P.KEYWORD_ONLY)
        assert params[name].default is not P.empty
    # "plain gradient descent unless momentum > 0": plain by default
    assert params["momentum"].default == 0


# ---------------------------------------------------------------------------- names
def test_documented_names_importable_and_exported():
    for name in DOCUMENTED_NAMES:
        assert hasattr(bpnet, name), f"bpnet.{name} is missing"
        assert name in bpnet.__all__, f"bpnet.__all__ lacks the documented {name!r}"
    # (the estimators are in __all__ where scikit-learn is installed; see the no-sklearn test)
    assert len(set(bpnet.__all__)) == len(bpnet.__all__)
    assert set(ESTIMATORS) <= set(dir(bpnet))


def test_version():
    #     bpnet.__version__
    assert isinstance(bpnet.__version__, str)
    assert bpnet.__version__ == importlib.metadata.version("bpnet")
    assert re.fullmatch(r"\d+\.\d+\.\d+\S*", bpnet.__version__)


def test_every_export_has_a_docstring():
    # STYLE.md: "Python docstrings in numpydoc"; nothing exported without a docstring
    for name in bpnet.__all__:
        if name == "__version__":
            continue
        obj = getattr(bpnet, name)
        doc = inspect.getdoc(obj)
        assert doc and doc.strip(), f"bpnet.{name} has no docstring"
        # help() shows it
        assert doc.splitlines()[0] in pydoc.render_doc(obj, renderer=pydoc.plaintext)


def test_every_public_network_member_has_a_docstring():
    members = [n for n in vars(bpnet.Network) if not n.startswith("_")]
    assert set(NETWORK_ATTRIBUTES + NETWORK_METHODS) <= set(members)
    page = pydoc.render_doc(bpnet.Network, renderer=pydoc.plaintext)
    for name in members:
        doc = inspect.getdoc(getattr(bpnet.Network, name))
        assert doc and doc.strip(), f"Network.{name} has no docstring"
        assert doc.splitlines()[0] in page, f"help(Network) does not show Network.{name}'s docstring"
    for name in NETWORK_ATTRIBUTES:  # documented as attributes: read-only properties here
        assert isinstance(vars(bpnet.Network)[name], property), name


def test_no_sklearn_import_works_and_estimators_explain(tmp_path):
    # "Python, numpy only (`import bpnet`)";
    # "scikit-learn compatible (needs the `sklearn` extra; clear ImportError otherwise)"
    code = (
        "import sys; sys.modules['sklearn'] = None\n"
        "import bpnet\n"
        "from bpnet import *\n"
        "assert 'MLPRegressor' not in bpnet.__all__, bpnet.__all__\n"
        "for name in ('MLPRegressor', 'MLPClassifier'):\n"
        "    try:\n"
        "        getattr(bpnet, name)\n"
        "    except ImportError as exc:\n"
        "        assert \"pip install 'bpnet[sklearn]'\" in str(exc), exc\n"
        "    else:\n"
        "        raise AssertionError(name + ' without scikit-learn')\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr


# ---------------------------------------------------------------------------- behaviour
@pytest.fixture
def fitted():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(7, 3))
    Y = rng.normal(size=(7, 2))
    # "activation: one name or one per hidden layer"; "sigmoid (alias logistic)"
    net = bpnet.Network((3, 4, 5, 2), activation=["logistic", "tanh"], seed=0)
    net.fit(X, Y, epochs=2, batch_size=7, seed=0)
    return net, X, Y


def test_attributes_after_fit(fitted):
    net, X, Y = fitted
    L = 3
    assert tuple(net.layer_sizes) == (3, 4, 5, 2)
    assert list(net.activations)[:2] == ["sigmoid", "tanh"] and len(net.activations) == L
    assert net.loss_name == "squared_error"
    assert net.dtype == np.float64
    #     net.params   -> 1-D writable view of all parameters
    params = net.params
    assert isinstance(params, np.ndarray) and params.ndim == 1 and params.flags.writeable
    assert params.dtype == np.float64
    #     net.weights  -> list of L arrays, shape (n_l, n_{l-1}): writable views into net.params
    #     net.biases   -> list of L arrays, shape (n_l,): views into net.params
    assert isinstance(net.weights, list) and isinstance(net.biases, list)
    assert [w.shape for w in net.weights] == [(4, 3), (5, 4), (2, 5)]
    assert [b.shape for b in net.biases] == [(4,), (5,), (2,)]
    for a in net.weights + net.biases:
        assert np.shares_memory(a, params) and a.flags.writeable
    w = net.weights[1]
    w[2, 3] = 7.5
    b = net.biases[2]
    b[1] = -2.5
    assert net.weights[1][2, 3] == 7.5 and net.biases[2][1] == -2.5
    assert 7.5 in net.params and -2.5 in net.params


def test_predict_forward_loss_backward(fitted):
    net, X, Y = fitted
    n, L = len(X), 3
    sizes = (3, 4, 5, 2)
    #     net.predict(X) -> (n, n_L) array
    p = net.predict(X)
    assert isinstance(p, np.ndarray) and p.shape == (n, 2)
    #     net.forward(X) -> Trace with .z (list of L arrays) and .a (list of L+1, a[0] is X)
    t = net.forward(X)
    assert type(t).__name__ == "Trace"
    assert len(t.z) == L and len(t.a) == L + 1
    assert np.array_equal(t.a[0], X) and np.shares_memory(t.a[0], X)
    assert [z.shape for z in t.z] == [(n, s) for s in sizes[1:]]
    assert [a.shape for a in t.a] == [(n, s) for s in sizes]
    np.testing.assert_array_equal(t.a[-1], p)
    #     net.loss(X, y) -> float
    c = net.loss(X, Y)
    assert isinstance(c, float)
    #     net.backward(X, y) -> Gradients with .weights, .biases (lists, shapes as above),
    #                           .deltas (list of L arrays δ_l, shape (n, n_l)), .flat, .loss
    g = net.backward(X, Y)
    assert type(g).__name__ == "Gradients"
    assert isinstance(g.weights, list) and isinstance(g.biases, list)
    assert [w.shape for w in g.weights] == [w.shape for w in net.weights]
    assert [b.shape for b in g.biases] == [b.shape for b in net.biases]
    assert isinstance(g.deltas, list) and [d.shape for d in g.deltas] == [(n, s) for s in sizes[1:]]
    assert g.flat.shape == net.params.shape
    assert g.loss == pytest.approx(c, rel=1e-12)


def test_fit_history_plain_gradient_descent_and_continuation(fitted):
    net, X, Y = fitted
    #     -> History (loss per epoch)
    h = net.fit(X, Y, epochs=3, batch_size=len(X), learning_rate=0.05, seed=1)
    assert type(h).__name__ == "History" and len(h.loss) == 3
    assert all(isinstance(v, float) for v in h.loss)
    # "sgd" is plain gradient descent W ← W − η ∂C/∂W (momentum 0 by default), and "a second
    # fit continues from the current weights": one full-batch epoch is exactly one such step
    before = net.params.copy()
    grad = net.backward(X, Y).flat
    net.fit(X, Y, optimizer="sgd", learning_rate=0.05, epochs=1, batch_size=len(X), shuffle=False)
    np.testing.assert_allclose(net.params, before - 0.05 * grad, rtol=1e-10, atol=1e-14)
    # the optimizers' hyper-parameters as keywords with scikit-learn's names
    net.fit(X, Y, optimizer="sgd", epochs=1, momentum=0.9, nesterovs_momentum=False, alpha=1e-3)
    net.fit(X, Y, optimizer="adam", learning_rate=1e-3, epochs=1, beta_1=0.8, beta_2=0.99,
            epsilon=1e-7, alpha=1e-3)
    assert np.isfinite(net.params).all()


def test_save_load_gradcheck(fitted, tmp_path):
    net, X, Y = fitted
    #     net.save(path); bpnet.load(path) -> Network
    path = tmp_path / "model.bpnet"
    net.save(path)
    net.save(str(path))
    assert os.listdir(tmp_path) == ["model.bpnet"]  # written atomically: nothing left beside it
    back = bpnet.load(path)
    assert isinstance(back, bpnet.Network)
    assert back.layer_sizes == net.layer_sizes and back.activations == net.activations
    assert back.loss_name == net.loss_name and back.dtype == net.dtype
    np.testing.assert_array_equal(back.params, net.params)
    #     bpnet.gradcheck(net, X, y) -> result with .max_rel_error (list of floats, one per layer)
    small = bpnet.Network((3, 2, 2), activation="tanh", seed=1)
    r = bpnet.gradcheck(small, X, Y)
    assert isinstance(r.max_rel_error, list) and len(r.max_rel_error) == 2
    assert all(isinstance(e, float) for e in r.max_rel_error)
    assert max(r.max_rel_error) < 1e-5


def test_model_file_is_checked_on_load(fitted, tmp_path):
    # "Model files: one versioned, documented binary format (docs/), written atomically,
    #  checked on load (magic, version, sizes, checksum), readable by the C++ library and Python."
    net, _, _ = fitted
    assert (ROOT / "docs" / "model-format.md").is_file() or not (ROOT / "docs").is_dir()
    good = tmp_path / "good.bpnet"
    net.save(good)
    data = good.read_bytes()
    bad = tmp_path / "bad.bpnet"
    cases = {
        "magic": b"X" + data[1:],
        "version": data[:8] + (99).to_bytes(4, "little") + data[12:],
        "sizes": data[: len(data) // 2],
        "checksum": data[:-20] + bytes([data[-20] ^ 0xFF]) + data[-19:],
    }
    for what, content in cases.items():
        bad.write_bytes(content)
        with pytest.raises(ValueError):
            bpnet.load(bad)
    with pytest.raises(FileNotFoundError):
        bpnet.load(tmp_path / "missing.bpnet")


def test_invalid_arguments_are_value_errors(fitted):
    # DESIGN.md section 2: "The binding maps invalid arguments to ValueError."
    # "softmax (output only)"
    net, X, Y = fitted
    for kwargs in ({"activation": "softmax"}, {"activation": "no_such"}, {"loss": "no_such"},
                   {"dtype": "int8"}):
        with pytest.raises(ValueError):
            bpnet.Network((3, 4, 2), **kwargs)
    with pytest.raises(ValueError):
        net.predict(np.zeros((2, 4)))
    with pytest.raises(ValueError):
        net.fit(X, Y, optimizer="no_such", epochs=1)
    # the documented activation names are all accepted
    for name in ("identity", "sigmoid", "logistic", "tanh", "relu", "leaky_relu"):
        bpnet.Network((3, 4, 2), activation=name, seed=0)
    bpnet.Network((3, 4, 2), output_activation="softmax", loss="cross_entropy", seed=0)
    assert bpnet.Network((2, 1), dtype="float32").params.dtype == np.float32


# ---------------------------------------------------------------------------- estimators
#     bpnet.MLPRegressor(...), bpnet.MLPClassifier(...)
#         # the same constructor parameters, defaults, fitted attributes and methods as
#         # sklearn.neural_network's MLPRegressor/MLPClassifier, plus n_threads (and dtype
#         # handling: float32 input is trained in float32)
#
# Beyond DESIGN.md's list, and documented in README.md ("Beyond scikit-learn: `n_threads`, ...
# and `class_weight`"): bpnet.MLPClassifier also takes class_weight, which scikit-learn's
# MLPClassifier (1.9) does not have. Any other extra parameter is undocumented drift.
README_EXTRA = {"MLPClassifier": {"class_weight"}}


@pytest.mark.parametrize("name", ESTIMATORS)
def test_estimator_constructor_matches_sklearn(name):
    sk = pytest.importorskip("sklearn.neural_network")
    ours = list(inspect.signature(getattr(bpnet, name)).parameters.values())
    theirs = list(inspect.signature(getattr(sk, name)).parameters.values())
    by_name = {p.name: p for p in ours}
    for p in theirs:
        assert p.name in by_name, f"bpnet.{name} lacks scikit-learn's parameter {p.name!r}"
        q = by_name[p.name]
        assert q.kind == p.kind and q.default == p.default, (
            f"bpnet.{name}: {q} where scikit-learn has {p}")
    sk_names = [p.name for p in theirs]
    assert [p.name for p in ours if p.name in sk_names] == sk_names  # the same order
    assert "n_threads" in by_name and by_name["n_threads"].default is None
    extra = set(by_name) - set(sk_names) - {"n_threads"}
    assert extra == README_EXTRA.get(name, set()), (
        f"bpnet.{name} has parameters neither DESIGN.md nor README.md documents: {extra}")


@pytest.mark.parametrize("name", ESTIMATORS)
def test_estimator_fitted_attributes_and_methods(name):
    sk = pytest.importorskip("sklearn.neural_network")
    rng = np.random.default_rng(0)
    X = rng.normal(size=(20, 3))
    y = (X[:, 0] > 0).astype(int) if name == "MLPClassifier" else X[:, 1].copy()
    kw = dict(hidden_layer_sizes=(3,), max_iter=2, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning after 2 iterations
        ref = getattr(sk, name)(**kw).fit(X, y)
        ours = getattr(bpnet, name)(**kw).fit(X, y)
        ours32 = getattr(bpnet, name)(**kw).fit(X.astype(np.float32), y)
    fitted_attrs = [a for a in vars(ref) if a.endswith("_") and not a.startswith("_")]
    for a in fitted_attrs:
        assert hasattr(ours, a), f"fitted bpnet.{name} lacks {a}"
        r, o = getattr(ref, a), getattr(ours, a)
        if isinstance(r, list) and r and isinstance(r[0], np.ndarray):
            assert [x.shape for x in o] == [x.shape for x in r], a
        elif isinstance(r, np.ndarray):
            assert np.shape(o) == r.shape, a
    for m in dir(getattr(sk, name)):
        if not m.startswith("_") and callable(getattr(getattr(sk, name), m)):
            assert callable(getattr(ours, m, None)), f"bpnet.{name} lacks the method {m}"
    # "float32 input is trained in float32"
    assert all(c.dtype == np.float32 for c in ours32.coefs_)
    assert all(c.dtype == np.float64 for c in ours.coefs_)


# ---------------------------------------------------------------------------- C++
# "C++ (`find_package(bpnet)`, target `bpnet::bpnet`, header `<bpnet/bpnet.hpp>`): the same
#  concepts as the Python Network — construct from layer sizes and activations, fit, predict,
#  forward/backward, save/load — in float and double."
CPP = ROOT / "cpp" / "include" / "bpnet"


@pytest.mark.skipif(not CPP.is_dir(), reason="needs the source tree")
def test_cpp_headers_and_package():
    umbrella = (CPP / "bpnet.hpp").read_text()
    headers = {h: (CPP / h).read_text() for h in re.findall(r'#include "bpnet/([\w.]+)"', umbrella)}
    assert "network.hpp" in headers
    text = "\n".join(headers.values())
    assert re.search(r"template\s*<class T>\s*class Network\b", text)
    assert re.search(r"extern template class Network<float>;", text)
    assert re.search(r"extern template class Network<double>;", text)
    assert re.search(r"Network\(std::vector<std::size_t> layer_sizes,\s*std::vector<Activation>", text)
    for method in ("fit", "predict", "forward", "backward", "save", "load"):
        assert re.search(rf"\b{method}\(", headers["network.hpp"]), f"Network<T>::{method}"
    cmake = (ROOT / "CMakeLists.txt").read_text()
    assert re.search(r"add_library\(bpnet::bpnet ALIAS bpnet\)", cmake)
    assert (ROOT / "cmake" / "bpnetConfig.cmake.in").is_file()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="ELF dynamic symbols (Linux)")
def test_the_extension_module_exports_only_its_init_function():
    # (it exported bpnet's C++ API and standard-library instantiations, 219 symbols)
    import shutil

    from bpnet import _core

    nm = shutil.which("nm")
    if nm is None:
        pytest.skip("nm (binutils) is not installed")
    out = subprocess.run([nm, "-D", "--defined-only", _core.__file__], capture_output=True,
                         text=True, check=True).stdout
    names = sorted(line.split()[-1] for line in out.splitlines() if line.strip())
    assert names == ["PyInit__core"], names[:10]
