"""Gradient check: backpropagation's ∂C/∂θ against central finite differences, per layer."""
from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional

import numpy as np


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
    """

    max_rel_error: List[float]
    numeric: np.ndarray
    analytic: np.ndarray
    eps: float

    def passed(self, tol: float = 1e-6) -> bool:
        return max(self.max_rel_error) <= tol


def gradcheck(net, X, y, sample_weight=None, alpha: float = 0.0, eps: Optional[float] = None) -> GradcheckResult:
    """Compare ``net.backward`` with central finite differences of ``net.loss``.

    Parameters
    ----------
    net : Network
    X : array-like of shape (n_samples, n_0)
    y : array-like of shape (n_samples, n_L)
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
    if eps is None:
        eps = 1e-6 if net.dtype == np.float64 else 1e-3
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
        numeric[i] = (c_plus - c_minus) / (hi - lo)
    errors = []
    for w, b in zip(*net._split(np.arange(params.size))):
        idx = np.concatenate([w.ravel(), b])
        scale = max(np.abs(numeric[idx]).max(), np.abs(analytic[idx]).max(), 1e-12)
        errors.append(float(np.abs(numeric[idx] - analytic[idx]).max() / scale))
    return GradcheckResult(max_rel_error=errors, numeric=numeric, analytic=analytic, eps=eps)
