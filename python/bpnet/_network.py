"""The Python face of the C++ ``Network<T>``: validation, NumPy views, results as objects.

Arithmetic happens in C++ (``bpnet._core``); this module checks arguments, converts inputs
at most once, and gives names to what comes back.
"""
from __future__ import annotations

import operator
import os
import secrets
import warnings
from dataclasses import dataclass, field
from typing import Callable, List, NamedTuple, Optional, Sequence, Union

import numpy as np

from . import _core

_CORE = {np.dtype(np.float32): _core.Network32, np.dtype(np.float64): _core.Network64}
_ACTIVATIONS = ("identity", "sigmoid", "logistic", "tanh", "relu", "leaky_relu", "softmax", "exp")


class DivergenceWarning(RuntimeWarning):
    """Training stopped because the loss became non-finite; the last finite weights were kept."""


class _PlateauState(NamedTuple):
    """Where a fit's ``tol`` / ``n_iter_no_change`` bookkeeping starts (the defaults: afresh).

    scikit-learn's warm-started ``fit`` continues the ``best_loss_``,
    ``best_validation_score_`` and ``_no_improvement_count`` of the previous fit; the
    estimators pass them to :meth:`Network.fit` (and ``bpnet.distributed.fit``) as this.
    """

    best_loss: float = float("inf")
    best_val_score: float = float("-inf")
    no_improvement_count: int = 0


@dataclass
class Trace:
    """Every layer of one forward pass, one row per sample.

    Attributes
    ----------
    z : list of ndarray
        L arrays: ``z[l - 1]`` of shape (n_samples, n_l) is layer l's weighted input,
        Z_l = A_{l-1} W_lᵀ + b_l (row i: the text's z^(l) = W^(l) a^(l-1) + b^(l) of sample i).
    a : list of ndarray
        L + 1 arrays: ``a[0]`` is X (a^(0)); ``a[l]`` of shape (n_samples, n_l) is
        a^(l) = σ_l(z^(l)), i.e. σ_l(``z[l - 1]``), for l = 1..L.
    """

    z: List[np.ndarray]
    a: List[np.ndarray]

    @property
    def output(self) -> np.ndarray:
        """The network's output a^(L)."""
        return self.a[-1]


@dataclass
class Gradients:
    """Result of backpropagation on one batch.

    Attributes
    ----------
    loss : float
        The cost C on the batch (penalty included when alpha > 0).
    flat : ndarray of shape (n_params,)
        ∂C/∂θ in the layout of ``Network.params``.
    weights, biases : list of ndarray
        ``weights[l - 1]`` = ∂C/∂W_l of shape (n_l, n_{l-1}) and ``biases[l - 1]`` = ∂C/∂b_l
        of shape (n_l,), views into ``flat``: the batch means (1/n) Σ_i δ_i^(l) a_i^(l-1)ᵀ and
        (1/n) Σ_i δ_i^(l), plus (alpha/n) W_l with the penalty.
    deltas : list of ndarray
        δ_l of shape (n_samples, n_l), one row per sample (the text's δ^(l) = ∂C_x/∂z^(l)
        for that sample, not divided by n).
        With ``sample_weight``, row i is w_i δ_i^(l): the weight is folded into δ where the
        output layer forms it, so the gradients are Σ_i (w_i δ_i) a_iᵀ / Σ_i w_i (and n in
        the penalty's term is Σ_i w_i).
    trace : Trace
        The forward pass the gradients came from.
    """

    loss: float
    flat: np.ndarray
    weights: List[np.ndarray]
    biases: List[np.ndarray]
    deltas: List[np.ndarray]
    trace: Trace


@dataclass
class History:
    """What ``Network.fit`` did.

    Attributes
    ----------
    loss : list of float
        Mean training loss of each finished epoch (over its batches, before each step).
    seconds : list of float
        Wall time of each finished epoch.
    val_loss, val_score : list of float
        With validation data: the loss (no penalty) and the validation score after each epoch.
    learning_rate : list of float
        The rate each epoch used (it changes with the "invscaling" and "adaptive" schedules).
    best_loss, best_val_score, best_epoch
        The lowest training loss, the best validation score, and the epoch of the best one
        (for a fit continuing an estimator's plateau state: the carried best where no epoch
        beat it, with ``best_epoch`` 0).
    restored_best : bool
        Early stopping put back the weights of ``best_epoch``.
    epochs_run : int
    converged, diverged, interrupted, stopped_by_callback : bool
        Why training stopped early, if it did; ``message`` says it in words.
    no_improvement_count : int
        Consecutive epochs without an improvement of more than ``tol`` when the loop ended
        (scikit-learn's ``_no_improvement_count``; reset when the "adaptive" schedule cut the
        rate).
    """

    loss: List[float] = field(default_factory=list)
    seconds: List[float] = field(default_factory=list)
    val_loss: List[float] = field(default_factory=list)
    val_score: List[float] = field(default_factory=list)
    learning_rate: List[float] = field(default_factory=list)
    best_loss: float = float("inf")
    best_val_score: float = float("-inf")
    best_epoch: int = 0
    restored_best: bool = False
    converged: bool = False
    epochs_run: int = 0
    no_improvement_count: int = 0
    diverged: bool = False
    interrupted: bool = False
    stopped_by_callback: bool = False
    message: str = ""

    def __len__(self) -> int:
        return len(self.loss)


# The C++ side's integers: counts in 64 bits, thread counts in an int.
_BELOW_COUNT, _BELOW_THREADS = 2**63, 2**31


def _positive_int(value, name: str, allow_none: bool = False, below: int = _BELOW_COUNT):
    if value is None and allow_none:
        return None
    if isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name}: expected a positive integer, got {value!r}")
    try:
        v = operator.index(value)
    except TypeError:
        raise ValueError(f"{name}: expected a positive integer, got {value!r}") from None
    if v < 1:
        raise ValueError(f"{name}: expected a positive integer, got {v}")
    if v >= below:
        raise ValueError(f"{name}: expected a positive integer below 2**{below.bit_length() - 1}, got {v}")
    return v


def _float(value, name: str) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name}: expected a number, got {value!r}") from None
    if not np.isfinite(v):
        raise ValueError(f"{name}: expected a finite number, got {v}")
    return v


def _seed(seed) -> int:
    if seed is None:
        return secrets.randbits(64)
    if isinstance(seed, (bool, np.bool_)):
        raise ValueError(f"seed: expected None or an integer in [0, 2**64), got {seed!r}")
    try:
        s = operator.index(seed)
    except TypeError:
        raise ValueError(f"seed: expected None or an integer in [0, 2**64), got {seed!r}") from None
    if not 0 <= s < 2**64:
        raise ValueError(f"seed: expected None or an integer in [0, 2**64), got {s}")
    return s


def _network_dtype(dtype) -> np.dtype:
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise ValueError(f"dtype: expected 'float32' or 'float64', got {dtype!r}") from None
    if dt not in _CORE:
        raise ValueError(f"dtype: expected 'float32' or 'float64', got '{dt}'")
    return dt


def _numeric(a, name: str) -> np.ndarray:
    arr = np.asarray(a)
    if arr.dtype.kind not in "biuf":
        raise ValueError(f"{name}: expected numeric values, got an array of dtype {arr.dtype}")
    return arr


def _narrowed(arr: np.ndarray, dtype) -> np.ndarray:
    """``arr`` cast here when it is a wider float than ``dtype`` (float64 for a float32
    network), without NumPy's overflow warning: values beyond float32's range become inf,
    which the core then refuses by name. The binding would make the same copy, but through
    NumPy's cast and its RuntimeWarning (a TypeError from pybind where warnings are errors)."""
    if arr.dtype.kind == "f" and arr.dtype.itemsize > np.dtype(dtype).itemsize:
        with np.errstate(over="ignore"):
            return arr.astype(dtype)
    return arr


def _optimizer_options(optimizer, learning_rate, alpha, momentum, nesterovs_momentum, beta_1,
                       beta_2, epsilon, warm_start, n_threads):
    """FitOptions with the optimizer's settings, checked (the C++ side checks ranges too)."""
    if not isinstance(optimizer, str):
        raise ValueError(f"optimizer: expected a name, got {optimizer!r}")
    o = _core.FitOptions()
    o.optimizer = optimizer
    o.learning_rate = _float(learning_rate, "learning_rate")
    if o.learning_rate <= 0:
        raise ValueError(f"learning_rate: expected a value > 0, got {o.learning_rate}")
    o.alpha = _float(alpha, "alpha")
    o.momentum = _float(momentum, "momentum")
    o.nesterovs_momentum = bool(nesterovs_momentum)
    o.beta_1 = _float(beta_1, "beta_1")
    o.beta_2 = _float(beta_2, "beta_2")
    o.epsilon = _float(epsilon, "epsilon")
    o.keep_state = bool(warm_start)
    o.n_threads = 0 if n_threads is None else _positive_int(n_threads, "n_threads", below=_BELOW_THREADS)
    return o


def _split_validation(X, y, w, fraction, seed, stratify):
    """Hold out ``fraction`` of the rows (at least one row on each side), seeded; stratified
    by class (the arg-max of each y row, or its value for one column) when asked."""
    if not 0 < fraction < 1:
        raise ValueError(f"validation_fraction: expected a value in (0, 1), got {fraction}")
    n = X.shape[0]
    n_val = int(np.ceil(fraction * n))
    if n_val < 1 or n - n_val < 1:
        raise ValueError(f"validation_fraction: {fraction} of {n} rows leaves no training or no validation rows")
    rng = np.random.default_rng(seed)
    if stratify:
        labels = y[:, 0] if y.shape[1] == 1 else y.argmax(axis=1)
        val_idx = []
        for c in np.unique(labels):
            idx = rng.permutation(np.flatnonzero(labels == c))
            val_idx.append(idx[: int(round(fraction * len(idx)))])
        val_idx = np.concatenate(val_idx)
        if val_idx.size == 0 or val_idx.size == n:
            val_idx = rng.permutation(n)[:n_val]
    else:
        val_idx = rng.permutation(n)[:n_val]
    mask = np.zeros(n, dtype=bool)
    mask[val_idx] = True
    take = lambda a, m: None if a is None else a[m]
    return X[~mask], y[~mask], take(w, ~mask), X[mask], y[mask], take(w, mask)


def _verbose_line(rec) -> str:
    """``verbose=True``'s line for one epoch's record (scikit-learn's format)."""
    line = f"Iteration {rec['epoch']}, loss = {rec['loss']:.8f}"
    if "val_score" in rec:
        line += f", validation score = {rec['val_score']:.6f}"
    return line


class _Progress:
    """Epoch callback that prints scikit-learn style lines and/or drives a tqdm bar."""

    def __init__(self, user, verbose, progress, total):
        self.user, self.verbose, self.bar = user, verbose, None
        if progress:
            try:
                from tqdm.auto import tqdm
            except ImportError:
                import sys

                print("bpnet: progress=True needs tqdm (pip install tqdm); training without a bar", file=sys.stderr)
            else:
                self.bar = tqdm(total=total, unit="epoch")

    def __call__(self, rec):
        if self.verbose:
            print(_verbose_line(rec))
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix(loss=f"{rec['loss']:.4g}")
        return None if self.user is None else self.user(rec)

    def close(self):
        if self.bar is not None:
            self.bar.close()


def _epoch_callback(user, verbose, progress, total):
    if not verbose and not progress:
        return user
    return _Progress(user, verbose, progress, total)


class Network:
    """A multi-layer perceptron trained by backpropagation.

    Parameters
    ----------
    layer_sizes : sequence of int
        (n_0, n_1, ..., n_L): inputs, hidden layers, outputs. At least two entries.
    activation : str or sequence of str, default="sigmoid"
        Hidden activation: one name for every hidden layer, or one per hidden layer. Names:
        identity, sigmoid (alias logistic), tanh, relu, leaky_relu (slope 0.01 below 0).
    output_activation : str, default="identity"
        Also softmax (with cross_entropy or squared errors) and exp (with poisson or squared
        errors).
    loss : str, default="squared_error"
        squared_error (C = mean over samples of ||a − y||², the source text's),
        half_squared_error (½ · mean over all entries, scikit-learn's), binary_cross_entropy
        (sigmoid output; C_x = −Σ_j [y_j log a_j + (1 − y_j) log(1 − a_j)]), cross_entropy
        (softmax output; C_x = −Σ_j y_j log a_j), poisson (exp output; C_x = Σ_j (a_j −
        y_j log a_j), scikit-learn's half Poisson deviance less its constant y log y − y).
        C is the mean of C_x over the samples; the cross entropies clip a to [ε, 1 − ε] in the
        log, as scikit-learn does.
    dtype : {"float64", "float32"}, default="float64"
    seed : int or None, default=None
        Seed of the weight initialisation (Glorot uniform, as scikit-learn). The same seed
        gives the same weights on every platform.

    Notes
    -----
    All parameters live in one flat buffer, ``params``; ``weights[l]`` (shape (n_l, n_{l-1}))
    and ``biases[l]`` are writable views into it, so writing through any of them changes the
    network, and views taken before ``fit`` show the trained values.

    Threads: every computing call releases the GIL. Any number of threads may predict (or run
    forward, backward, loss, save) at once; a ``fit`` or ``step`` waits for the reads in flight
    (reads that start while it waits queue behind it), and reads from other threads wait for a
    running ``fit`` to end (an epoch callback on the training thread may read). ``backward`` and
    ``gradient`` are one read: their forward and backward passes see the same weights. Writes
    through the NumPy views are not guarded.
    """

    def __init__(
        self,
        layer_sizes: Sequence[int],
        activation: Union[str, Sequence[str]] = "sigmoid",
        output_activation: str = "identity",
        loss: str = "squared_error",
        dtype="float64",
        seed: Optional[int] = None,
    ):
        if isinstance(layer_sizes, (str, bytes)) or not hasattr(layer_sizes, "__len__"):
            raise ValueError(f"layer_sizes: expected a sequence of positive integers, got {layer_sizes!r}")
        sizes = [_positive_int(s, f"layer_sizes[{i}]") for i, s in enumerate(layer_sizes)]
        if len(sizes) < 2:
            raise ValueError(
                f"layer_sizes: expected at least 2 entries (inputs, outputs), got {len(sizes)}"
            )
        n_hidden = len(sizes) - 2
        if isinstance(activation, str):
            hidden = [activation] * n_hidden
        elif isinstance(activation, (list, tuple)):
            hidden = list(activation)
        else:
            raise ValueError(f"activation: expected a name or a list of names, got {activation!r}")
        if len(hidden) != n_hidden:
            raise ValueError(
                f"activation: expected one name or {n_hidden} (one per hidden layer), "
                f"got {len(hidden)}"
            )
        for name in hidden + [output_activation]:
            if not isinstance(name, str):
                raise ValueError(f"activation: expected a name, got {name!r}")
        if not isinstance(loss, str):
            raise ValueError(f"loss: expected a name, got {loss!r}")
        dt = _network_dtype(dtype)
        self._net = _CORE[dt](sizes, hidden + [output_activation], loss, _seed(seed))
        self._dtype = dt
        self.metadata = {}

    @classmethod
    def _wrap(cls, core, metadata=None) -> "Network":
        net = cls.__new__(cls)
        net._net = core
        net._dtype = np.dtype(core.dtype)
        net.metadata = dict(metadata or {})
        return net

    # ------------------------------------------------------------------ description
    @property
    def layer_sizes(self) -> tuple:
        """(n_0, n_1, ..., n_L): inputs, hidden layer widths, outputs (a tuple of int)."""
        return tuple(self._net.layer_sizes)

    @property
    def activations(self) -> List[str]:
        """Activation of each layer 1..L (the last is the output's)."""
        return list(self._net.activations)

    @property
    def loss_name(self) -> str:
        """Name of the loss the network was built with, e.g. "squared_error"."""
        return self._net.loss_name

    @property
    def dtype(self) -> np.dtype:
        """NumPy dtype of the parameters and outputs: float64 or float32."""
        return self._dtype

    @property
    def n_params(self) -> int:
        """Number of parameters, the length of ``params`` (Σ_l n_l (n_{l-1} + 1))."""
        return self._net.num_params

    def __repr__(self) -> str:
        return (
            f"Network(layer_sizes={self.layer_sizes}, activations={self.activations}, "
            f"loss='{self.loss_name}', dtype='{self.dtype}')"
        )

    # ------------------------------------------------------------------ parameters
    @property
    def params(self) -> np.ndarray:
        """1-D writable view of all parameters (W_1, b_1, ..., W_L, b_L)."""
        return self._net.params

    @property
    def weights(self) -> List[np.ndarray]:
        """W_l of shape (n_l, n_{l-1}) for l = 1..L, writable views into ``params``."""
        return self._split(self._net.params)[0]

    @property
    def biases(self) -> List[np.ndarray]:
        """b_l of shape (n_l,) for l = 1..L, writable views into ``params``."""
        return self._split(self._net.params)[1]

    def _split(self, flat: np.ndarray):
        sizes = self.layer_sizes
        ws, bs = [], []
        for l in range(len(sizes) - 1):
            w0, b0 = self._net.weight_offset(l), self._net.bias_offset(l)
            ws.append(flat[w0:b0].reshape(sizes[l + 1], sizes[l]))
            bs.append(flat[b0 : b0 + sizes[l + 1]])
        return ws, bs

    # ------------------------------------------------------------------ inputs
    def _X(self, X) -> np.ndarray:
        if type(X) is np.ndarray and X.ndim == 2 and X.dtype == self._dtype:
            return X  # fast path: the binding reads it in place (or converts a strided one once)
        X = _numeric(X, "X")
        n0 = self.layer_sizes[0]
        if X.ndim != 2:
            raise ValueError(
                f"X: expected a 2-D array of shape (n_samples, {n0}), got a {X.ndim}-D array "
                f"of shape {X.shape}"
            )
        return _narrowed(X, self._dtype)

    def _y(self, y, n: int) -> np.ndarray:
        y = _numeric(y, "y")
        nL = self.layer_sizes[-1]
        if y.ndim == 1 and nL == 1:
            y = y.reshape(-1, 1)
        if y.ndim != 2:
            raise ValueError(
                f"y: expected an array of shape ({n}, {nL})"
                + (f" or ({n},)" if nL == 1 else "")
                + f", got a {y.ndim}-D array of shape {y.shape}"
            )
        if y.shape[0] != n:
            raise ValueError(f"y has {y.shape[0]} rows, expected {n} (the rows of X)")
        if y.shape[1] != nL:
            raise ValueError(f"y has {y.shape[1]} columns, expected {nL} (layer_sizes[-1])")
        return _narrowed(y, self._dtype)

    def _w(self, sample_weight, n: int):
        if sample_weight is None:
            return None
        w = _numeric(sample_weight, "sample_weight")
        if w.shape != (n,):
            raise ValueError(f"sample_weight: expected shape ({n},), got {w.shape}")
        return _narrowed(w, self._dtype)

    # ------------------------------------------------------------------ computation
    def predict(self, X, n_threads: Optional[int] = None) -> np.ndarray:
        """Output a^(L) for every row of X.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_0)
        n_threads : int, optional
            Threads for this call (default: :func:`bpnet.get_num_threads`).

        Returns
        -------
        ndarray of shape (n_samples, n_L), a new array of the network's dtype.
        """
        if n_threads is None:
            if type(X) is np.ndarray and X.dtype is self._dtype and X.ndim == 2:
                return self._net.predict(X)  # (_X's fast path, inlined: one sample is ~1 µs)
            return self._net.predict(self._X(X))
        return self._net.predict(self._X(X), _positive_int(n_threads, "n_threads", below=_BELOW_THREADS))

    def forward(self, X) -> Trace:
        """Forward pass keeping every layer's z and a (see :class:`Trace`)."""
        x, z, a = self._net.forward(self._X(X))
        return Trace(z=list(z), a=[x] + list(a))

    def loss(self, X, y, sample_weight=None, alpha: float = 0.0) -> float:
        """The cost C on (X, y); with alpha > 0 plus alpha/(2n) Σ ||W_l||² (n: the sum of the
        sample weights when they are given, as scikit-learn's)."""
        X = self._X(X)
        return self._net.loss(X, self._y(y, len(X)), self._w(sample_weight, len(X)), _float(alpha, "alpha"))

    def backward(self, X, y, sample_weight=None, alpha: float = 0.0) -> Gradients:
        """Backpropagation on (X, y): every δ_l, ∂C/∂W_l and ∂C/∂b_l (see :class:`Gradients`).

        Does not change the network.
        """
        X = self._X(X)
        loss, flat, deltas, z, a, x = self._net.backward(
            X, self._y(y, len(X)), self._w(sample_weight, len(X)), _float(alpha, "alpha")
        )
        ws, bs = self._split(flat)
        trace = Trace(z=list(z), a=[x] + list(a))
        return Gradients(loss=loss, flat=flat, weights=ws, biases=bs, deltas=list(deltas), trace=trace)

    def gradient(self, X, y, sample_weight=None, alpha: float = 0.0):
        """The cost C and the flat gradient ∂C/∂θ only: ``backward`` without the layers.

        Returns
        -------
        loss : float
        flat : ndarray of shape (n_params,)
            In the layout of ``params``; a new array.
        """
        X = self._X(X)
        return self._net.loss_and_gradient(X, self._y(y, len(X)), self._w(sample_weight, len(X)),
                                           _float(alpha, "alpha"))

    def fit(
        self,
        X,
        y,
        optimizer: str = "sgd",
        learning_rate: float = 0.1,
        epochs: int = 100,
        batch_size: Optional[int] = None,
        shuffle: bool = True,
        seed: Optional[int] = None,
        callback: Optional[Callable[[dict], Optional[bool]]] = None,
        sample_weight=None,
        alpha: float = 0.0,
        momentum: float = 0.0,
        nesterovs_momentum: bool = True,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-8,
        learning_rate_schedule: str = "constant",
        power_t: float = 0.5,
        tol: Optional[float] = None,
        n_iter_no_change: int = 10,
        early_stopping: bool = False,
        validation_data=None,
        validation_fraction: Optional[float] = None,
        validation_metric: str = "loss",
        warm_start: bool = True,
        verbose: bool = False,
        progress: bool = False,
        n_threads: Optional[int] = None,
        _warn_divergence: bool = True,
        _plateau: Optional[_PlateauState] = None,
        _keep_learning_rate: bool = False,
        _epoch_loss_by_rows: bool = False,
        _check_input: bool = True,
    ) -> History:
        """Train by mini-batch gradient descent, entirely in C++ (the GIL is released).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_0)
            It (and y, the sample weights and the validation data) must not share memory with
            ``params``: ValueError, as fit would read what it changes.
        y : array-like of shape (n_samples, n_L), or (n_samples,) when n_L == 1
        optimizer : {"sgd", "adam"}, default="sgd"
            "sgd" is plain gradient descent θ ← θ − η ∂C/∂θ unless momentum > 0
            (scikit-learn's momentum and Nesterov rules); "adam" is scikit-learn's Adam.
        learning_rate : float, default=0.1
            η, > 0.
        epochs : int, default=100
        batch_size : int or None, default=None
            Rows per step; None uses the whole data set (full-batch gradient descent).
        shuffle : bool, default=True
            Shuffle the rows every epoch (seeded by ``seed``).
        seed : int or None
            Seed of the shuffle and of the validation split.
        callback : callable, optional
            Called after every epoch with a dict {"epoch", "loss", "seconds", "learning_rate"}
            (plus "val_loss", "val_score" with validation data); returning False stops
            training after that epoch.
        sample_weight : array-like of shape (n_samples,), optional
            Per-row weights; the loss becomes Σ w_i C_i / Σ w_i.
        alpha : float, default=0
            L2 penalty alpha/(2n) Σ ||W_l||² (biases not penalised; with sample weights, n is
            the batch's weight sum, as in scikit-learn).
        momentum, nesterovs_momentum, beta_1, beta_2, epsilon
            As scikit-learn's MLP.
        learning_rate_schedule : {"constant", "invscaling", "adaptive"}, default="constant"
            For sgd, with scikit-learn's meaning (invscaling: η / (t+1)^power_t, t the samples
            seen; adaptive: η / 5 whenever the loss stalls, see ``tol``).
        power_t : float, default=0.5
        tol : float or None, default=None
            When set, stop once the training loss (or, with early stopping, the validation
            score) has not improved by ``tol`` for more than ``n_iter_no_change`` epochs.
        n_iter_no_change : int, default=10
        early_stopping : bool, default=False
            Stop on the validation score (``tol`` defaults to 1e-4 then) and restore the
            weights of the best epoch. Needs ``validation_data`` or uses
            ``validation_fraction`` (default 0.1) of the rows.
        validation_data : tuple (X_val, y_val) or (X_val, y_val, sample_weight_val), optional
            Rows to monitor after every epoch (History.val_loss, History.val_score).
        validation_fraction : float in (0, 1), optional
            Hold out this fraction of the rows (seeded by ``seed``; stratified by class when
            ``validation_metric="accuracy"``) as validation data.
        validation_metric : {"loss", "accuracy", "r2"}, default="loss"
            The validation score: minus the validation loss, accuracy, or R².
        warm_start : bool, default=True
            Continue the optimizer state (momentum, Adam moments) of a previous fit;
            False starts it afresh. The weights always continue. Either way the first epoch
            runs at ``learning_rate`` (a schedule restarts from it).
        verbose : bool, default=False
            Print one line per epoch, as scikit-learn does.
        progress : bool, default=False
            Show a tqdm progress bar (when tqdm is installed).
        n_threads : int, optional
            Threads for this fit's kernels (default: :func:`bpnet.get_num_threads`); other
            threads' calls are not affected.

        Returns
        -------
        History
            If the loss becomes non-finite, training stops, the weights (and the optimizer
            state) from the start of that epoch are kept and a :class:`DivergenceWarning` is issued. Ctrl-C stops at the
            next batch boundary, keeps the weights reached and raises KeyboardInterrupt. That
            exception (or one raised by ``callback``, which stops training after the epoch)
            carries the History of the epochs finished before it as its ``history`` attribute.
        """
        X = self._X(X)
        n = X.shape[0]
        if n == 0:
            raise ValueError("X: expected at least 1 row, got 0")
        y = self._y(y, n)
        w = self._w(sample_weight, n)
        for name, value in (("optimizer", optimizer), ("learning_rate_schedule", learning_rate_schedule),
                            ("validation_metric", validation_metric)):
            if not isinstance(value, str):
                raise ValueError(f"{name}: expected a name, got {value!r}")
        if callback is not None and not callable(callback):
            raise ValueError(f"callback: expected a callable, got {callback!r}")
        o = _optimizer_options(optimizer, learning_rate, alpha, momentum, nesterovs_momentum,
                               beta_1, beta_2, epsilon, warm_start, n_threads)
        o.epochs = _positive_int(epochs, "epochs")
        o.batch_size = _positive_int(batch_size, "batch_size", allow_none=True) or 0
        o.shuffle = bool(shuffle)
        seed = _seed(seed)
        o.seed = seed
        o.learning_rate_schedule = learning_rate_schedule
        o.power_t = _float(power_t, "power_t")
        o.n_iter_no_change = _positive_int(n_iter_no_change, "n_iter_no_change")
        o.early_stopping = bool(early_stopping)
        if tol is not None or early_stopping:
            o.stop_on_plateau = True
            o.tol = 1e-4 if tol is None else _float(tol, "tol")
        o.validation_metric = validation_metric
        # the estimators' partial_fit continues sgd's schedule rate, as scikit-learn's does
        o.keep_learning_rate = bool(_keep_learning_rate)
        # the estimators average the batch losses by row count, as scikit-learn's MLP does
        o.epoch_loss_by_rows = bool(_epoch_loss_by_rows)
        # False: the estimators, whose X and y scikit-learn has checked for NaN and inf
        o.check_input = bool(_check_input)
        if _plateau is not None:  # the estimators' warm-started fit (see _PlateauState)
            o.start_best_loss = float(_plateau.best_loss)  # inf allowed; NaN is rejected in C++
            o.start_best_val_score = float(_plateau.best_val_score)
            o.start_no_improvement_count = operator.index(_plateau.no_improvement_count)

        X_val = y_val = w_val = None
        if validation_data is not None and validation_fraction is not None:
            raise ValueError("validation_data and validation_fraction: expected at most one of them")
        if validation_data is not None:
            if not isinstance(validation_data, (tuple, list)) or len(validation_data) not in (2, 3):
                raise ValueError("validation_data: expected a tuple (X_val, y_val) or (X_val, y_val, sample_weight_val)")
            X_val = self._X(validation_data[0])
            if X_val.shape[0] == 0:  # (not silently "no validation data")
                raise ValueError("validation_data: X_val has 0 rows, expected at least 1")
            y_val = self._y(validation_data[1], X_val.shape[0])
            if len(validation_data) == 3:
                w_val = self._w(validation_data[2], X_val.shape[0])
        elif validation_fraction is not None or early_stopping:
            frac = 0.1 if validation_fraction is None else _float(validation_fraction, "validation_fraction")
            X, y, w, X_val, y_val, w_val = _split_validation(
                X, y, w, frac, seed, stratify=validation_metric == "accuracy")

        cb = _epoch_callback(callback, verbose, progress, o.epochs)
        try:
            h = self._net.fit(X, y, w, o, cb, X_val, y_val, w_val)
        except BaseException as exc:
            # Ctrl-C or an exception from the callback: the epochs finished before it, as a
            # History on the exception (the binding attached them as a dict)
            # (an inner fit's History is replaced; an attribute of the exception's own is kept)
            finished = exc.__dict__.pop("_bpnet_history", None) if hasattr(exc, "__dict__") else None
            if finished is not None:
                try:
                    if isinstance(getattr(exc, "history", None), (History, type(None))):
                        exc.history = History(**finished)
                except Exception:  # a read-only or computed history of its class: exc as it is
                    pass
            raise
        finally:
            if cb is not None and hasattr(cb, "close"):
                cb.close()
        history = History(**h)
        if verbose and history.message:
            print(history.message)
        if history.diverged and _warn_divergence:
            warnings.warn(history.message, DivergenceWarning, stacklevel=2)
        return history

    def step(
        self,
        gradient,
        optimizer: str = "sgd",
        learning_rate: float = 0.1,
        momentum: float = 0.0,
        nesterovs_momentum: bool = True,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-8,
        warm_start: bool = True,
        n_threads: Optional[int] = None,
    ) -> None:
        """One optimizer step θ ← update(θ, gradient) with a gradient computed elsewhere.

        For training loops driven from Python, e.g. data-parallel training where each process
        computes ``backward`` on its rows and the gradients are averaged (an all-reduce on
        ``Gradients.flat``) before every process takes the same step. Uses and updates the
        optimizer state exactly as :meth:`fit`'s steps do (``warm_start=False`` resets it).

        Parameters
        ----------
        gradient : array-like of shape (n_params,)
            ∂C/∂θ in the layout of ``params``.
        optimizer, learning_rate, momentum, nesterovs_momentum, beta_1, beta_2, epsilon
            As in :meth:`fit` (the learning-rate schedules act per epoch, in ``fit`` only).
        """
        o = _optimizer_options(optimizer, learning_rate, 0.0, momentum, nesterovs_momentum,
                               beta_1, beta_2, epsilon, warm_start, n_threads)
        g = _numeric(gradient, "gradient")
        self._net.step(g, o)

    def _set_schedule_learning_rate(self, learning_rate: float) -> None:
        """Set the sgd rate that the next :meth:`fit` with ``warm_start=True`` and
        ``_keep_learning_rate=True`` continues from
        (the optimizer state's current rate; it travels in model files and pickles).

        For the estimators' ``learning_rate="adaptive"`` across ``partial_fit`` calls, where
        the rate is divided by 5 between two one-epoch fits. Not guarded: call it only while
        no other thread trains this network.
        """
        rate = _float(learning_rate, "learning_rate")
        if rate <= 0:
            raise ValueError(f"learning_rate: expected a value > 0, got {rate}")
        self._net.set_schedule_learning_rate(rate)

    def score(self, X, y, metric: str = "loss", sample_weight=None) -> float:
        """Validation score of the current weights: "loss" (minus the loss), "accuracy", "r2"."""
        if not isinstance(metric, str):
            raise ValueError(f"metric: expected one of 'loss', 'accuracy', 'r2', got {metric!r}")
        X = self._X(X)
        return self._net.score(X, self._y(y, len(X)), metric, self._w(sample_weight, len(X)))

    # ------------------------------------------------------------------ files and pickles
    def _checked_metadata(self) -> dict:
        md = self.metadata
        if not isinstance(md, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in md.items()):
            raise ValueError("metadata: expected a dict of str to str")
        for k, v in md.items():  # the file stores UTF-8; a lone surrogate has no encoding
            for what, text in (("key", k), ("value", v)):
                try:
                    text.encode("utf-8")
                except UnicodeEncodeError as exc:
                    raise ValueError(f"metadata: the {what} {text!r} is not valid Unicode text "
                                     f"({exc.reason})") from None
        return md

    def save(self, path) -> None:
        """Write the model file (docs/model-format.md) atomically, with ``self.metadata``
        (a dict of str to str: keys of 1 to 250 bytes of UTF-8 without control characters) and
        the optimizer state."""
        self._net.save(os.fspath(path), self._checked_metadata())

    def to_bytes(self) -> bytes:
        """The model file's bytes."""
        return self._net.to_bytes(self._checked_metadata())

    @classmethod
    def from_bytes(cls, data: bytes) -> "Network":
        """A network from a model file's bytes (checked as ``load`` does)."""
        return cls._wrap(*_core.from_bytes(bytes(data)))

    # what the model file holds; any other attribute (a subclass's) travels as pickle state
    _FILE_ATTRIBUTES = ("_net", "_dtype", "metadata")

    def __reduce__(self):
        # A plain Network pickles as its model file alone (the form older versions read); a
        # subclass keeps its class and the attributes it added.
        extra = {k: v for k, v in self.__dict__.items() if k not in self._FILE_ATTRIBUTES}
        if type(self) is Network and not extra:
            return (Network.from_bytes, (self.to_bytes(),))
        return (type(self).from_bytes, (self.to_bytes(),), extra or None)

    def copy(self) -> "Network":
        """An independent copy (parameters, optimizer state, metadata; a subclass's own
        attributes are deep-copied)."""
        import copy

        return copy.deepcopy(self)


def load(path) -> Network:
    """Read a model file written by :meth:`Network.save` or the C++ library.

    Raises FileNotFoundError when ``path`` does not exist and ValueError when the file is not
    a valid bpnet model (its message says what is wrong).
    """
    return Network._wrap(*_core.load(os.fspath(path)))
