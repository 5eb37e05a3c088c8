"""Out-of-core training: data larger than memory, read block by block (numpy only).

:meth:`bpnet.Network.fit` already reads a C-contiguous array of the network's dtype in place,
and an ``np.memmap`` is such an array: for a file that fits in the address space, ``fit`` on
the memmap trains without loading it (the OS pages rows in as the batches reach them). This
module covers what that does not:

- :class:`RowFile` — the rows of a ``.npy`` file (or a raw C-ordered binary file) mapped one
  *window* at a time, so the process never maps (and the OS never has to keep) more than one
  block, whatever the file's size or the process's address-space limit (``ulimit -v``).
- :func:`fit_blocks` — epochs over blocks of rows: each block is trained by one
  ``Network.fit(epochs=1)`` that continues the optimizer state, blocks in order or in a
  shuffled order per epoch, rows shuffled inside each block if asked ("block shuffling", the
  usual compromise between reading a disk in order and shuffling the data).

With ``shuffle_blocks=False, shuffle=False`` and ``block_rows`` a multiple of ``batch_size``,
:func:`fit_blocks` takes exactly the steps of ``net.fit(X, y, shuffle=False)`` over the whole
data (the same bits). See docs/out-of-core.md.
"""
from __future__ import annotations

import operator
import os
import time
import warnings
from typing import Callable, Optional

import numpy as np

from ._network import DivergenceWarning, History, Network, _positive_int, _seed

__all__ = ["RowFile", "fit_blocks"]


class RowFile:
    """The rows of a 2-D array stored in a file, mapped window by window (read-only).

    Parameters
    ----------
    path : str or path-like
        A ``.npy`` file (shape, dtype and data offset are read from its header; C order only),
        or a raw binary file of C-ordered rows (then give ``dtype`` and ``n_cols``).
    dtype, n_cols, offset : for raw files only: the element type, the columns per row and the
        byte offset of the first row (a non-negative integer; default 0). Giving any of them
        for a ``.npy`` file (one that starts with NumPy's magic string) is a ValueError: its
        header says all three.

    ``len(f)``, ``f.shape``, ``f.dtype``; ``f[a:b]`` is a read-only ``np.memmap`` of rows a..b-1
    only (a contiguous slice; step 1), unmapped when the last reference to it goes.
    """

    def __init__(self, path, dtype=None, n_cols: Optional[int] = None, offset: Optional[int] = None):
        self.path = os.fspath(path)
        size = os.path.getsize(self.path)
        with open(self.path, "rb") as f:
            is_npy = f.read(len(np.lib.format.MAGIC_PREFIX)) == np.lib.format.MAGIC_PREFIX
        given = {k: v for k, v in (("dtype", dtype), ("n_cols", n_cols), ("offset", offset)) if v is not None}
        if is_npy and given:
            raise ValueError(f"{self.path}: a .npy file, whose header gives the dtype, shape and data "
                             f"offset: expected no {', '.join(given)} (those are for raw files), got "
                             + ", ".join(f"{k}={v!r}" for k, v in given.items()))
        if not is_npy and dtype is None and n_cols is None:
            raise ValueError(f"{self.path}: not a .npy file (it does not start with NumPy's magic "
                             f"string); for a raw binary file of rows, give dtype and n_cols")
        if is_npy:
            with open(self.path, "rb") as f:
                version = np.lib.format.read_magic(f)
                if version == (1, 0):
                    shape, fortran, dt = np.lib.format.read_array_header_1_0(f)
                else:
                    shape, fortran, dt = np.lib.format.read_array_header_2_0(f)
                self.offset = f.tell()
            if fortran and len(shape) > 1:
                raise ValueError(f"{self.path}: expected a C-ordered array, got Fortran order")
            if len(shape) not in (1, 2):
                raise ValueError(f"{self.path}: expected a 1-D or 2-D array, got shape {shape}")
            self.dtype = np.dtype(dt)
            self.shape = tuple(shape)
            if self.dtype.kind not in "biuf":
                raise ValueError(f"{self.path}: expected numeric values, got dtype {self.dtype}")
            need = self.offset + int(np.prod(self.shape, dtype=np.int64)) * self.dtype.itemsize
            if need > size:
                raise ValueError(f"{self.path}: the header describes {need} bytes but the file has "
                                 f"{size} (truncated?)")
        else:
            if dtype is None or n_cols is None:
                raise ValueError(f"dtype and n_cols: expected both for a raw file, got dtype={dtype!r}, "
                                 f"n_cols={n_cols!r}")
            self.dtype = np.dtype(dtype)
            if self.dtype.kind not in "biuf":
                raise ValueError(f"dtype: expected a numeric type, got {self.dtype}")
            if isinstance(n_cols, bool) or not isinstance(n_cols, (int, np.integer)) or n_cols < 1:
                raise ValueError(f"n_cols: expected a positive integer, got {n_cols!r}")
            bad_offset = f"offset: expected a non-negative integer (bytes), got {offset!r}"
            if isinstance(offset, (bool, np.bool_)):
                raise ValueError(bad_offset)
            try:
                self.offset = 0 if offset is None else operator.index(offset)
            except TypeError:
                raise ValueError(bad_offset) from None
            if not 0 <= self.offset <= size:
                raise ValueError(f"offset: expected a value in [0, {size}] (the file's size), got {offset}")
            row = self.dtype.itemsize * int(n_cols)
            if (size - self.offset) % row:
                raise ValueError(f"{self.path}: {size - self.offset} bytes after the offset is not a "
                                 f"whole number of rows of {n_cols} {self.dtype} values")
            self.shape = ((size - self.offset) // row, int(n_cols))
        self._row_bytes = self.dtype.itemsize * int(np.prod(self.shape[1:], dtype=np.int64))

    def __len__(self) -> int:
        return self.shape[0]

    def __repr__(self) -> str:
        return f"RowFile({self.path!r}, shape={self.shape}, dtype={self.dtype})"

    def __getitem__(self, key):
        if not isinstance(key, slice):
            raise TypeError("RowFile: index with a slice of rows, e.g. f[a:b]")
        start, stop, step = key.indices(len(self))
        if step != 1:
            raise ValueError("RowFile: expected a contiguous slice (step 1)")
        n = max(stop - start, 0)
        if n == 0:
            return np.empty((0,) + self.shape[1:], dtype=self.dtype)
        return np.memmap(self.path, dtype=self.dtype, mode="r",
                         offset=self.offset + start * self._row_bytes, shape=(n,) + self.shape[1:])


_FIT_KEYS = {"optimizer", "learning_rate", "alpha", "momentum", "nesterovs_momentum", "beta_1",
             "beta_2", "epsilon", "n_threads", "batch_size"}


def fit_blocks(
    net: Network,
    X,
    y,
    *,
    block_rows: Optional[int] = None,
    epochs: int = 1,
    shuffle_blocks: bool = False,
    shuffle: bool = False,
    seed: Optional[int] = None,
    sample_weight=None,
    warm_start: bool = True,
    callback: Optional[Callable[[dict], Optional[bool]]] = None,
    **fit_kwargs,
) -> History:
    """Train ``net`` for ``epochs`` passes over (X, y), one block of rows at a time.

    Parameters
    ----------
    X, y : row-sliceable arrays of the same length: :class:`RowFile`, ``np.memmap``, ndarray,
        or anything whose ``X[a:b]`` returns an array (h5py, zarr). A block is converted to the
        network's dtype only if it is not already C-contiguous of that dtype.
    block_rows : int, optional
        Rows per block (rounded down to a multiple of ``batch_size``, at least one batch).
        Default: about 64 MiB of X.
    epochs : int
    shuffle_blocks : bool
        Visit the blocks in a new random order each epoch.
    shuffle : bool
        Shuffle the rows inside each block (``Network.fit``'s shuffle).
    seed : int, optional
        Seed of both shuffles (per epoch and block): None or an integer in [0, 2**64), as
        :meth:`Network.fit`'s.
    sample_weight : row-sliceable, optional
    warm_start : bool
        For the first block: continue the optimizer state of an earlier fit (False: fresh).
        Later blocks always continue it.
    callback : callable, optional
        After every epoch, with {"epoch", "loss", "seconds"}; False stops training.
    **fit_kwargs
        optimizer, learning_rate, batch_size, alpha, momentum, nesterovs_momentum, beta_1,
        beta_2, epsilon, n_threads — as :meth:`Network.fit` (constant learning-rate schedule).

    Returns
    -------
    History
        Per epoch, the loss averaged over the epoch's batches (weighted by their rows or
        Σ sample_weight) and the wall time. If the loss becomes non-finite, training stops,
        the weights and the optimizer state from the start of that epoch are put back (for
        the first epoch: those ``net`` had before the call), ``diverged`` is True and a
        :class:`DivergenceWarning` is issued.

    An exception while training a block (a ValueError for bad values in it, an OSError for a
    file truncated since the last epoch, ...) also puts back the weights and optimizer state
    of the epoch's start before it propagates; a ValueError names the block's rows. Ctrl-C
    keeps the weights reached, as :meth:`Network.fit` does. With ``sample_weight`` all zero
    nothing can be learnt: a ValueError, as from ``fit``.
    """
    unknown = set(fit_kwargs) - _FIT_KEYS
    if unknown:
        raise ValueError(f"fit_blocks: unsupported keyword(s) {sorted(unknown)}; expected some of "
                         f"{sorted(_FIT_KEYS)}")
    n = len(X)
    if len(y) != n:
        raise ValueError(f"y has {len(y)} rows, expected {n} (the rows of X)")
    if sample_weight is not None and len(sample_weight) != n:
        raise ValueError(f"sample_weight has {len(sample_weight)} rows, expected {n}")
    if n == 0:
        raise ValueError("X: expected at least 1 row, got 0")
    epochs = _positive_int(epochs, "epochs")
    if callback is not None and not callable(callback):  # (before any block is trained)
        raise ValueError(f"callback: expected a callable, got {callback!r}")
    batch = _positive_int(fit_kwargs.get("batch_size"), "batch_size", allow_none=True)
    if batch is None:
        raise ValueError("batch_size: expected a positive integer (mini-batches; a full batch "
                         "over data that does not fit in memory is not what fit_blocks does)")
    if block_rows is None:
        row_bytes = net.dtype.itemsize * net.layer_sizes[0]
        block_rows = max(1, (64 << 20) // row_bytes)
    block_rows = _positive_int(block_rows, "block_rows")
    block_rows = max(batch, block_rows // batch * batch)
    starts = np.arange(0, n, block_rows)
    seed = _seed(seed)
    core = net._net
    spare = None  # a network of the same shape that holds the optimizer state of the epoch's start
    history = History()
    first = True
    for epoch in range(1, epochs + 1):
        t0 = time.perf_counter()
        snapshot = net.params.copy()
        if spare is None:
            spare = type(core)(list(core.layer_sizes), core.activations, core.loss_name, 0)
        spare._copy_train_state_from(core)
        rng = np.random.default_rng((seed, epoch))
        order = rng.permutation(len(starts)) if shuffle_blocks else np.arange(len(starts))
        block_seeds = rng.integers(0, 2**63, size=len(starts))
        total = weight = 0.0
        diverged = False
        for k in order:
            a = int(starts[k])
            b = min(a + block_rows, n)
            try:
                Xb, yb = X[a:b], y[a:b]
                wb = None if sample_weight is None else np.asarray(sample_weight[a:b])
                if wb is not None and not np.any(wb):
                    continue  # nothing to learn from this block (as Network.fit's zero-weight batches)
                # divergence is read from the History (no warnings filter: that is process-wide)
                h = net.fit(Xb, yb, epochs=1, shuffle=shuffle, seed=int(block_seeds[k]),
                            sample_weight=wb, warm_start=warm_start if first else True,
                            _warn_divergence=False, **fit_kwargs)
            except Exception as exc:
                # a bad block (NaN in it, a file truncated since the last epoch, ...) is found
                # only when it is reached: put back the weights and the optimizer state of the
                # epoch's start, as for a divergence, rather than leave the epoch half done
                net.params[...] = snapshot
                core._copy_train_state_from(spare)
                where = f"fit_blocks: in the block of rows {a} to {b - 1} (epoch {epoch})"
                kept = "the weights and optimizer state from the start of that epoch were kept"
                if isinstance(exc, ValueError):  # row numbers in the message are the block's
                    raise ValueError(f"{where} (indices below count from row {a}): {exc}; {kept}") from exc
                raise
            if h.diverged:
                diverged, rows = True, (a, b)
            del Xb, yb  # unmap the window
            first = False
            if diverged:
                break
            bw = float(b - a) if sample_weight is None else float(np.sum(sample_weight[a:b], dtype=np.float64))
            del wb
            if h.loss and bw > 0:
                total += h.loss[0] * bw
                weight += bw
        if diverged:
            # Network.fit put back the weights and optimizer state of the block's start; the
            # earlier blocks of this epoch have moved both since the epoch's start
            net.params[...] = snapshot
            core._copy_train_state_from(spare)
            history.diverged = True
            history.message = (
                f"training diverged: the loss became non-finite in epoch {epoch} (in the block of "
                f"rows {rows[0]} to {rows[1] - 1}); the weights and optimizer state from the start "
                f"of that epoch were kept; try a smaller learning_rate (it was "
                f"{float(fit_kwargs.get('learning_rate', 0.1)):g})")
            warnings.warn(history.message, DivergenceWarning, stacklevel=2)
            break
        if weight == 0 and sample_weight is not None:  # every block was skipped: nothing learnt
            raise ValueError("sample_weight: expected a positive sum, got 0")
        loss = total / weight if weight > 0 else float("nan")
        history.loss.append(loss)
        history.seconds.append(time.perf_counter() - t0)
        history.learning_rate.append(float(fit_kwargs.get("learning_rate", 0.1)))
        history.epochs_run = epoch
        if loss < history.best_loss:
            history.best_loss, history.best_epoch = loss, epoch
        if callback is not None and callback({"epoch": epoch, "loss": loss,
                                              "seconds": history.seconds[-1]}) is False:
            history.stopped_by_callback = True
            history.message = f"training stopped by the callback after epoch {epoch}"
            break
    return history
