"""Gradient check: backpropagation's ∂C/∂θ against central finite differences, per layer."""
from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional

import numpy as np


def _network_and_target(net, y, who: str, one_sample: bool = False):
    """(Network, target rows) for a Network, or for a fitted bpnet estimator: its network, and
    for a classifier the labels ``y`` encoded as its outputs (one-hot, or 0/1 when binary)."""
    from ._network import Network

    if isinstance(net, Network):
        return net, y
    inner = getattr(net, "_net", None)
    if not isinstance(inner, Network):
        fitted = " (this one is not fitted yet)" if hasattr(net, "_encode_y") else ""
        raise TypeError(f"{who}: expected a bpnet.Network or a fitted bpnet.MLPClassifier / "
                        f"MLPRegressor, got {type(net).__name__}{fitted}")
    if hasattr(net, "classes_"):  # labels -> the network's targets, as the estimator's fit does
        labels = np.asarray(y)
        if one_sample:  # one label, or one row of a label-indicator matrix
            labels = labels.reshape(1) if labels.size == 1 and labels.ndim <= 1 else labels.reshape(1, -1)
        try:
            y = net._encode_y(labels)
        except ValueError as exc:
            raise ValueError(f"{who}: y: {exc}") from None
    return inner, y


@dataclass
class GradcheckResult:
    """Outcome of :func:`gradcheck`.

    Attributes
    ----------
    max_rel_error : list of float
        One per layer l = 1..L: max |numeric − analytic| over W_l and b_l, divided by the
        largest |gradient| entry of that layer (so entries near zero do not inflate it).
    numeric, analytic : ndarray of shape (n_params,)
        Central differences (C(θ + h e_i) − C(θ − h e_i)) / 2h, and ``Network.backward``.
    eps : float
        The step h used.
    default_tol : float
        The tolerance ``passed()`` uses when given none: 1e-6 for a float64 network, 1e-2 for
        a float32 one (whose central differences are good to about 1e-3 relative at best).
    """

    max_rel_error: List[float]
    numeric: np.ndarray
    analytic: np.ndarray
    eps: float
    default_tol: float = 1e-6

    def passed(self, tol: Optional[float] = None) -> bool:
        """Every layer's max_rel_error is at most ``tol`` (default: ``default_tol``)."""
        return max(self.max_rel_error) <= (self.default_tol if tol is None else tol)


def gradcheck(net, X, y, sample_weight=None, alpha: float = 0.0, eps: Optional[float] = None) -> GradcheckResult:
    """Compare ``net.backward`` with central finite differences of ``net.loss``.

    Parameters
    ----------
    net : Network, or a fitted MLPClassifier / MLPRegressor (its network; a classifier's
        labels are encoded as its ``fit`` encodes them)
    X : array-like of shape (n_samples, n_0)
    y : array-like of shape (n_samples, n_L); for a classifier, its labels
    sample_weight : array-like of shape (n_samples,), optional
    alpha : float, default=0
        L2 penalty included in both.
    eps : float, optional
        Finite-difference step; 1e-6 for float64 networks and 1e-3 for float32 by default
        (float32 differences are only good to about 1e-2 relative).

    Returns
    -------
    GradcheckResult

    Each parameter is perturbed in place and restored exactly; the network is unchanged after.
    """
    net, y = _network_and_target(net, y, "gradcheck")
    double = net.dtype == np.float64
    if eps is None:
        eps = 1e-6 if double else 1e-3
    else:
        try:
            eps = float(eps)
        except (TypeError, ValueError):
            raise ValueError(f"eps: expected a finite number > 0, got {eps!r}") from None
        if not (np.isfinite(eps) and eps > 0):
            raise ValueError(f"eps: expected a finite number > 0, got {eps!r}")
    analytic = np.array(net.backward(X, y, sample_weight, alpha).flat, dtype=np.float64)
    params = net.params
    numeric = np.empty(params.size, dtype=np.float64)
    for i in range(params.size):
        keep = params[i]
        params[i] = keep + eps
        hi = float(params[i])  # the step actually taken after rounding to the dtype
        c_plus = net.loss(X, y, sample_weight, alpha)
        params[i] = keep - eps
        lo = float(params[i])
        c_minus = net.loss(X, y, sample_weight, alpha)
        params[i] = keep
        if hi == lo:  # the step is below the parameter's rounding in the network's dtype
            raise ValueError(f"eps: {eps:g} is too small a step for parameter {i} (value "
                             f"{float(keep):g} in {net.dtype}): keep ± eps rounds to the same value")
        numeric[i] = (c_plus - c_minus) / (hi - lo)
    errors = []
    for w, b in zip(*net._split(np.arange(params.size))):
        idx = np.concatenate([w.ravel(), b])
        scale = max(np.abs(numeric[idx]).max(), np.abs(analytic[idx]).max(), 1e-12)
        errors.append(float(np.abs(numeric[idx] - analytic[idx]).max() / scale))
    return GradcheckResult(max_rel_error=errors, numeric=numeric, analytic=analytic, eps=eps,
                           default_tol=1e-6 if double else 1e-2)
