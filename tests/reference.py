"""An independent NumPy implementation of DESIGN.md §1, the oracle for bpnet's C++ core.

Written from the equations, not from the C++ code:
    z_l = a_{l-1} W_lᵀ + b_l,  a_l = σ_l(z_l)
    δ_L = ∇_a C ⊙ σ'_L(z_L)   (fused a − y for the cross entropies and poisson)
    δ_l = (δ_{l+1} W_{l+1}) ⊙ σ'_l(z_l)
    ∂C/∂W_l = (1/n) δ_lᵀ a_{l-1},  ∂C/∂b_l = (1/n) Σ_rows δ_l
"""
import numpy as np

SLOPE = 0.01


def act(name, z):
    if name == "identity":
        return z.copy()
    if name in ("sigmoid", "logistic"):
        return 1.0 / (1.0 + np.exp(-z))
    if name == "tanh":
        return np.tanh(z)
    if name == "relu":
        return np.maximum(z, 0)
    if name == "leaky_relu":
        return np.where(z > 0, z, SLOPE * z)
    if name == "exp":
        return np.exp(z)
    if name == "softmax":
        e = np.exp(z - z.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)
    raise KeyError(name)


def dact(name, z):
    """σ'(z) element-wise (not for softmax)."""
    if name == "identity":
        return np.ones_like(z)
    if name in ("sigmoid", "logistic"):
        s = 1.0 / (1.0 + np.exp(-z))
        return s * (1 - s)
    if name == "tanh":
        return 1 - np.tanh(z) ** 2
    if name == "relu":
        return (z > 0).astype(z.dtype)
    if name == "leaky_relu":
        return np.where(z > 0, 1.0, SLOPE)
    if name == "exp":
        return np.exp(z)
    raise KeyError(name)


def forward(Ws, bs, acts, X):
    zs, As = [], [X]
    for W, b, name in zip(Ws, bs, acts):
        z = As[-1] @ W.T + b
        zs.append(z)
        As.append(act(name, z))
    return zs, As


def loss_value(loss, a, y, w=None, Ws=(), alpha=0.0):
    n, m = a.shape
    if loss == "squared_error":
        per = ((a - y) ** 2).sum(axis=1)
    elif loss == "half_squared_error":
        per = ((a - y) ** 2).sum(axis=1) / (2 * m)
    elif loss == "binary_cross_entropy":
        per = -(y * np.log(a) + (1 - y) * np.log(1 - a)).sum(axis=1)
    elif loss == "cross_entropy":
        per = -(y * np.log(a)).sum(axis=1)
    elif loss == "poisson":
        per = (a - y * np.log(a)).sum(axis=1)
    else:
        raise KeyError(loss)
    w = np.ones(n) if w is None else np.asarray(w, dtype=float)
    c = (w * per).sum() / w.sum()
    return c + alpha / (2 * w.sum()) * sum((W**2).sum() for W in Ws)


def backward(Ws, bs, acts, loss, X, y, w=None, alpha=0.0):
    zs, As = forward(Ws, bs, acts, X)
    n, m = As[-1].shape
    w = np.ones(n) if w is None else np.asarray(w, dtype=float)
    aL, zL = As[-1], zs[-1]
    if loss in ("squared_error", "half_squared_error"):
        grad_a = 2 * (aL - y) if loss == "squared_error" else (aL - y) / m
        if acts[-1] == "softmax":
            delta = aL * (grad_a - (aL * grad_a).sum(axis=1, keepdims=True))
        else:
            delta = grad_a * dact(acts[-1], zL)
    elif loss == "cross_entropy":
        # softmax's Jacobian applied to ∇_a C = −y / a (not the shortcut a − y, which holds
        # only for rows of y that sum to 1)
        grad_a = -y / aL
        delta = aL * (grad_a - (aL * grad_a).sum(axis=1, keepdims=True))
    else:  # sigmoid + binary cross entropy, exp + poisson: ∂C/∂z = a − y for any y
        delta = aL - y
    delta = delta * w[:, None]
    deltas = [None] * len(Ws)
    dWs, dbs = [None] * len(Ws), [None] * len(Ws)
    for l in reversed(range(len(Ws))):
        deltas[l] = delta
        dWs[l] = delta.T @ As[l] / w.sum() + alpha / w.sum() * Ws[l]
        dbs[l] = delta.sum(axis=0) / w.sum()
        if l > 0:
            delta = (delta @ Ws[l]) * dact(acts[l - 1], zs[l - 1])
    return loss_value(loss, aL, y, w, Ws, alpha), dWs, dbs, deltas, zs, As
