"""fit and predict read a large C-contiguous float64 X in place: peak memory grows by much
less than the input's size (measured in a subprocess with ru_maxrss)."""
import subprocess
import sys
import textwrap

import pytest

SCRIPT = textwrap.dedent(
    """
    import resource, numpy as np, bpnet
    n, d = 3_125_000, 20                      # 500 MB of float64
    X = np.empty((n, d)); X[:] = 0.5          # touch every page before measuring
    y = np.ones(n)
    net = bpnet.Network((d, 4, 1), activation="relu", seed=0)
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    net.fit(X, y, epochs=1, batch_size=4096, learning_rate=1e-3)
    p = net.predict(X)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print((peak - base) * 1024, X.nbytes)
    """
)


@pytest.mark.slow
def test_fit_and_predict_do_not_copy_a_large_input():
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    grew, size = map(int, out.stdout.split())
    assert grew < size / 4, f"peak memory grew by {grew / 1e6:.0f} MB for a {size / 1e6:.0f} MB input"
