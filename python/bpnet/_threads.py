"""Thread count of bpnet's kernels (OpenMP when the build has it)."""
from __future__ import annotations

from typing import Optional

from . import _core
from ._network import _BELOW_THREADS, _positive_int


def get_num_threads() -> int:
    """Number of threads bpnet's kernels may use.

    The first of: a per-call or per-estimator ``n_threads``; the count given to
    :func:`set_num_threads`; OpenMP's setting (``OMP_NUM_THREADS``, or the number of cores),
    which threadpoolctl's ``threadpool_limits(user_api="openmp")`` changes. Another library
    that sets the thread count of the same OpenMP runtime changes it too: e.g.
    ``torch.set_num_threads(1)``, where PyTorch loaded the same libgomp, leaves bpnet on one
    thread until :func:`set_num_threads` gives it a count of its own.
    """
    return _core.get_num_threads()


def set_num_threads(n: Optional[int]) -> None:
    """Set the number of threads bpnet's kernels may use (n >= 1), process-wide.

    The count then takes precedence over ``OMP_NUM_THREADS`` and over threadpoolctl's OpenMP
    limits (a ``threadpool_limits`` block no longer changes it); a per-call ``n_threads``
    still takes precedence over it. ``set_num_threads(None)`` forgets it: OpenMP's setting,
    and with it threadpoolctl's limits, count again.
    """
    if n is None:
        _core.reset_num_threads()
        return
    _core.set_num_threads(_positive_int(n, "n", below=_BELOW_THREADS))
