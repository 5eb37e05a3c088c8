"""Plots for learners: the loss per epoch, and a one-input network's fit to its data.

matplotlib is optional: it is imported on the first call, and without it each function
raises an ImportError that says how to install it. Every function draws on ``ax`` (a new
figure's axes when None) and returns the axes.
"""
from __future__ import annotations

import operator

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
    expected = "expected a History, an estimator with loss_curve_, or a sequence of losses"
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"loss_curve: {expected}, got {type(history).__name__}") from None
    if arr.ndim == 0:  # None (NumPy reads it as NaN) or a lone number
        raise TypeError(f"loss_curve: {expected}, got {type(history).__name__}")
    if arr.ndim > 1:
        if sum(d != 1 for d in arr.shape) > 1:
            raise ValueError(f"loss_curve: expected one loss per epoch (a 1-D sequence), got shape {arr.shape}")
        arr = arr.ravel()
    return arr


def _index(value, name: str) -> int:
    """value as a Python int (TypeError for anything that is not an integer, bools included)."""
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"fit_1d: {name}: expected an integer, got {value!r}")
    try:
        return operator.index(value)
    except TypeError:
        raise TypeError(f"fit_1d: {name}: expected an integer, got {value!r}") from None


def _numbers(a, name: str) -> np.ndarray:
    try:
        return np.asarray(a, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"fit_1d: {name}: expected an array of numbers, got {type(a).__name__}") from None


def loss_curve(history, ax=None, label=None, log: bool = True):
    """Plot the training loss per epoch.

    Parameters
    ----------
    history : History, estimator or sequence of float
        ``Network.fit``'s History (``.loss``), a fitted estimator (``.loss_curve_``), or the
        losses themselves (1-D; anything else is a TypeError, or a ValueError for a 2-D
        array of more than one row and column).
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


def fit_1d(net, x, y, ax=None, n_points: int = 300, label: str = "network", output=None):
    """Plot one-input regression: the data points and the network's curve over their range.

    Parameters
    ----------
    net : Network or estimator
        Anything with ``predict`` taking an array of shape (n, 1).
    x : array-like of shape (n_samples,) or (n_samples, 1)
        Finite values, at least one.
    y : array-like of shape (n_samples,), (n_samples, 1) or (n_samples, n_outputs)
        With ``n_outputs`` columns, column ``output`` is drawn.
    ax : matplotlib Axes, optional
    n_points : int, default=300
        Points on the network's curve (at least 2).
    label : str, default="network"
    output : int, optional
        The output drawn, in 0..n_outputs-1. Required when the network has more than one
        output (a ValueError says so); None means 0 for a one-output network.

    Returns
    -------
    matplotlib Axes
    """
    x = _numbers(x, "x")
    y = _numbers(y, "y")
    if x.ndim == 2 and x.shape[1] == 1:
        x = x[:, 0]
    if x.ndim != 1:
        raise ValueError(f"fit_1d: x has shape {x.shape}, expected (n_samples,) or (n_samples, 1)")
    if y.ndim not in (1, 2) or y.shape[0] != x.shape[0]:
        raise ValueError(f"fit_1d: y has shape {y.shape}, expected ({x.shape[0]},) or "
                         f"({x.shape[0]}, n_outputs) (one row per x)")
    if x.shape[0] == 0:
        raise ValueError("fit_1d: x and y have 0 points, expected at least 1")
    if not np.all(np.isfinite(x)):
        raise ValueError("fit_1d: x has non-finite values (NaN or inf), expected finite ones "
                         "(their range is the curve's)")
    n_points = _index(n_points, "n_points")
    if n_points < 2:
        raise ValueError(f"fit_1d: n_points: expected at least 2 points on the curve, got {n_points}")
    if output is not None:
        output = _index(output, "output")
    _pyplot()
    grid = np.linspace(x.min(), x.max(), n_points).reshape(-1, 1)
    pred = np.asarray(net.predict(grid), dtype=np.float64).reshape(n_points, -1)
    n_outputs = pred.shape[1]
    if output is None:
        if n_outputs != 1:
            raise ValueError(f"fit_1d: the network has {n_outputs} outputs; choose the one to draw "
                             f"with output=0..{n_outputs - 1}")
        output = 0
    if not 0 <= output < n_outputs:
        raise ValueError(f"fit_1d: output: expected a value in 0..{n_outputs - 1} (the network's "
                         f"outputs), got {output}")
    if y.ndim == 2:
        if y.shape[1] == n_outputs:
            y = y[:, output]
        elif y.shape[1] == 1:
            y = y[:, 0]
        else:
            expected = "1" if n_outputs == 1 else f"1 or {n_outputs} (the network's outputs)"
            raise ValueError(f"fit_1d: y has {y.shape[1]} columns, expected {expected}")
    ax = _axes(ax)
    ax.scatter(x, y, s=10, alpha=0.6, color="tab:gray", label="data")
    ax.plot(grid[:, 0], pred[:, output], color="tab:red", label=label)
    ax.set_xlabel("x")
    ax.set_ylabel("y" if n_outputs == 1 else f"y[:, {output}]")
    ax.legend()
    return ax
