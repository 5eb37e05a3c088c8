"""bpnet.plotting: lazy matplotlib, the plots it draws, and the message without matplotlib."""
import sys

import numpy as np
import pytest

import bpnet


def test_without_matplotlib(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match="pip install matplotlib"):
        bpnet.plotting.loss_curve([1.0, 0.5])


def test_plots():
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x = np.linspace(-1, 1, 50)
    net = bpnet.Network((1, 4, 1), seed=0)
    history = net.fit(x.reshape(-1, 1), x ** 2, epochs=20, learning_rate=0.1)
    ax = bpnet.plotting.loss_curve(history)
    np.testing.assert_allclose(ax.lines[0].get_ydata(), history.loss)
    assert ax.get_yscale() == "log"

    class Estimator:
        loss_curve_ = [3.0, 2.0, 1.0]

    ax = bpnet.plotting.loss_curve(Estimator(), label="est", log=False)
    assert list(ax.lines[0].get_ydata()) == [3.0, 2.0, 1.0]
    ax = bpnet.plotting.fit_1d(net, x, x ** 2)
    np.testing.assert_allclose(ax.lines[0].get_ydata(),
                               net.predict(ax.lines[0].get_xdata().reshape(-1, 1))[:, 0])
    with pytest.raises(ValueError, match="fit_1d"):
        bpnet.plotting.fit_1d(net, np.zeros((5, 2)), np.zeros(5))
    plt.close("all")


def test_loss_curve_refuses_what_is_not_a_sequence_of_losses():
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    for bad in (None, "abc", 3.0, {"a": 1}):  # None used to draw one NaN point
        with pytest.raises(TypeError, match="loss_curve: expected a History"):
            bpnet.plotting.loss_curve(bad)
    with pytest.raises(ValueError, match="one loss per epoch"):
        bpnet.plotting.loss_curve([[1.0, 2.0], [3.0, 4.0]])
    ax = bpnet.plotting.loss_curve(np.array([[3.0], [2.0]]))  # a column is one loss per epoch
    assert list(ax.lines[0].get_ydata()) == [3.0, 2.0]
    plt.close("all")


def test_fit_1d_errors_and_output():
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x = np.linspace(-1, 1, 10)
    net = bpnet.Network((1, 3, 1), seed=0)
    cases = [
        (dict(x=x, y=x, n_points=0), ValueError, "n_points: expected at least 2"),
        (dict(x=x, y=x, n_points=1.5), TypeError, "n_points: expected an integer"),
        (dict(x=[], y=[]), ValueError, "x and y have 0 points"),
        (dict(x=[np.nan, 1.0], y=[1.0, 2.0]), ValueError, "x has non-finite values"),
        (dict(x=x, y=x[:3]), ValueError, r"y has shape \(3,\), expected \(10,\)"),
        (dict(x=x, y=np.c_[x, x]), ValueError, "y has 2 columns, expected 1"),
        (dict(x=["a"], y=[1.0]), TypeError, "x: expected an array of numbers"),
        (dict(x=x, y=x, output=1), ValueError, r"output: expected a value in 0\.\.0"),
    ]
    for kwargs, exc, match in cases:
        with pytest.raises(exc, match="fit_1d: " + match):
            bpnet.plotting.fit_1d(net, **kwargs)

    two = bpnet.Network((1, 3, 2), seed=0)  # used to plot output 0 without a word
    with pytest.raises(ValueError, match="2 outputs; choose the one to draw with output=0..1"):
        bpnet.plotting.fit_1d(two, x, x)
    with pytest.raises(TypeError, match="output: expected an integer"):
        bpnet.plotting.fit_1d(two, x, x, output="1")
    ax = bpnet.plotting.fit_1d(two, x, np.c_[x, -x], output=1, n_points=7)
    grid = ax.lines[0].get_xdata()
    assert len(grid) == 7
    np.testing.assert_allclose(ax.lines[0].get_ydata(), two.predict(grid.reshape(-1, 1))[:, 1])
    np.testing.assert_array_equal(ax.collections[0].get_offsets()[:, 1], -x)  # y's column 1
    plt.close("all")
