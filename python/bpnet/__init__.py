"""bpnet: neural networks trained by backpropagation, with a fast C++ core.

The core objects:

- :class:`Network` — a multi-layer perceptron over one flat parameter buffer; ``forward``
  keeps every layer's z and a, ``backward`` returns every δ and gradient, ``fit`` trains it.
- :func:`gradcheck` — central finite differences against ``backward``, per layer.
- :func:`load` — read a model file written by :meth:`Network.save` (or the C++ library).
"""
from __future__ import annotations

import os as _os

# bpnet's OpenMP threads spin only briefly before they sleep between parallel regions. With
# libgomp's default (a long spin), idle threads fought other thread pools (NumPy's BLAS, a
# second process) for the cores and made 2-thread training several times slower than 1 thread
# on a busy machine; sleeping at once (OMP_WAIT_POLICY=passive) costs a wake-up per matrix
# product. A short spin keeps back-to-back products fast and yields the cores soon after.
# OpenMP reads this when the extension's runtime loads, so it is set only around that import,
# only if the user set neither variable, and the environment is restored afterwards.
_set_spin = "OMP_WAIT_POLICY" not in _os.environ and "GOMP_SPINCOUNT" not in _os.environ
if _set_spin:
    _os.environ["GOMP_SPINCOUNT"] = "20000"
try:
    from . import _core
except ImportError as exc:  # pragma: no cover - only without a build
    raise ImportError(
        "bpnet's C++ extension (bpnet._core) could not be imported: did you forget to "
        "build it? Install the package with `pip install .` from the source tree. "
        f"(original error: {exc})"
    ) from exc
finally:
    if _set_spin:
        del _os.environ["GOMP_SPINCOUNT"]

from ._network import DivergenceWarning, Gradients, History, Network, Trace, load
from ._gradcheck import GradcheckResult, gradcheck
from ._threads import get_num_threads, set_num_threads
from ._explain import Explanation, explain
from . import plotting  # matplotlib itself is imported on the first plot

__version__ = _core.__version__

__all__ = [
    "__version__",
    "Network",
    "Trace",
    "Gradients",
    "History",
    "DivergenceWarning",
    "load",
    "gradcheck",
    "GradcheckResult",
    "get_num_threads",
    "set_num_threads",
    "explain",
    "Explanation",
    "plotting",
]

# The scikit-learn estimators load on first access (scikit-learn is an optional extra). They
# are listed in __all__ only where scikit-learn is installed, so that `from bpnet import *`
# works with NumPy alone (a listed name that raises ImportError would make it fail).
_ESTIMATORS = ("MLPRegressor", "MLPClassifier")
try:
    import importlib.util as _importlib_util

    _have_sklearn = _importlib_util.find_spec("sklearn") is not None
except (ImportError, ValueError):  # pragma: no cover - a broken sklearn entry
    _have_sklearn = False
if _have_sklearn:
    __all__ += list(_ESTIMATORS)


def __dir__():
    return sorted(set(globals()) | set(_ESTIMATORS))


def __getattr__(name):
    # scikit-learn estimators, imported on first access (scikit-learn is an optional extra)
    if name in _ESTIMATORS:
        try:
            import sklearn  # noqa: F401
        except ImportError as exc:
            raise ImportError(
                f"bpnet.{name} needs scikit-learn: pip install 'bpnet[sklearn]'"
            ) from exc
        from . import estimators

        return getattr(estimators, name)
    raise AttributeError(f"module 'bpnet' has no attribute {name!r}")
