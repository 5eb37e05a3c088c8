"""scikit-learn compatible estimators: :class:`MLPRegressor` and :class:`MLPClassifier`.

Drop-in replacements for ``sklearn.neural_network``'s estimators of the same names: the same
constructor parameters and defaults, fitted attributes and methods, with training in bpnet's
C++ core. This module needs scikit-learn (``pip install 'bpnet[sklearn]'``) and is imported on
first access to ``bpnet.MLPRegressor`` / ``bpnet.MLPClassifier``.

How the pieces map onto the core:

- the network is one :class:`bpnet.Network` (``self._net``); ``coefs_[i]`` is ``W_{i+1}.T``, a
  transposed view of the network's weights, and ``intercepts_[i]`` is ``b_{i+1}``, both views
  into ``_net.params``;
- ``solver="sgd"`` and ``"adam"`` run :meth:`bpnet.Network.fit` (the whole epoch loop in C++);
- ``solver="lbfgs"`` runs SciPy's L-BFGS-B on the flat parameter vector, with loss and
  gradient from one C++ call (:meth:`bpnet.Network.backward`);
- initial weights are drawn exactly as scikit-learn draws them (Glorot uniform from
  ``check_random_state(random_state)``), and the early-stopping split is scikit-learn's, so
  the same ``random_state`` starts from the same weights and holds out the same rows.
"""
from __future__ import annotations

import functools
import operator
import os
import threading
import time
import warnings
import weakref
from contextlib import contextmanager
from dataclasses import dataclass
from numbers import Integral, Real
from typing import Optional

import numpy as np
import scipy.optimize
from scipy import sparse
from scipy.special import xlogy

from sklearn.base import (BaseEstimator, ClassifierMixin, ClassNamePrefixFeaturesOutMixin,
                          OneToOneFeatureMixin, RegressorMixin, TransformerMixin, is_classifier)
from sklearn.exceptions import ConvergenceWarning
try:  # scikit-learn >= 1.6
    from sklearn.utils import TransformerTags
except ImportError:  # pragma: no cover
    TransformerTags = None
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils import check_random_state, column_or_1d, gen_batches
from sklearn.utils._param_validation import Interval, Options, StrOptions
from sklearn.utils.class_weight import compute_sample_weight
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import _check_partial_fit_first_call, type_of_target, unique_labels
from sklearn.utils.validation import _check_sample_weight, check_is_fitted

try:  # scikit-learn >= 1.6
    from sklearn.utils.validation import validate_data
except ImportError:  # pragma: no cover - older scikit-learn

    def validate_data(estimator, X="no_validation", y="no_validation", **kwargs):
        return estimator._validate_data(X, y, **kwargs)


from ._network import History, Network, _PlateauState, _verbose_line, load
from . import _core

__all__ = ["MLPRegressor", "MLPClassifier"]

_STOCHASTIC = ("sgd", "adam")
_HIDDEN_ACTIVATIONS = {"identity", "logistic", "tanh", "relu", "leaky_relu"}
# scikit-learn's name of each output activation -> bpnet's
_CORE_ACTIVATION = {"identity": "identity", "logistic": "sigmoid", "tanh": "tanh", "relu": "relu",
                    "leaky_relu": "leaky_relu", "softmax": "softmax", "exp": "exp"}


@contextmanager
def _thread_count(n_threads):
    """Run the body with bpnet's kernels on ``n_threads`` threads (None: leave as is)."""
    if n_threads is None:
        yield
        return
    # a setting of the calling thread only: estimators training in other threads keep theirs
    n = (os.cpu_count() or 1) if n_threads == -1 else int(n_threads)
    old = _core._get_thread_local_threads()
    _core._set_thread_local_threads(n)
    try:
        yield
    finally:
        _core._set_thread_local_threads(old)


class _FitGuard:
    """One estimator's readers-writer lock, with the rules of ``bpnet.Network``'s: ``fit`` and
    ``partial_fit`` write; ``predict``, ``predict_proba``, ``transform``, ``save`` and pickling
    read. Reads wait for a running fit and a fit for the reads in flight. Neither side starves
    the other: reads that start while a fit waits queue behind it, and the reads that waited
    for a fit go before the next fit (a loop of ``partial_fit`` calls leaves room for them).
    The fitting thread may read (an epoch callback) and fit again; a thread may nest reads.

    Without it, a refit published its new network (initial weights) before training it, lbfgs
    wrote its iterates into the parameters a predict read, and a classifier's label binarizer
    was replaced before it was fitted: predictions from other threads came from untrained or
    half-trained weights, or raised NotFittedError.
    """

    def __init__(self):
        self._cond = threading.Condition()
        self._readers = {}  # thread id -> depth of its reads
        self._writer = None  # thread id of the running fit
        self._depth = 0  # the fit's nesting
        self._writers_waiting = 0
        self._readers_waiting = 0
        self._readers_turn = False  # a fit ended while reads waited: they go first

    @contextmanager
    def read(self):
        me = threading.get_ident()
        with self._cond:
            if self._writer != me and me not in self._readers:
                if self._writer is not None or (self._writers_waiting and not self._readers_turn):
                    self._readers_waiting += 1
                    try:
                        while self._writer is not None or (self._writers_waiting and not self._readers_turn):
                            self._cond.wait()
                    finally:
                        self._readers_waiting -= 1
                        if not self._readers_waiting and self._readers_turn:
                            self._readers_turn = False  # every waiting read is in
                            self._cond.notify_all()
            self._readers[me] = self._readers.get(me, 0) + 1
        try:
            yield
        finally:
            with self._cond:
                depth = self._readers.pop(me) - 1
                if depth:
                    self._readers[me] = depth
                else:
                    self._cond.notify_all()

    @contextmanager
    def write(self):
        me = threading.get_ident()
        with self._cond:
            if self._writer != me:
                self._writers_waiting += 1
                try:
                    while (self._writer is not None or self._readers_turn
                           or any(t != me for t in self._readers)):
                        self._cond.wait()
                finally:
                    self._writers_waiting -= 1
                    self._cond.notify_all()
                self._writer = me
            self._depth += 1
        try:
            yield
        finally:
            with self._cond:
                self._depth -= 1
                if not self._depth:
                    self._writer = None
                    self._readers_turn = self._readers_waiting > 0
                    self._cond.notify_all()


# Each estimator's guard, kept outside it (not an attribute: it is no parameter or fitted
# attribute, and must not travel in pickles or clones), keyed by the estimator's identity, not
# its hash: a subclass that compares estimators by their parameters must not make two equal
# estimators share one guard (their fits would wait for each other). The entry goes when the
# estimator does (weakref.finalize runs before its id can be reused).
_GUARDS: "dict[int, _FitGuard]" = {}
# (re-entrant: a __del__ that the garbage collector runs while it is held may take it again)
_GUARDS_LOCK = threading.RLock()


def _forget_guard(key):
    with _GUARDS_LOCK:
        _GUARDS.pop(key, None)


def _guard_of(est):
    key = id(est)
    with _GUARDS_LOCK:
        guard = _GUARDS.get(key)
        if guard is None:
            try:
                weakref.finalize(est, _forget_guard, key)
            except TypeError:  # not weakly referenceable (a subclass with __slots__): unguarded
                return None
            guard = _GUARDS[key] = _FitGuard()
    return guard


def _guarded(kind):
    """Decorator: run the method under the estimator's guard, as a "read" or a "write"."""

    def decorate(method):
        @functools.wraps(method)
        def wrapper(self, *args, **kwargs):
            guard = _guard_of(self)
            if guard is None:
                return method(self, *args, **kwargs)
            with getattr(guard, kind)():
                return method(self, *args, **kwargs)

        return wrapper

    return decorate


def _contiguous(a, dtype):
    """C-contiguous array of ``dtype``. A float64 value beyond float32's range becomes inf
    without NumPy's overflow warning; the core then refuses it by name."""
    with np.errstate(over="ignore"):
        return np.ascontiguousarray(a, dtype=dtype)


def _dense(X, dtype):
    """C-contiguous dense array of ``dtype`` (sparse input is densified)."""
    if sparse.issparse(X):
        X = X.toarray()
    return _contiguous(X, dtype)


def _output_dtype(out, X):
    """``out`` as scikit-learn's MLP would return it for the validated ``X``: float32 only when
    X and the model both are float32, float64 otherwise (its ``X @ coefs_`` promotes). A
    float32 model computes in float32 either way; the cast to float64 is of the output only,
    and there is no copy when the dtypes already agree."""
    return out.astype(np.result_type(X.dtype, out.dtype), copy=False)


def _json_scalar(v):
    return v.item() if isinstance(v, np.generic) else v


def _json_value(v):
    """NumPy scalars and arrays to plain JSON values (lists, floats, ints)."""
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, (list, tuple)):
        return [_json_value(x) for x in v]
    return _json_scalar(v)


@dataclass
class _FitInputs:
    """What :meth:`_BaseMLP._prepare_fit` hands to a training loop: the network to train and
    its training rows, C-contiguous and dense in the network's dtype."""

    network: Network
    X: np.ndarray  # (n_samples, n_features)
    Y: np.ndarray  # (n_samples, n_outputs): the targets as the network's outputs
    sample_weight: Optional[np.ndarray]  # (n_samples,), class weights folded in; or None
    random_state: np.random.RandomState  # draw the shuffle seed (and split) from it
    # where a fit's epoch loop starts its tol / n_iter_no_change bookkeeping: afresh on a
    # first pass, else the estimator's (scikit-learn's warm-started fit continues it)
    plateau: _PlateauState = _PlateauState()
    # X and Y hold only finite values: scikit-learn checked them, and the conversion to the
    # network's dtype could not overflow (no float64 -> float32 narrowing)
    finite: bool = False


class _ParamsView:
    """Descriptor: ``coefs_`` / ``intercepts_`` read as views into the network's parameters;
    assigning a list copies it into the network (the views stay views)."""

    def __init__(self, which):
        self.which = which

    def __set_name__(self, owner, name):
        self.name = name

    def __get__(self, obj, objtype=None):
        if obj is None:
            return self
        net = obj.__dict__.get("_net")
        if net is None:
            raise AttributeError(f"'{type(obj).__name__}' object has no attribute '{self.name}'")
        if self.which == "coefs":
            return [W.T for W in net.weights]
        return list(net.biases)

    def __set__(self, obj, values):
        net = obj.__dict__.get("_net")
        if net is None:
            raise AttributeError(f"{self.name}: set it after fit (the network does not exist yet)")
        targets = [W.T for W in net.weights] if self.which == "coefs" else net.biases
        values = list(values)
        if len(values) != len(targets):
            raise ValueError(f"{self.name}: expected {len(targets)} arrays, got {len(values)}")
        for i, (dst, src) in enumerate(zip(targets, values)):
            src = np.asarray(src)
            if src.shape != dst.shape:
                raise ValueError(f"{self.name}[{i}]: expected shape {dst.shape}, got {src.shape}")
            dst[...] = src


class _BaseMLP(TransformerMixin, BaseEstimator):
    """Shared fitting code of :class:`MLPRegressor` and :class:`MLPClassifier`.

    ``TransformerMixin`` for ``transform`` (not in scikit-learn's MLP): it brings
    ``set_output``, without which scikit-learn refuses ``Pipeline.set_output`` for any pipeline
    that ends in an estimator with a ``transform`` method.
    """

    _parameter_constraints: dict = {
        "hidden_layer_sizes": ["array-like", Interval(Integral, 1, None, closed="left")],
        "activation": [StrOptions(_HIDDEN_ACTIVATIONS), list, tuple],
        "solver": [StrOptions({"lbfgs", "sgd", "adam"})],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "batch_size": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left")],
        "learning_rate": [StrOptions({"constant", "invscaling", "adaptive"})],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
        "power_t": [Interval(Real, 0, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "shuffle": ["boolean"],
        "random_state": ["random_state"],
        "tol": [Interval(Real, 0, None, closed="left")],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
        "momentum": [Interval(Real, 0, 1, closed="both")],
        "nesterovs_momentum": ["boolean"],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="left")],
        "beta_1": [Interval(Real, 0, 1, closed="left")],
        "beta_2": [Interval(Real, 0, 1, closed="left")],
        "epsilon": [Interval(Real, 0, None, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left"), Options(Real, {np.inf})],
        "max_fun": [Interval(Integral, 1, None, closed="left")],
        # (at most 2**31 - 1: the C++ side counts threads in an int)
        "n_threads": [None, Interval(Integral, 1, 2**31 - 1, closed="both"), Options(Integral, {-1})],
    }

    coefs_ = _ParamsView("coefs")
    intercepts_ = _ParamsView("intercepts")

    # ------------------------------------------------------------------ subclass hooks
    _validation_metric = "loss"

    def _validate_input(self, X, y, incremental, reset, classes=None):  # pragma: no cover - abstract
        """(X, Y as the network's outputs, y as validated); see :meth:`_prepare_fit`."""
        raise NotImplementedError

    def _output(self):  # pragma: no cover - abstract
        """(out_activation_ in scikit-learn's names, bpnet loss name)."""
        raise NotImplementedError

    def _loss_constant(self, Y, sample_weight, batch_size=None):
        """What scikit-learn's loss adds to the core's on these rows (0: the same loss)."""
        return 0.0

    # ------------------------------------------------------------------ helpers
    def _hidden_sizes(self):
        sizes = self.hidden_layer_sizes
        if not hasattr(sizes, "__iter__"):
            sizes = [sizes]
        sizes = list(sizes)
        if np.any(np.array(sizes) <= 0):
            raise ValueError(f"hidden_layer_sizes must be > 0, got {sizes}.")
        out = []
        for s in sizes:  # whole numbers only: int(3.5) would silently build 3 units
            if isinstance(s, (bool, np.bool_)):
                raise ValueError(f"hidden_layer_sizes: expected integers, got {sizes}.")
            try:
                out.append(operator.index(s))
            except TypeError:
                raise ValueError(f"hidden_layer_sizes: expected integers, got {sizes}.") from None
        return out

    def _hidden_activations(self, n_hidden):
        act = self.activation
        acts = [act] * n_hidden if isinstance(act, str) else list(act)
        if len(acts) != n_hidden:
            raise ValueError(
                f"activation: expected one name or a list of {n_hidden} names (one per hidden "
                f"layer), got a list of {len(acts)}"
            )
        for a in acts:
            if a not in _HIDDEN_ACTIVATIONS:
                raise ValueError(
                    f"activation: expected names in {sorted(_HIDDEN_ACTIVATIONS)}, got {a!r}"
                )
        return acts

    def __sklearn_is_fitted__(self):
        return "_net" in self.__dict__

    def _forward_output(self, X):
        """Validated X -> network output (n_samples, n_outputs_), float32 only when X and the
        network both are (see :func:`_output_dtype`)."""
        check_is_fitted(self)
        X = validate_data(self, X, accept_sparse=["csr", "csc"], dtype=(np.float64, np.float32),
                          reset=False)
        with _thread_count(self.n_threads):
            out = self._net.predict(_dense(X, self._net.dtype))
        return _output_dtype(out, X)

    # ------------------------------------------------------------------ fitting
    def _initialize(self, layer_units, hidden_acts, dtype, random_state):
        self.n_iter_ = 0
        self.t_ = 0
        self.n_outputs_ = layer_units[-1]
        self.n_layers_ = len(layer_units)
        self.out_activation_, loss = self._output()
        net = Network(
            layer_units,
            activation=[_CORE_ACTIVATION[a] for a in hidden_acts],
            output_activation=_CORE_ACTIVATION[self.out_activation_],
            loss=loss,
            dtype=dtype,
            seed=0,
        )
        # Glorot uniform, drawn exactly as scikit-learn draws it (same random_state, same
        # numbers): per layer the (fan_in, fan_out) matrix, then the intercepts. The bound uses
        # factor 2 for logistic layers, 6 otherwise; the output layer takes the factor of the
        # last hidden layer (scikit-learn: of its single hidden activation).
        for i, (W, b) in enumerate(zip(net.weights, net.biases)):
            fan_in, fan_out = layer_units[i], layer_units[i + 1]
            act = hidden_acts[min(i, len(hidden_acts) - 1)] if hidden_acts else self.activation
            factor = 2.0 if act == "logistic" else 6.0
            bound = np.sqrt(factor / (fan_in + fan_out))
            coef = random_state.uniform(-bound, bound, (fan_in, fan_out))
            intercept = random_state.uniform(-bound, bound, fan_out)
            W[...] = coef.astype(dtype, copy=False).T
            b[...] = intercept.astype(dtype, copy=False)
        self._net = net
        self.validation_loss_curve_ = []
        if self.solver in _STOCHASTIC:
            self.loss_curve_ = []
            self._no_improvement_count = 0
            if self.early_stopping:
                self.validation_scores_ = []
                self.best_validation_score_ = -np.inf
                self.best_loss_ = None
            else:
                self.best_loss_ = np.inf
                self.validation_scores_ = None
                self.best_validation_score_ = None
        else:
            self.loss_curve_ = []

    # ------------------------------------------------------------------ the training seam
    # fit and partial_fit are _prepare_fit -> a training loop -> _record_fit. A loop that runs
    # elsewhere (bpnet.distributed.fit_estimator) calls the same two methods, so it validates,
    # sets up and records exactly as fit does. Private, but kept stable for that use.

    def _prepare_fit(self, X, y, sample_weight=None, *, incremental=False, classes=None):
        """Validate the inputs of one ``fit`` (or ``partial_fit``) and set the model up.

        Checks the parameters and X, y, sample_weight as ``fit`` does; sets ``classes_``
        (classifiers) and ``n_features_in_``; on a first pass (no model yet, or ``fit``
        without ``warm_start``) builds the network with scikit-learn's initial weights.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        sample_weight : array-like of shape (n_samples,), default=None
        incremental : bool, default=False
            False: as ``fit``; True: as ``partial_fit`` (a first pass only when not fitted).
        classes : array-like of shape (n_classes,), default=None
            Classifiers only: every class label of the data of which ``y`` is a part (one
            rank's shard, say). A first pass takes ``classes_`` from it instead of from ``y``
            (from ``y`` for a label-indicator matrix), and ``y`` need only hold labels among
            ``classes_``, not all of them (``partial_fit``'s rule).

        Returns
        -------
        _FitInputs
            ``network``, and ``X``, ``Y``, ``sample_weight`` ready for it; ``random_state``;
            ``plateau``, the state a ``fit``'s epoch loop starts from (see
            :meth:`_plateau_state`).
        """
        self._validate_params()
        hidden = self._hidden_sizes()
        hidden_acts = self._hidden_activations(len(hidden))
        first_pass = not self.__sklearn_is_fitted__() or (not self.warm_start and not incremental)

        X, Y, y_raw = self._validate_input(X, y, incremental, reset=first_pass, classes=classes)
        if sample_weight is not None:
            sample_weight = _check_sample_weight(sample_weight, X)
        sample_weight = self._class_weighted(sample_weight, y_raw)
        if not first_pass and Y.shape[1] != self.n_outputs_:
            raise ValueError(f"y has {Y.shape[1]} outputs, expected {self.n_outputs_} (from the previous fit)")

        random_state = check_random_state(self.random_state)
        if first_pass:
            dtype = X.dtype if X.dtype == np.float32 else np.dtype(np.float64)
            self._initialize([X.shape[1]] + hidden + [Y.shape[1]], hidden_acts, dtype, random_state)
        dtype = self._net.dtype
        if sample_weight is not None:
            sample_weight = _contiguous(sample_weight, dtype)
        # (validate_data and the label handling refuse NaN and inf; only a narrowing cast,
        # float64 data into a float32 network, could make new ones)
        finite = X.dtype == dtype and (Y.dtype == dtype or Y.dtype.kind in "biu")
        return _FitInputs(self._net, _dense(X, dtype), _contiguous(Y, dtype),
                          sample_weight, random_state, self._plateau_state(), finite)

    def _plateau_state(self):
        """The ``tol`` / ``n_iter_no_change`` state a ``fit``'s epoch loop starts from.

        As scikit-learn: ``best_loss_``, ``best_validation_score_`` and
        ``_no_improvement_count`` are reset on a first pass only (``_initialize``), so a
        warm-started ``fit`` compares its epochs with the previous fit's (or ``partial_fit``
        calls') best and goes on counting; the optimizer and its sgd rate start afresh all the
        same. Missing or None (after lbfgs, or with early stopping switched) start afresh.

        Returns
        -------
        _PlateauState
        """
        best_loss = getattr(self, "best_loss_", None)
        best_score = getattr(self, "best_validation_score_", None)
        return _PlateauState(
            np.inf if best_loss is None else float(best_loss),
            -np.inf if best_score is None else float(best_score),
            int(getattr(self, "_no_improvement_count", 0)),
        )

    def _record_fit(self, history, n_rows, *, incremental=False, loss_offset=0.0):
        """Store what a run of sgd/adam epochs did in the fitted attributes, as scikit-learn does.

        Parameters
        ----------
        history : bpnet.History
            Epochs over ``n_rows`` rows of the network that :meth:`_prepare_fit` returned,
            with this estimator's parameters (a fresh optimizer for ``fit``, the continued
            one for ``partial_fit``); for ``fit``, a loop that started its plateau
            bookkeeping from ``_FitInputs.plateau``.
        n_rows : int
            Training rows of one epoch (over all ranks, for distributed training).
        incremental : bool, default=False
            True for ``partial_fit``'s one epoch: the plateau bookkeeping continues from the
            previous calls (``_no_improvement_count``, ``best_loss_``) and, for sgd with
            ``learning_rate="adaptive"``, may divide the rate of the next call by 5, as
            scikit-learn's ``partial_fit`` does. False: the run made its own rate decisions,
            continuing the plateau state it was given; ``_no_improvement_count`` becomes the
            count it ended with.
        loss_offset : float, default=0.0
            Added to every epoch's loss (and the best one): the constant term of
            scikit-learn's loss that the core leaves out (see :meth:`_loss_constant`).
        """
        self.n_iter_ = history.epochs_run
        self.t_ = getattr(self, "t_", 0) + n_rows * history.epochs_run
        if getattr(self, "loss_curve_", None) is None:
            self.loss_curve_ = []
        losses = [np.float64(v + loss_offset) for v in history.loss]  # scikit-learn's types
        self.loss_curve_.extend(losses)
        if losses:
            self.loss_ = losses[-1]
        elif getattr(self, "loss_", None) is None:
            # diverged in its first epoch: no finite loss to report, but a fitted estimator
            # has loss_ (NaN, as lbfgs leaves it when its first evaluation is non-finite)
            self.loss_ = np.float64(np.nan)
        if history.val_score:
            self.validation_scores_.extend(history.val_score)
            self.validation_loss_curve_.extend(history.val_loss)
            self.best_validation_score_ = max(self.best_validation_score_, history.best_val_score)
        adaptive = self.solver == "sgd" and self.learning_rate == "adaptive"
        if incremental:
            for loss, rate in zip(losses, history.learning_rate):
                self._partial_fit_plateau(loss, rate, adaptive)
            return
        self._no_improvement_count = history.no_improvement_count
        if not self.early_stopping and losses:
            best = getattr(self, "best_loss_", None)
            self.best_loss_ = min(np.inf if best is None else best,
                                  np.float64(history.best_loss + loss_offset))

    def _partial_fit_plateau(self, loss, rate, adaptive):
        """After one partial_fit epoch of loss ``loss`` at sgd rate ``rate``: scikit-learn's
        ``_update_no_improvement_count``, then its optimizer's ``trigger_stopping`` once the
        count exceeds ``n_iter_no_change`` (adaptive sgd: rate / 5 for the next call and the
        count restarts, unless the rate is <= 1e-6; otherwise nothing changes)."""
        best = getattr(self, "best_loss_", None)
        best = np.inf if best is None else best
        count = getattr(self, "_no_improvement_count", 0)
        count = count + 1 if loss > best - self.tol else 0
        if loss < best:
            self.best_loss_ = loss
        if count > self.n_iter_no_change:
            msg = ("Training loss did not improve more than tol=%f for %d consecutive epochs."
                   % (self.tol, self.n_iter_no_change))
            if not adaptive:
                msg += " Stopping."
            elif rate <= 1e-6:
                msg += " Learning rate too small. Stopping."
            else:
                rate /= 5.0
                self._net._set_schedule_learning_rate(rate)
                count = 0
                msg += " Setting learning rate to %f" % rate
            if self.verbose:
                print(msg)
        self._no_improvement_count = count

    @_guarded("write")
    def set_params(self, **params):
        """Set the estimator's parameters (scikit-learn's ``set_params``). Waits for a ``fit``
        or ``partial_fit`` running in another thread: a fit reads its parameters as it goes.

        Returns
        -------
        self
        """
        return super().set_params(**params)

    @_guarded("write")
    def _fit(self, X, y, sample_weight=None, incremental=False, X_val=None, y_val=None,
             sample_weight_val=None, callbacks=None):
        if (X_val is None) != (y_val is None):
            raise ValueError("X_val and y_val: expected both or neither")
        if callbacks is not None:
            callbacks = [callbacks] if callable(callbacks) else list(callbacks)
            for cb in callbacks:
                if not callable(cb):
                    raise ValueError(f"callbacks: expected callables, got {cb!r}")
        fit = self._prepare_fit(X, y, sample_weight, incremental=incremental)
        validation = None
        if X_val is not None:
            validation = self._validation_input(X_val, y_val, sample_weight_val, fit.network.dtype)

        with _thread_count(self.n_threads):
            if self.solver in _STOCHASTIC:
                self._fit_stochastic(fit.X, fit.Y, fit.sample_weight, validation, incremental,
                                     fit.random_state, callbacks, fit.plateau, finite=fit.finite)
            else:
                self._fit_lbfgs(fit.X, fit.Y, fit.sample_weight, callbacks, validation)
        return self

    def _class_weighted(self, sample_weight, y_raw):
        return sample_weight

    def _validation_input(self, X_val, y_val, sample_weight_val, dtype):
        X_val = validate_data(self, X_val, accept_sparse=["csr", "csc"], dtype=(np.float64, np.float32),
                              reset=False)
        Y_val = self._encode_y(y_val)
        if Y_val.shape[0] != X_val.shape[0]:
            raise ValueError(f"y_val has {Y_val.shape[0]} rows, expected {X_val.shape[0]} (the rows of X_val)")
        if sample_weight_val is not None:
            sample_weight_val = _contiguous(_check_sample_weight(sample_weight_val, X_val), dtype)
        return _dense(X_val, dtype), _contiguous(Y_val, dtype), sample_weight_val

    def _fit_stochastic(self, X, Y, sample_weight, validation, incremental, random_state, callbacks,
                        plateau, finite=False):
        if self.early_stopping and incremental:
            raise ValueError("partial_fit does not support early_stopping=True")
        early_stopping = self.early_stopping
        if early_stopping and validation is None:
            # scikit-learn's split: same random_state, same rows held out; stratified for a
            # single-output classifier
            stratify = Y if is_classifier(self) and self.n_outputs_ == 1 else None
            arrays = (X, Y) if sample_weight is None else (X, Y, sample_weight)
            parts = train_test_split(*arrays, random_state=random_state,
                                     test_size=self.validation_fraction, stratify=stratify)
            X, X_val, Y, Y_val = parts[:4]
            sample_weight, w_val = (None, None) if sample_weight is None else parts[4:]
            if X_val.shape[0] < 2:
                raise ValueError(
                    "The validation set is too small. Increase 'validation_fraction' or the size "
                    "of your dataset."
                )
            validation = (np.ascontiguousarray(X_val), np.ascontiguousarray(Y_val), w_val)
            X, Y = np.ascontiguousarray(X), np.ascontiguousarray(Y)
            if sample_weight is not None:
                sample_weight = np.ascontiguousarray(sample_weight)
        if not hasattr(self, "loss_curve_"):  # warm start after an lbfgs fit
            self.loss_curve_ = []
        if getattr(self, "best_loss_", None) is None and not early_stopping:
            self.best_loss_ = np.inf
        if validation is not None and getattr(self, "validation_scores_", None) is None:
            self.validation_scores_ = []
            self.best_validation_score_ = -np.inf
        n_train = X.shape[0]
        if self.batch_size == "auto":
            batch_size = min(200, n_train)
        else:
            if self.batch_size > n_train:
                warnings.warn(
                    "Got `batch_size` less than 1 or larger than sample size. It is going to be "
                    "clipped"
                )
            batch_size = int(np.clip(self.batch_size, 1, n_train))
        n_iter_no_change = self.n_iter_no_change
        if not np.isfinite(n_iter_no_change):
            n_iter_no_change = 2**62
        # the shuffle's seed, drawn only when there is a shuffle: scikit-learn draws nothing
        # more from random_state with shuffle=False, so a RandomState instance shared by
        # several fits (a clone's, cross-validation's) must be left where it is
        seed = int(random_state.randint(0, np.iinfo(np.int64).max, dtype=np.int64)) if self.shuffle else 0
        # the constant term of scikit-learn's Poisson loss, which bpnet's core leaves out
        offset = self._loss_constant(Y, sample_weight, None if self.shuffle else batch_size)
        # (negative targets make scikit-learn's loss NaN; the core's decisions then go unshifted)
        offset_core = offset if np.isfinite(offset) else 0.0
        if not incremental and offset_core:
            plateau = plateau._replace(best_loss=plateau.best_loss - offset_core)
        verbose = bool(self.verbose)

        callback = None
        if callbacks or (offset and verbose):
            def callback(record):
                if offset:
                    record = dict(record, loss=record["loss"] + offset)
                if verbose and offset:  # (Network.fit's line, with scikit-learn's loss)
                    print(_verbose_line(record))
                keep_going = True
                for cb in callbacks or ():
                    if cb(dict(record)) is False:
                        keep_going = False
                return keep_going

        self.n_iter_ = 0
        try:
            history = self._net.fit(
                X, Y,
                optimizer=self.solver,
                learning_rate=self.learning_rate_init,
                epochs=1 if incremental else self.max_iter,
                batch_size=batch_size,
                shuffle=self.shuffle,
                seed=seed,
                callback=callback,
                sample_weight=sample_weight,
                alpha=self.alpha,
                momentum=self.momentum,
                nesterovs_momentum=self.nesterovs_momentum,
                beta_1=self.beta_1,
                beta_2=self.beta_2,
                epsilon=self.epsilon,
                learning_rate_schedule=self.learning_rate,
                power_t=self.power_t,
                tol=self.tol,
                n_iter_no_change=n_iter_no_change,
                early_stopping=early_stopping,
                validation_data=validation,
                validation_metric=self._validation_metric,
                # scikit-learn: fit starts a fresh optimizer, partial_fit continues it
                warm_start=incremental,
                _keep_learning_rate=incremental,
                _epoch_loss_by_rows=True,  # scikit-learn's loss_curve_ with sample_weight
                _check_input=not finite,  # scikit-learn's validation has made the same pass
                verbose=verbose and not offset,  # (with an offset, printed by callback)
                # fit's loop continues the plateau state (afresh on a first pass); partial_fit's
                # one epoch is judged by _record_fit (_partial_fit_plateau) instead
                _plateau=None if incremental else plateau,
            )
        except KeyboardInterrupt as exc:
            # as scikit-learn: the epochs finished before Ctrl-C (or a KeyboardInterrupt from a
            # callback) stay recorded (n_iter_, loss_curve_, loss_, t_, ...), and early stopping
            # has put back the best epoch's weights
            warnings.warn("Training interrupted by user.")
            history = getattr(exc, "history", None)
            if isinstance(history, History):
                self._record_fit(history, n_train, incremental=incremental, loss_offset=offset)
            return
        if verbose and offset and history.message:
            print(history.message)
        self._record_fit(history, n_train, incremental=incremental, loss_offset=offset)
        if (not incremental and history.epochs_run == self.max_iter and not history.converged
                and not history.stopped_by_callback and not history.diverged):
            warnings.warn(
                f"Stochastic Optimizer: Maximum iterations ({self.max_iter}) reached and the "
                "optimization hasn't converged yet.",
                ConvergenceWarning,
            )

    def _fit_lbfgs(self, X, Y, sample_weight, callbacks, validation=None):
        net = self._net
        params = net.params
        last = {}
        if validation is not None:  # monitored after every iteration, as sgd/adam's epochs
            self.validation_scores_ = []
            self.best_validation_score_ = -np.inf
            self.validation_loss_curve_ = []

        # scikit-learn minimises its loss with the constant term (Poisson): L-BFGS-B's stopping
        # test is relative to |f|, so the same iterations need the same f
        offset = self._loss_constant(Y, sample_weight)

        def loss_and_grad(theta):
            params[:] = theta
            loss, flat = net.gradient(X, Y, sample_weight=sample_weight, alpha=self.alpha)
            loss = loss + offset
            last["loss"] = loss
            return loss, np.asarray(flat, dtype=np.float64)

        iteration = [0]
        t0 = [time.perf_counter()]

        def on_iteration(intermediate_result):
            iteration[0] += 1
            # SciPy >= 1.11 passes an OptimizeResult; older versions the parameter vector
            loss = float(getattr(intermediate_result, "fun", last.get("loss", np.nan)))
            self.loss_curve_.append(np.float64(loss))
            if self.verbose:
                print(f"Iteration {iteration[0]}, loss = {loss:.8f}")
            now = time.perf_counter()
            record = {"epoch": iteration[0], "loss": loss, "seconds": now - t0[0]}
            t0[0] = now
            if validation is not None:
                # this iteration's weights (older SciPy passes the vector itself)
                params[:] = getattr(intermediate_result, "x", intermediate_result)
                X_val, Y_val, w_val = validation
                val_loss = float(net.loss(X_val, Y_val, w_val))
                metric = self._validation_metric
                val_score = -val_loss if metric == "loss" else float(net.score(X_val, Y_val, metric, w_val))
                self.validation_loss_curve_.append(val_loss)
                self.validation_scores_.append(val_score)
                self.best_validation_score_ = max(self.best_validation_score_, val_score)
                record.update(val_loss=val_loss, val_score=val_score)
            if callbacks:
                if any([cb(dict(record)) is False for cb in callbacks]):
                    raise StopIteration

        self.loss_curve_ = []
        result = scipy.optimize.minimize(
            loss_and_grad,
            np.asarray(params, dtype=np.float64),
            method="L-BFGS-B",
            jac=True,
            callback=on_iteration,
            options={"maxfun": self.max_fun, "maxiter": self.max_iter, "gtol": self.tol},
        )
        params[:] = result.x
        self.n_iter_ = min(int(result.nit), self.max_iter)
        self.loss_ = np.float64(result.fun)  # scikit-learn's type
        if result.status != 0 and "callback" not in str(result.message).lower():
            warnings.warn(
                f"lbfgs failed to converge after {self.n_iter_} iteration(s) "
                f"(status={result.status}): {result.message}. Increase the number of iterations "
                "(max_iter) or scale the data.",
                ConvergenceWarning,
            )
        if not np.all(np.isfinite(params)):
            raise ValueError(
                "Solver produced non-finite parameter weights. The input data may contain large "
                "values and need to be preprocessed."
            )

    # ------------------------------------------------------------------ other methods
    @_guarded("read")
    def transform(self, X):
        """Activations of the last hidden layer (X itself when there is no hidden layer).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples, hidden_layer_sizes[-1])
        """
        check_is_fitted(self)
        X = validate_data(self, X, accept_sparse=["csr", "csc"], dtype=(np.float64, np.float32),
                          reset=False)
        if self.n_layers_ == 2:  # a copy of X, of the dtype predict's output would have
            return np.array(_dense(X, np.result_type(X.dtype, self._net.dtype)))
        with _thread_count(self.n_threads):
            hidden = self._net.forward(_dense(X, self._net.dtype)).a[-2]
        return hidden.astype(np.result_type(X.dtype, hidden.dtype))  # a copy, not a view of the trace

    def fit_transform(self, X, y, **fit_params):
        """``fit(X, y, **fit_params)``, then :meth:`transform` of X."""
        return self.fit(X, y, **fit_params).transform(X)

    @property
    def _n_features_out(self):
        """Columns of :meth:`transform`'s output (``ClassNamePrefixFeaturesOutMixin``'s name)."""
        net = self.__dict__.get("_net")
        if net is None:
            raise AttributeError(f"'{type(self).__name__}' object has no attribute '_n_features_out'")
        return net.layer_sizes[-2]

    def get_feature_names_out(self, input_features=None):
        """Names of :meth:`transform`'s columns: ``"mlpclassifier0"``, ... (the class name and
        the unit's index in the last hidden layer), or the input features' names when there is
        no hidden layer (``transform`` then returns X). Used by ``set_output``.

        Parameters
        ----------
        input_features : array-like of str or None, default=None
            Checked against ``feature_names_in_`` (when set) or ``n_features_in_``.

        Returns
        -------
        ndarray of str objects
        """
        check_is_fitted(self)
        if self.n_layers_ == 2:
            return OneToOneFeatureMixin.get_feature_names_out(self, input_features)
        return ClassNamePrefixFeaturesOutMixin.get_feature_names_out(self, input_features)

    @_guarded("read")
    def __getstate__(self):
        # The network travels as bpnet's model file (parameters and optimizer state).
        state = super().__getstate__()
        state = dict(state)
        net = state.pop("_net", None)
        if net is not None:
            state["_net_model_file"] = net.to_bytes()
        return state

    def __setstate__(self, state):
        state = dict(state)
        data = state.pop("_net_model_file", None)
        super().__setstate__(state)
        if data is not None:
            self._net = Network.from_bytes(data)

    # ------------------------------------------------------------------ model files
    _FITTED_SIMPLE = ("n_features_in_", "n_iter_", "t_", "n_outputs_", "n_layers_", "out_activation_",
                      "loss_curve_", "best_loss_", "validation_scores_", "best_validation_score_",
                      "loss_", "validation_loss_curve_", "_no_improvement_count")
    _FITTED_FLOAT64 = ("loss_", "best_loss_")  # np.float64 as in scikit-learn (and loss_curve_'s entries)

    @_guarded("read")
    def save(self, path) -> None:
        """Write the fitted estimator as a bpnet model file (docs/model-format.md).

        The network, its optimizer state, the constructor parameters and the fitted attributes
        travel in the file (as JSON metadata, no pickle), so :meth:`load` restores an estimator
        that predicts identically; the C++ library and ``bpnet.load`` read the network.
        Class labels must be strings, numbers or booleans.
        """
        check_is_fitted(self)
        import json

        params = {}
        for k, v in self.get_params(deep=False).items():
            if k == "random_state" and not (v is None or isinstance(v, (int, np.integer))):
                v = None  # a RandomState object cannot be stored; its use is over once fitted
            if k == "class_weight" and isinstance(v, dict):
                v = {"__pairs__": [[_json_scalar(a), _json_scalar(b)] for a, b in v.items()]}
            # NumPy-typed values (a GridSearchCV grid's np.int64, an array of layer sizes) as
            # plain JSON numbers and lists
            params[k] = v if isinstance(v, dict) else _json_value(v)
        fitted = {k: _json_value(getattr(self, k)) for k in self._FITTED_SIMPLE if hasattr(self, k)}
        if hasattr(self, "feature_names_in_"):
            fitted["feature_names_in_"] = [str(f) for f in self.feature_names_in_]
        if hasattr(self, "classes_"):
            classes = np.asarray(self.classes_)
            if classes.dtype.kind not in "biufU":
                raise ValueError(f"save: class labels of dtype {classes.dtype} cannot be stored in a "
                                 "model file; use pickle")
            fitted["classes_"] = {"dtype": classes.dtype.str, "values": classes.tolist(),
                                  "y_type": self._label_binarizer.y_type_}
        net = self._net.copy()
        net.metadata = {"estimator.class": type(self).__name__,
                        "estimator.params": json.dumps(params),
                        "estimator.fitted": json.dumps(fitted)}
        net.save(path)

    @classmethod
    def load(cls, path):
        """Read an estimator written by :meth:`save` (ValueError if the file holds another kind)."""
        import json

        net = load(path)
        kind = net.metadata.get("estimator.class")
        if kind != cls.__name__:
            raise ValueError(f"load: the model file holds {kind or 'a plain bpnet.Network'}, "
                             f"expected a {cls.__name__}")
        try:
            params = json.loads(net.metadata["estimator.params"])
            fitted = json.loads(net.metadata["estimator.fitted"])
        except (KeyError, ValueError) as exc:
            raise ValueError(f"load: the estimator's metadata in the model file is damaged ({exc})") from None
        if isinstance(params.get("hidden_layer_sizes"), list):
            params["hidden_layer_sizes"] = tuple(params["hidden_layer_sizes"])
        cw = params.get("class_weight")
        if isinstance(cw, dict) and "__pairs__" in cw:
            params["class_weight"] = {a: b for a, b in cw["__pairs__"]}
        est = cls(**params)
        for k, v in fitted.items():
            if k == "classes_":
                classes = np.array(v["values"], dtype=np.dtype(v["dtype"]))
                lb = LabelBinarizer()
                lb.fit(np.eye(len(classes), dtype=int) if v["y_type"] == "multilabel-indicator" else classes)
                est._label_binarizer = lb
                est.classes_ = classes
            elif k == "feature_names_in_":
                est.feature_names_in_ = np.asarray(v, dtype=object)
            elif k == "loss_curve_":
                est.loss_curve_ = [np.float64(x) for x in v]
            elif k in cls._FITTED_FLOAT64 and v is not None:
                setattr(est, k, np.float64(v))
            else:
                setattr(est, k, v)
        net.metadata = {}
        est._net = net
        return est

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        # transform() makes it usable as a feature extractor; its output keeps the dtype
        tags.transformer_tags = TransformerTags(preserves_dtype=["float64", "float32"])
        return tags


_COMMON_DOC = """
    hidden_layer_sizes : array-like of shape (n_layers - 2,), default=(100,)
        Neurons of each hidden layer; ``()`` gives a linear (generalised linear) model.
    activation : {'identity', 'logistic', 'tanh', 'relu', 'leaky_relu'} or list, default='relu'
        Hidden activation: one name for every hidden layer or, beyond scikit-learn, a list
        with one name per hidden layer (and 'leaky_relu').
    solver : {'lbfgs', 'sgd', 'adam'}, default='adam'
        'sgd' and 'adam' run bpnet's C++ training loop with scikit-learn's update rules;
        'lbfgs' runs SciPy's L-BFGS-B with loss and gradient from one C++ call.
    alpha : float, default=0.0001
        L2 penalty ``alpha / (2 n) * sum ||W||^2`` (n: the rows, or the sample-weight sum,
        of each batch).
    batch_size : int or 'auto', default='auto'
        Rows per step of sgd/adam; 'auto' is ``min(200, n_samples)``.
    learning_rate : {'constant', 'invscaling', 'adaptive'}, default='constant'
        Schedule of sgd's step size, as scikit-learn's.
    learning_rate_init : float, default=0.001
    power_t : float, default=0.5
    max_iter : int, default=200
        Epochs of sgd/adam; iterations of lbfgs.
    shuffle : bool, default=True
    random_state : int, RandomState instance or None, default=None
        Seeds the initial weights (the same numbers as scikit-learn's for the same value), the
        early-stopping split (scikit-learn's) and the shuffling (bpnet's own generator).
    tol, verbose, warm_start, momentum, nesterovs_momentum, early_stopping,
    validation_fraction, beta_1, beta_2, epsilon, n_iter_no_change, max_fun
        As scikit-learn's.
    n_threads : int or None, default=None
        Threads of bpnet's kernels during fit, predict and transform (-1: every core;
        None: leave bpnet's setting, which follows OMP_NUM_THREADS). Not in scikit-learn.
"""

# Notes shared by both estimators' docstrings.
_NOTES_DOC = """
    Notes
    -----
    float32 input is trained and stored in float32; anything else in float64. Outputs
    (``predict``, ``predict_proba``, ``transform``) follow scikit-learn's rule: float32 only
    when the model and X both are; a float32 model given float64 X computes in float32 and
    returns float64 (a cast of the output; no copy when the dtypes agree).
    ``transform`` and ``set_output`` (pandas or polars output for ``transform``) are beyond
    scikit-learn's MLP; ``get_feature_names_out`` names the hidden units ``"mlpregressor0"``,
    ... (or ``"mlpclassifier0"``, ...).
    Sparse input is accepted and densified. Pickles carry the network as bpnet's model file.
    If the loss becomes non-finite in sgd/adam, training stops with the last finite weights
    and a ``bpnet.DivergenceWarning`` (scikit-learn raises ValueError after training).
    With ``sample_weight``, ``loss_`` and ``loss_curve_`` average the batch losses weighted
    by their row counts, as scikit-learn's.
    ``shuffle=True`` shuffles with bpnet's own generator (seeded from ``random_state``), so
    with mini-batches the batches, and so the weights, differ from scikit-learn's; with
    ``shuffle=False`` (or one batch per epoch) sgd and adam take scikit-learn's steps.
    Long lbfgs runs drift apart from scikit-learn's by rounding (sums in another order).
    As in scikit-learn, a warm-started ``fit`` continues the plateau state (``tol``,
    ``n_iter_no_change``) of the previous ``fit`` or ``partial_fit`` calls: it goes on
    counting from ``_no_improvement_count`` and compares with ``best_loss_`` (or, with early
    stopping, ``best_validation_score_``), while the optimizer and its sgd rate start afresh.
    Threads: ``predict``, ``predict_proba``, ``transform``, ``score``, ``save`` and pickling in
    other threads wait for a running ``fit`` or ``partial_fit`` and see the model it ends with;
    a fit waits for the reads in flight; ``set_params`` waits for a fit. An epoch callback may
    read the estimator it trains.
    Ctrl-C (or a KeyboardInterrupt from a callback) stops sgd/adam with a warning, as in
    scikit-learn, keeping what the finished epochs recorded (``n_iter_``, ``loss_curve_``, ...).
    """

_ATTR_DOC = """
    coefs_ : list of ndarray
        ``coefs_[i]`` of shape (n_units[i], n_units[i+1]): a transposed, writable view of the
        network's weight matrix W_{i+1}, sharing memory with the flat parameter buffer
        ``_net.params``. Writing into it changes the model; assigning a list copies it in.
    intercepts_ : list of ndarray
        Views of the biases.
    loss_, best_loss_, loss_curve_, validation_scores_, best_validation_score_, t_,
    n_iter_, n_layers_, n_outputs_, out_activation_, n_features_in_, feature_names_in_
        As scikit-learn's, with its types (``loss_``, ``best_loss_`` and the entries of
        ``loss_curve_`` are ``np.float64``; the validation scores are floats).
        ``loss_curve_`` is also kept for lbfgs, one entry per iteration; ``validation_scores_``
        is also filled when ``X_val`` is given to ``fit`` (for lbfgs, one entry per iteration).
    validation_loss_curve_ : list of float
        Loss on the validation rows after each epoch (empty without validation rows). Not in
        scikit-learn.
"""

_FIT_EXTRAS_DOC = """
        X_val : {array-like, sparse matrix} of shape (n_val, n_features), optional
            Validation rows chosen by the user. With ``early_stopping=True`` they replace the
            ``validation_fraction`` split; otherwise they are only monitored
            (``validation_scores_``, ``validation_loss_curve_``). Not in scikit-learn.
        y_val : array-like, optional
            Targets of ``X_val``.
        sample_weight_val : array-like of shape (n_val,), optional
        callbacks : callable or list of callables, optional
            Each is called after every epoch (lbfgs: every iteration) with a dict: ``epoch``,
            ``loss``, ``seconds``, for sgd/adam ``learning_rate`` and, with validation rows,
            ``val_loss`` and ``val_score``. Returning False stops training. Not in
            scikit-learn.
"""


class MLPRegressor(RegressorMixin, _BaseMLP):
    __doc__ = (
        """Multi-layer perceptron regressor: scikit-learn's ``MLPRegressor``, trained by bpnet.

    Minimises the squared error (or the Poisson deviance) with an L2 penalty by LBFGS, SGD
    or Adam.

    Parameters
    ----------
    loss : {'squared_error', 'poisson'}, default='squared_error'
        'squared_error' is ``1/2 * mean over all entries of (y - y_pred)^2``. With several
        outputs, bpnet's gradient is the gradient of exactly this loss; scikit-learn's gradient
        is that of the sum over outputs (n_outputs times larger; its issue #8349), so sgd
        steps for multi-output regression are n_outputs times smaller here than there for the
        same ``learning_rate_init`` (adam and lbfgs are not affected in the same way).
        'poisson' uses an exp output; ``loss_``, ``loss_curve_`` and ``best_loss_`` are
        scikit-learn's half Poisson deviance, its constant term ``y log y - y`` included (with
        ``sample_weight`` and ``shuffle=True``, that term is the weighted mean over all rows
        rather than over each of bpnet's batches)."""
        + _COMMON_DOC
        + """
    Attributes
    ----------"""
        + _ATTR_DOC
        + _NOTES_DOC
    )

    _parameter_constraints: dict = {
        **_BaseMLP._parameter_constraints,
        "loss": [StrOptions({"squared_error", "poisson"})],
    }
    _validation_metric = "r2"

    def __init__(
        self,
        loss="squared_error",
        hidden_layer_sizes=(100,),
        activation="relu",
        *,
        solver="adam",
        alpha=0.0001,
        batch_size="auto",
        learning_rate="constant",
        learning_rate_init=0.001,
        power_t=0.5,
        max_iter=200,
        shuffle=True,
        random_state=None,
        tol=1e-4,
        verbose=False,
        warm_start=False,
        momentum=0.9,
        nesterovs_momentum=True,
        early_stopping=False,
        validation_fraction=0.1,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        n_iter_no_change=10,
        max_fun=15000,
        n_threads=None,
    ):
        self.loss = loss
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.max_fun = max_fun
        self.n_threads = n_threads

    def _output(self):
        if self.loss == "poisson":
            return "exp", "poisson"
        return "identity", "half_squared_error"

    def _loss_constant(self, Y, sample_weight, batch_size=None):
        """The term of scikit-learn's half Poisson deviance that does not depend on the model.

        scikit-learn's loss is ``average_rows(sum_outputs(y log(y / y_pred) - y + y_pred))``;
        bpnet's core computes ``y_pred - y log(y_pred)``, without ``y log y - y``. An epoch's
        loss is the mean of its batch losses weighted by their row counts, and each batch
        loss averages with the batch's sample weights, so with weights the constant depends
        on the batches: pass ``batch_size`` for unshuffled mini-batches (scikit-learn's
        ``gen_batches``), None for one batch (or, shuffled, the weighted mean over all rows).

        Parameters
        ----------
        Y : ndarray of shape (n_samples, n_outputs)
        sample_weight : ndarray of shape (n_samples,) or None
        batch_size : int or None, default=None

        Returns
        -------
        float (NaN where a target is negative, as scikit-learn's loss)
        """
        if self.loss != "poisson":
            return 0.0
        Y = np.asarray(Y, dtype=np.float64)
        with np.errstate(invalid="ignore"):
            c = (xlogy(Y, Y) - Y).sum(axis=1)
        if sample_weight is None:
            return float(np.mean(c))
        w = np.asarray(sample_weight, dtype=np.float64)
        n = len(c)
        batches = [slice(0, n)] if batch_size is None or batch_size >= n else gen_batches(n, batch_size)
        total = 0.0
        for sl in batches:
            w_sum = w[sl].sum()
            if w_sum > 0:  # (a batch of zero weight adds no loss)
                total += (sl.stop - sl.start) * float(np.dot(w[sl], c[sl]) / w_sum)
        return total / n

    def _encode_y(self, y):
        y = np.asarray(y)
        if y.dtype.kind not in "biuf":
            raise ValueError(f"y_val: expected numeric values, got dtype {y.dtype}")
        return y.reshape(-1, 1) if y.ndim == 1 else y

    def _validate_input(self, X, y, incremental, reset, classes=None):
        if classes is not None:
            raise ValueError("classes: only classifiers have classes, got a value for MLPRegressor")
        X, y = validate_data(self, X, y, accept_sparse=["csr", "csc"], multi_output=True,
                             y_numeric=True, dtype=(np.float64, np.float32), reset=reset)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        return X, (y.reshape(-1, 1) if y.ndim == 1 else y), y

    def fit(self, X, y, sample_weight=None, *, X_val=None, y_val=None, sample_weight_val=None,
            callbacks=None):
        """Fit the model to X and y.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights (scikit-learn's MLP also takes negative ones; bpnet refuses
            them with a ValueError), not all zero.
        """
        return self._fit(X, y, sample_weight, incremental=False, X_val=X_val, y_val=y_val,
                         sample_weight_val=sample_weight_val, callbacks=callbacks)

    fit.__doc__ += _FIT_EXTRAS_DOC + """
        Returns
        -------
        self
        """

    def _check_solver(self):
        if self.solver not in _STOCHASTIC:
            raise AttributeError(
                f"partial_fit is only available for stochastic optimizers. {self.solver} is not "
                "stochastic."
            )
        return True

    @available_if(lambda est: est._check_solver())
    def partial_fit(self, X, y, sample_weight=None):
        """One epoch of sgd/adam over X, y, continuing the optimizer state.

        As scikit-learn's, the plateau bookkeeping carries over from call to call: an epoch
        whose loss is not below ``best_loss_ - tol`` counts as no improvement, and once more
        than ``n_iter_no_change`` calls in a row did not improve, sgd with
        ``learning_rate="adaptive"`` divides its rate by 5 for the following calls (training
        never stops by itself).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        self
        """
        return self._fit(X, y, sample_weight, incremental=True)

    @_guarded("read")
    def predict(self, X):
        """Predicted values.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,) or (n_samples, n_outputs)
        """
        out = self._forward_output(X)
        return out.ravel() if out.shape[1] == 1 else out


class MLPClassifier(ClassifierMixin, _BaseMLP):
    __doc__ = (
        """Multi-layer perceptron classifier: scikit-learn's ``MLPClassifier``, trained by bpnet.

    Minimises the log-loss (softmax for multiclass, independent sigmoids for binary and
    multilabel) with an L2 penalty by LBFGS, SGD or Adam.

    Parameters
    ----------"""
        + _COMMON_DOC
        + """    class_weight : dict, list of dicts, 'balanced' or None, default=None
        Weights of the classes, multiplied into ``sample_weight`` (as
        ``sklearn.utils.class_weight.compute_sample_weight``; 'balanced' is computed from the
        rows of each ``fit`` / ``partial_fit`` call). Not in scikit-learn's MLP.

    Attributes
    ----------
    classes_ : ndarray or list of ndarray
        The class labels."""
        + _ATTR_DOC
        + _NOTES_DOC
    )

    _parameter_constraints: dict = {
        **_BaseMLP._parameter_constraints,
        "class_weight": [None, dict, list, StrOptions({"balanced"})],
    }
    _validation_metric = "accuracy"
    loss = "log_loss"  # scikit-learn's attribute (not a parameter of the classifier)

    def __init__(
        self,
        hidden_layer_sizes=(100,),
        activation="relu",
        *,
        solver="adam",
        alpha=0.0001,
        batch_size="auto",
        learning_rate="constant",
        learning_rate_init=0.001,
        power_t=0.5,
        max_iter=200,
        shuffle=True,
        random_state=None,
        tol=1e-4,
        verbose=False,
        warm_start=False,
        momentum=0.9,
        nesterovs_momentum=True,
        early_stopping=False,
        validation_fraction=0.1,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        n_iter_no_change=10,
        max_fun=15000,
        n_threads=None,
        class_weight=None,
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.max_fun = max_fun
        self.n_threads = n_threads
        self.class_weight = class_weight

    def _output(self):
        if self._label_binarizer.y_type_ == "multiclass":
            return "softmax", "cross_entropy"
        return "logistic", "binary_cross_entropy"

    def _validate_input(self, X, y, incremental, reset, classes=None):
        X, y = validate_data(self, X, y, accept_sparse=["csr", "csc"], multi_output=True,
                             dtype=(np.float64, np.float32), reset=reset)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        # classes_: set by a first fit (or a fit without warm_start) from y, or from `classes`
        # when y is a part of the data; a warm-started fit must see the same classes,
        # partial_fit (and a part of the data) only classes it knows
        from_y = classes is None and (not hasattr(self, "classes_")
                                      or (not self.warm_start and not incremental))
        if from_y or (reset and classes is not None):
            self._label_binarizer = LabelBinarizer()
            self._label_binarizer.fit(y if from_y or type_of_target(y).startswith("multilabel") else classes)
            self.classes_ = self._label_binarizer.classes_
        if not from_y:
            labels = unique_labels(y)
            if self.warm_start and classes is None:
                if set(labels) != set(self.classes_):
                    raise ValueError(
                        "warm_start can only be used where `y` has the same classes as in the "
                        f"previous call to fit. Previously got {self.classes_}, `y` has {labels}"
                    )
            elif len(np.setdiff1d(labels, self.classes_, assume_unique=True)):
                raise ValueError(
                    f"`y` has classes not in `self.classes_`. `self.classes_` has {self.classes_}. "
                    f"'y' has {labels}."
                )
        Y = self._label_binarizer.transform(y)
        Y = Y.toarray() if sparse.issparse(Y) else np.asarray(Y)
        return X, Y.reshape(len(Y), -1).astype(bool), y

    def _encode_y(self, y_val):
        y_val = np.asarray(y_val)
        if y_val.ndim == 2 and y_val.shape[1] == 1:
            y_val = y_val.ravel()
        unseen = np.setdiff1d(unique_labels(y_val), self.classes_)
        if y_val.ndim == 1 and len(unseen):
            raise ValueError(f"y_val has classes not in `self.classes_` {self.classes_}: {unseen}")
        Y = self._label_binarizer.transform(y_val)
        Y = Y.toarray() if sparse.issparse(Y) else np.asarray(Y)
        return Y.reshape(len(Y), -1)

    def _class_weighted(self, sample_weight, y_raw):
        if self.class_weight is None:
            return sample_weight
        cw = compute_sample_weight(self.class_weight, y_raw)
        return cw if sample_weight is None else sample_weight * cw

    def fit(self, X, y, sample_weight=None, *, X_val=None, y_val=None, sample_weight_val=None,
            callbacks=None):
        """Fit the model to X and y.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Class labels, or a label-indicator matrix for multilabel classification.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights (scikit-learn's MLP also takes negative ones; bpnet refuses
            them with a ValueError), not all zero.
        """
        return self._fit(X, y, sample_weight, incremental=False, X_val=X_val, y_val=y_val,
                         sample_weight_val=sample_weight_val, callbacks=callbacks)

    fit.__doc__ += _FIT_EXTRAS_DOC + """
        Returns
        -------
        self
        """

    def _check_solver(self):
        if self.solver not in _STOCHASTIC:
            raise AttributeError(
                f"partial_fit is only available for stochastic optimizers. {self.solver} is not "
                "stochastic."
            )
        return True

    @available_if(lambda est: est._check_solver())
    @_guarded("write")
    def partial_fit(self, X, y, sample_weight=None, classes=None):
        """One epoch of sgd/adam over X, y, continuing the optimizer state.

        As scikit-learn's, the plateau bookkeeping carries over from call to call: an epoch
        whose loss is not below ``best_loss_ - tol`` counts as no improvement, and once more
        than ``n_iter_no_change`` calls in a row did not improve, sgd with
        ``learning_rate="adaptive"`` divides its rate by 5 for the following calls (training
        never stops by itself).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        sample_weight : array-like of shape (n_samples,), default=None
        classes : array of shape (n_classes,), default=None
            Every class of all calls; required on the first call, ignored later. A later
            call whose y holds a label not in ``classes_`` raises ValueError.

        Returns
        -------
        self
        """
        if _check_partial_fit_first_call(self, classes):
            self._label_binarizer = LabelBinarizer()
            if type_of_target(y).startswith("multilabel"):
                self._label_binarizer.fit(y)
            else:
                self._label_binarizer.fit(classes)
        return self._fit(X, y, sample_weight, incremental=True)

    @_guarded("read")
    def predict(self, X):
        """Predicted class labels.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,) or (n_samples, n_classes) for multilabel
        """
        out = self._forward_output(X)
        if self.n_outputs_ == 1:
            out = out.ravel()
        return self._label_binarizer.inverse_transform(out)

    @_guarded("read")
    def predict_proba(self, X):
        """Probability of each class, in the order of ``classes_``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
        """
        out = self._forward_output(X)
        if self.n_outputs_ == 1:
            p = out.ravel()
            return np.vstack([1 - p, p]).T
        return out

    def predict_log_proba(self, X):
        """Logarithm of :meth:`predict_proba` (``-inf`` where a probability is 0).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
        """
        proba = self.predict_proba(X)
        with np.errstate(divide="ignore"):
            return np.log(proba, out=proba)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags
