"""Thread count: bpnet.set_num_threads / get_num_threads, OMP_NUM_THREADS, threadpoolctl."""
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import bpnet


def run(code, **env):
    import os

    e = dict(os.environ, **env)
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, env=e, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_set_num_threads_validates():
    for bad in (0, -1, 1.5, "2", True, 2**31):
        with pytest.raises(ValueError, match="n"):
            bpnet.set_num_threads(bad)


def test_thread_counts_beyond_an_int_are_refused_by_name():
    # (the C++ side counts threads in an int: pybind11's "incompatible arguments" before)
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(8, 3)), rng.normal(size=8)
    net = bpnet.Network((3, 2, 1), seed=0)
    for bad in (2**31, 2**40, True, 0):
        with pytest.raises(ValueError, match="n_threads"):
            net.fit(X, y, epochs=1, n_threads=bad)
        with pytest.raises(ValueError, match="n_threads"):
            net.predict(X, n_threads=bad)
    assert net.predict(X, n_threads=2**31 - 1).shape == (8, 1)
    sklearn = pytest.importorskip("sklearn")  # noqa: F841
    with pytest.raises(ValueError, match="n_threads"):
        bpnet.MLPRegressor(n_threads=2**31, max_iter=1).fit(X, y)


@pytest.mark.skipif(not bpnet._core.openmp_enabled(), reason="built without OpenMP")
def test_omp_num_threads_and_set_num_threads():
    assert run("import bpnet; print(bpnet.get_num_threads())", OMP_NUM_THREADS="3") == "3"
    assert run("import bpnet; bpnet.set_num_threads(2); print(bpnet.get_num_threads())", OMP_NUM_THREADS="3") == "2"


@pytest.mark.skipif(not bpnet._core.openmp_enabled(), reason="built without OpenMP")
def test_threadpoolctl_sees_and_limits_bpnet():
    pytest.importorskip("threadpoolctl")
    code = """
        import bpnet
        from threadpoolctl import threadpool_info, threadpool_limits
        apis = {i["user_api"] for i in threadpool_info()}
        with threadpool_limits(limits=1, user_api="openmp"):
            inside = bpnet.get_num_threads()
        print("openmp" in apis, inside)
    """
    assert run(code, OMP_NUM_THREADS="2") == "True 1"


@pytest.mark.skipif(not bpnet._core.openmp_enabled(), reason="built without OpenMP")
def test_set_num_threads_overrides_threadpoolctl_until_forgotten():
    pytest.importorskip("threadpoolctl")
    code = """
        import bpnet
        from threadpoolctl import threadpool_limits
        bpnet.set_num_threads(2)
        with threadpool_limits(limits=1, user_api="openmp"):
            kept = bpnet.get_num_threads()
        bpnet.set_num_threads(None)
        with threadpool_limits(limits=1, user_api="openmp"):
            limited = bpnet.get_num_threads()
        print(kept, limited, bpnet.get_num_threads())
    """
    assert run(code, OMP_NUM_THREADS="3") == "2 1 3"
