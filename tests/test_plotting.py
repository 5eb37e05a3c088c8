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
