"""``bpnet.explain``: one sample through the network, every quantity of the text printed.

For learners: the forward pass z^(l), a^(l), the cost C_x, the errors δ^(l) from the output
back, and the gradients ∂C/∂W^(l) = δ^(l) a^(l-1)ᵀ and ∂C/∂b^(l) = δ^(l), each labelled with
the equation it comes from. The numbers are the ones ``Network.backward`` computes (the C++
core), not a re-implementation.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import List, Optional, TextIO

import numpy as np

from ._gradcheck import _network_and_target

# C_x and δ^(L) for each loss, in the text's notation (n_L is the number of outputs).
# With a softmax output, σ' is a Jacobian, not an element-wise factor: the squared errors'
# δ^(L) is its product with ∇_a C_x (_SOFTMAX_DELTA), as the core computes it.
_COST = {
    "squared_error": ("C_x = ||a^(L) - y||²", "δ^(L) = 2 (a^(L) - y) ⊙ σ'(z^(L))"),
    "half_squared_error": ("C_x = ||a^(L) - y||² / (2 n_L)", "δ^(L) = (a^(L) - y) / n_L ⊙ σ'(z^(L))"),
    "cross_entropy": ("C_x = -Σ_j y_j log a_j^(L)",
                      "δ^(L) = (Σ_j y_j) a^(L) - y   (softmax and cross entropy fused; "
                      "a^(L) - y when y sums to 1)"),
    "binary_cross_entropy": (
        "C_x = -Σ_j [y_j log a_j^(L) + (1 - y_j) log(1 - a_j^(L))]",
        "δ^(L) = a^(L) - y   (sigmoid and cross entropy fused)",
    ),
    "poisson": ("C_x = Σ_j (a_j^(L) - y_j log a_j^(L))", "δ^(L) = a^(L) - y   (exp and Poisson deviance fused)"),
}

_GRAD_A = {"squared_error": "2 (a^(L) - y)", "half_squared_error": "(a^(L) - y) / n_L"}
_SOFTMAX_DELTA = ("δ^(L) = a^(L) ⊙ (g - (a^(L)·g)),  g = ∇_a C_x = {g}   "
                  "(softmax: σ' is the Jacobian diag(a^(L)) - a^(L) a^(L)ᵀ)")


@dataclass
class Explanation:
    """Every quantity of backpropagation for one sample; list index l-1 holds layer l.

    Attributes
    ----------
    x : ndarray of shape (n_0,)
        a^(0).
    y : ndarray of shape (n_L,)
    z : list of ndarray
        z^(l) of shape (n_l,), l = 1..L.
    a : list of ndarray
        a^(l) of shape (n_l,), l = 0..L (``a[0]`` is x).
    delta : list of ndarray
        δ^(l) = ∂C_x/∂z^(l) of shape (n_l,), l = 1..L.
    dW : list of ndarray
        ∂C_x/∂W^(l) = δ^(l) a^(l-1)ᵀ of shape (n_l, n_{l-1}).
    db : list of ndarray
        ∂C_x/∂b^(l) = δ^(l) of shape (n_l,).
    loss : float
        C_x, the cost of this sample.
    """

    x: np.ndarray
    y: np.ndarray
    z: List[np.ndarray]
    a: List[np.ndarray]
    delta: List[np.ndarray]
    dW: List[np.ndarray]
    db: List[np.ndarray]
    loss: float


def _fmt(arr: np.ndarray, indent: int) -> str:
    text = np.array2string(np.asarray(arr, dtype=np.float64), precision=5, suppress_small=True,
                           max_line_width=100, threshold=60, edgeitems=4)
    return text.replace("\n", "\n" + " " * indent)


def explain(net, x, y, file: Optional[TextIO] = None) -> Explanation:
    """Print the forward and backward pass of ``net`` for one sample, in the text's symbols.

    Parameters
    ----------
    net : Network, or a fitted MLPClassifier / MLPRegressor (its network)
    x : array-like of shape (n_0,) or (1, n_0)
        One input sample, a^(0).
    y : array-like of shape (n_L,) or (1, n_L); a number when n_L == 1
        Its target; for a classifier, its label (encoded as the estimator's ``fit`` does).
    file : file-like, optional
        Where to print; ``sys.stdout`` by default.

    Returns
    -------
    Explanation
        The printed values as arrays (z, a, delta, dW, db per layer, and the cost).
    """
    net, y = _network_and_target(net, y, "explain", one_sample=True)
    sizes = net.layer_sizes
    n0, nL = sizes[0], sizes[-1]
    try:
        x = np.asarray(x, dtype=net.dtype)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"explain: x: {exc}") from None
    try:
        y = np.asarray(y, dtype=net.dtype)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"explain: y: {exc}") from None
    if x.shape not in ((n0,), (1, n0)):
        raise ValueError(f"explain: x has shape {x.shape}, expected ({n0},) - one sample")
    if y.size != nL or y.ndim > 2 or (y.ndim == 2 and y.shape[0] != 1):
        raise ValueError(f"explain: y has shape {y.shape}, expected ({nL},) - the sample's target")
    X, Y = x.reshape(1, n0), y.reshape(1, nL)
    g = net.backward(X, Y)  # one sample: the batch mean is the sample's own gradient
    L = len(sizes) - 1
    result = Explanation(
        x=X[0].copy(), y=Y[0].copy(),
        z=[z[0].copy() for z in g.trace.z],
        a=[a[0].copy() for a in g.trace.a],
        delta=[d[0].copy() for d in g.deltas],
        dW=[w.copy() for w in g.weights],
        db=[b.copy() for b in g.biases],
        loss=float(g.loss),
    )

    out = file if file is not None else sys.stdout
    p = lambda *parts: print(*parts, file=out)  # noqa: E731
    acts = net.activations
    p(f"One sample through a {'-'.join(map(str, sizes))} network "
      f"(activations {', '.join(acts)}; loss {net.loss_name})")
    p()
    p("Forward pass:  z^(l) = W^(l) a^(l-1) + b^(l),   a^(l) = σ_l(z^(l))")
    p(f"  a^(0) = x = {_fmt(result.a[0], 14)}")
    for l in range(1, L + 1):
        p(f"  layer {l} ({acts[l - 1]}), W^({l}) of shape ({sizes[l]}, {sizes[l - 1]})")
        p(f"    z^({l}) = {_fmt(result.z[l - 1], 12)}")
        p(f"    a^({l}) = {_fmt(result.a[l], 12)}")
    cost, out_delta = _COST.get(net.loss_name, (f"C_x ({net.loss_name})", "δ^(L) = ∇_a C ⊙ σ'(z^(L))"))
    if acts[-1] == "softmax" and net.loss_name in _GRAD_A:
        out_delta = _SOFTMAX_DELTA.format(g=_GRAD_A[net.loss_name])
    p()
    p(f"Cost:  {cost}")
    p(f"  y = {_fmt(result.y, 6)}")
    p(f"  C_x = {result.loss:.6g}")
    p()
    p("Backward pass:  " + out_delta.replace("(L)", f"({L})"))
    if L > 1:
        p("                δ^(l) = (W^(l+1)ᵀ δ^(l+1)) ⊙ σ_l'(z^(l))")
    for l in range(L, 0, -1):
        p(f"  δ^({l}) = {_fmt(result.delta[l - 1], 10)}")
    p()
    p("Gradients:  ∂C/∂W^(l) = δ^(l) a^(l-1)ᵀ,   ∂C/∂b^(l) = δ^(l)")
    for l in range(1, L + 1):
        p(f"  ∂C/∂W^({l}) = {_fmt(result.dW[l - 1], 14)}")
        p(f"  ∂C/∂b^({l}) = {_fmt(result.db[l - 1], 14)}")
    p()
    p("A gradient-descent step with learning rate η:  W ← W - η ∂C/∂W,   b ← b - η ∂C/∂b")
    return result
