"""Gradient check: backpropagation's ∂C/∂θ against central finite differences, per layer."""
from __future__ import annotations

from dataclasses import dataclass, field
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


# Activations with a kink at z = 0 (no derivative there): relu, leaky_relu.
_KINKED = ("relu", "leaky_relu")


@dataclass
class GradcheckResult:
    """Outcome of :func:`gradcheck`.

    Attributes
    ----------
    max_rel_error : list of float
        One per layer l = 1..L: max |numeric − analytic| over W_l and b_l, divided by the
        largest |gradient| entry of that layer, numeric or analytic (so entries near zero do
        not inflate it). Parameters listed in ``kinks`` are left out; a layer with nothing
        left is NaN.
    resolution : list of float
        One per layer, on the same scale: how closely the comparison can tell the two apart
        at all. The largest, over the layer, of the differences' own error |D(h) − D(2h)|
        (D(h): the difference quotient with step h), of C's rounding ε |C| / 2h (ε of the
        network's dtype), and of the change of ``backward`` when every parameter moves by two
        units in the last place (its rounding: at an exact fit a − y is a difference of equal
        numbers). Near 0 where the check means something; about 1 or more where the gradient
        is at the level of rounding — at a minimum of the loss (a trained linear
        regression), or in a layer whose gradient has all but vanished — and there a
        relative error of about 1 is no evidence against backpropagation.
    kinks : list of int
        Positions in ``params`` whose step moved some unit's z of a relu or leaky_relu layer
        across 0 even at h/100 (a parameter whose ±h step crosses is tried again with h/10 and
        h/100), where C has no derivative: the difference quotient would mix the slopes on the
        two sides (e.g. a row of zeros with zero biases). They are left out.
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
    resolution: List[float] = field(default_factory=list)
    kinks: List[int] = field(default_factory=list)

    def layer_passed(self, tol: Optional[float] = None) -> List[bool]:
        """Per layer: max_rel_error ≤ tol. Without a tol: ≤ max(default_tol, 4 × resolution),
        within the default tolerance or within what the comparison can tell apart there (a
        tol you give rules alone). A NaN (nothing compared) does not pass."""
        if tol is not None:
            return [bool(e <= tol) for e in self.max_rel_error]
        res = self.resolution or [0.0] * len(self.max_rel_error)
        return [bool(e <= max(self.default_tol, _RESOLUTION_FACTOR * r))
                for e, r in zip(self.max_rel_error, res)]

    def passed(self, tol: Optional[float] = None) -> bool:
        """Every layer passes :meth:`layer_passed` with this ``tol``."""
        return all(self.layer_passed(tol))


# The error of D(h) is about |D(h) − D(2h)| (rounding: ~1×; truncation, ∝ h²: 1/3×); the
# largest over a layer is compared with 4× the largest estimate, for the spread of maxima.
_RESOLUTION_FACTOR = 4.0


def _kink_signs(net, X, layers):
    """z > 0 of the relu / leaky_relu layers (list indices) on X."""
    z = net.forward(X).z
    return [z[l] > 0 for l in layers]


def _backward_rounding(net, X, y, sample_weight, alpha, analytic):
    """|∂C/∂θ at θ moved by two units in the last place − at θ|: how much rounding moves the
    analytic gradient (large where it is the difference of nearly equal numbers, e.g. a − y
    at an exact fit)."""
    params = net.params
    keep = params.copy()
    away = np.where(np.random.default_rng(0).integers(0, 2, size=params.size) == 1, np.inf, -np.inf)
    try:
        params[:] = np.nextafter(np.nextafter(keep, away.astype(keep.dtype)), away.astype(keep.dtype))
        moved = np.array(net.backward(X, y, sample_weight, alpha).flat, dtype=np.float64)
    finally:
        params[:] = keep
    return np.abs(moved - analytic)


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
        Finite-difference step h; 1e-6 for float64 networks and 1e-3 for float32 by default.
        Each parameter is also stepped by 2h, to estimate the differences' own error
        (``resolution``).

    Returns
    -------
    GradcheckResult

    Each parameter is perturbed in place and restored exactly (also when interrupted); the
    network is unchanged after.

    Where C has no derivative the comparison means nothing: at a relu kink (those parameters
    are found and left out, see ``GradcheckResult.kinks``), and where the cross entropies
    clip a probability to [ε, 1 − ε] inside the log (as scikit-learn does: a saturated,
    confidently wrong output), where C is flat but backpropagation's a − y is not.
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
    kinked = [l for l, name in enumerate(net.activations) if name in _KINKED]
    base = _kink_signs(net, X, kinked) if kinked else None
    params = net.params
    numeric = np.empty(params.size, dtype=np.float64)
    wide = np.empty(params.size, dtype=np.float64)  # D(2h)
    floor = np.empty(params.size, dtype=np.float64)  # C's rounding in the network's dtype, over 2h
    unit = float(np.finfo(net.dtype).eps)
    kinks, wide_kinks = [], []  # a kink within ±h (numeric unusable) / only within ±2h (wide)
    # relu networks: a parameter whose ±h step moves some z across 0 is tried again with h/10
    # and h/100 (with many rows some z lies within h of 0 for most first-layer parameters)
    steps = (eps, eps / 10, eps / 100) if base is not None else (eps,)
    retried = []  # compared with a smaller step (listed once per retry)
    for i in range(params.size):
        keep = params[i]
        kink = True
        for j, h in enumerate(steps):
            if j:
                retried.append(i)
            at, cost, crossed = {}, {}, {}
            try:
                for k in (2, -2, 1, -1):
                    params[i] = keep + k * h
                    at[k] = float(params[i])  # the step actually taken after rounding to the dtype
                    cost[k] = net.loss(X, y, sample_weight, alpha)
                    # a z that crosses 0 within ±h crosses it within ±2h: ±h is looked at only then
                    if base is not None and (abs(k) == 2 or crossed[2] or crossed[-2]):
                        crossed[k] = any((s != b).any() for s, b in zip(_kink_signs(net, X, kinked), base))
            finally:
                params[i] = keep
            if at[1] == at[-1]:  # the step is below the parameter's rounding in the network's dtype
                if j == 0:
                    raise ValueError(f"eps: {eps:g} is too small a step for parameter {i} (value "
                                     f"{float(keep):g} in {net.dtype}): keep ± eps rounds to the same value")
                break  # (a smaller step rounds away: left out as a kink)
            numeric[i] = (cost[1] - cost[-1]) / (at[1] - at[-1])
            wide[i] = (cost[2] - cost[-2]) / (at[2] - at[-2])
            floor[i] = unit * max(abs(cost[1]), abs(cost[-1])) / (at[1] - at[-1])
            kink = bool(crossed.get(1) or crossed.get(-1))
            if not kink:
                if crossed.get(2) or crossed.get(-2):
                    wide_kinks.append(i)
                break
        if kink:
            kinks.append(i)
    skip = np.zeros(params.size, dtype=bool)
    skip[kinks] = True
    uncertain = np.abs(numeric - wide)
    uncertain[wide_kinks] = 0.0  # D(2h) straddles a kink there: it says nothing of D(h)
    uncertain = np.maximum(np.maximum(uncertain, floor),
                           _backward_rounding(net, X, y, sample_weight, alpha, analytic))
    default_tol = 1e-6 if double else 1e-2
    small = np.zeros(params.size, dtype=bool)
    small[retried] = True
    errors, resolution = [], []
    for w, b in zip(*net._split(np.arange(params.size))):
        idx = np.concatenate([w.ravel(), b])
        idx = idx[~skip[idx]]
        # A smaller step's difference is noisier (in float32 much noisier): one whose own
        # error would raise the layer's tolerance above default_tol is left out as a kink
        # rather than blunt the check of the rest of the layer (unless that is all of it: the
        # layer is then compared at the resolution it has, which says so).
        if small[idx].any():
            scale = max(np.abs(numeric[idx]).max(), np.abs(analytic[idx]).max(), np.finfo(np.float64).tiny)
            noisy = small[idx] & (uncertain[idx] * _RESOLUTION_FACTOR > default_tol * scale)
            if noisy.any() and not noisy.all():
                kinks.extend(int(i) for i in idx[noisy])
                idx = idx[~noisy]
        if idx.size == 0:
            errors.append(float("nan"))
            resolution.append(float("nan"))
            continue
        scale = max(np.abs(numeric[idx]).max(), np.abs(analytic[idx]).max(), np.finfo(np.float64).tiny)
        errors.append(float(np.abs(numeric[idx] - analytic[idx]).max() / scale))
        resolution.append(float(uncertain[idx].max() / scale))
    return GradcheckResult(max_rel_error=errors, numeric=numeric, analytic=analytic, eps=eps,
                           default_tol=default_tol, resolution=resolution, kinks=sorted(kinks))
