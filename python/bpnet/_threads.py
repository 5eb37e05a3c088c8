"""Thread count of bpnet's kernels (OpenMP when the build has it)."""
from __future__ import annotations

import operator

from . import _core


def get_num_threads() -> int:
    """Number of threads bpnet's kernels may use (follows OMP_NUM_THREADS until set)."""
    return _core.get_num_threads()


def set_num_threads(n: int) -> None:
    """Set the number of threads bpnet's kernels may use (n >= 1)."""
    try:
        n = operator.index(n)
    except TypeError:
        raise ValueError(f"n: expected an integer >= 1, got {n!r}") from None
    if n < 1:
        raise ValueError(f"n: expected an integer >= 1, got {n}")
    _core.set_num_threads(n)
