"""Plots for learners: the loss per epoch, and a one-input network's fit to its data.

matplotlib is optional: it is imported on the first call, and without it each function
raises an ImportError that says how to install it. Every function draws on ``ax`` (a new
figure's axes when None) and returns the axes.
"""
from __future__ import annotations

import numpy as np

__all__ = ["loss_curve", "fit_1d"]


def _pyplot():
    try:
        import matplotlib.pyplot as plt
    except ImportError:
        raise ImportError(
            "bpnet.plotting needs matplotlib: pip install matplotlib (or pip install 'bpnet[plot]')"
        ) from None
    return plt


def _axes(ax):
    if ax is not None:
        return ax
    return _pyplot().subplots()[1]


def _losses(history) -> np.ndarray:
    for attr in ("loss_curve_", "loss"):  # an estimator, or bpnet's History
        values = getattr(history, attr, None)
        if values is not None and not callable(values):
            break
    else:
        values = history
    try:
        arr = np.asarray(values, dtype=np.float64).ravel()
    except (TypeError, ValueError):
        raise TypeError(
            "loss_curve: expected a History, an estimator with loss_curve_, or a sequence of "
            f"losses, got {type(history).__name__}"
        ) from None
    return arr


def loss_curve(history, ax=None, label=None, log: bool = True):
    """Plot the training loss per epoch.

    Parameters
    ----------
    history : History, estimator or sequence of float
        ``Network.fit``'s History (``.loss``), a fitted estimator (``.loss_curve_``), or the
        losses themselves.
    ax : matplotlib Axes, optional
    label : str, optional
        Legend label of the line.
    log : bool, default=True
        Logarithmic loss axis (losses usually fall by orders of magnitude).

    Returns
    -------
    matplotlib Axes
    """
    losses = _losses(history)
    _pyplot()
    ax = _axes(ax)
    epochs = np.arange(1, len(losses) + 1)
    ax.plot(epochs, losses, label=label)
    if log and len(losses) and np.all(losses > 0):
        ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("training loss C")
    if label is not None:
        ax.legend()
    return ax


def fit_1d(net, x, y, ax=None, n_points: int = 300, label: str = "network"):
    """Plot one-input regression: the data points and the network's curve over their range.

    Parameters
    ----------
    net : Network or estimator
        Anything with ``predict`` taking an array of shape (n, 1).
    x : array-like of shape (n_samples,) or (n_samples, 1)
    y : array-like of shape (n_samples,) or (n_samples, 1)
    ax : matplotlib Axes, optional
    n_points : int, default=300
        Points on the network's curve.
    label : str, default="network"

    Returns
    -------
    matplotlib Axes
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x.ndim == 2 and x.shape[1] == 1:
        x = x[:, 0]
    if x.ndim != 1:
        raise ValueError(f"fit_1d: x has shape {x.shape}, expected (n_samples,) or (n_samples, 1)")
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.shape != x.shape:
        raise ValueError(f"fit_1d: y has shape {y.shape}, expected {x.shape} (one value per x)")
    _pyplot()
    ax = _axes(ax)
    grid = np.linspace(x.min(), x.max(), n_points).reshape(-1, 1)
    pred = np.asarray(net.predict(grid), dtype=np.float64).reshape(n_points, -1)[:, 0]
    ax.scatter(x, y, s=10, alpha=0.6, color="tab:gray", label="data")
    ax.plot(grid[:, 0], pred, color="tab:red", label=label)
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.legend()
    return ax
