"""Thread count: bpnet.set_num_threads / get_num_threads, OMP_NUM_THREADS, threadpoolctl."""
import subprocess
import sys
import textwrap

import pytest

import bpnet


def run(code, **env):
    import os

    e = dict(os.environ, **env)
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, env=e, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_set_num_threads_validates():
    for bad in (0, -1, 1.5, "2"):
        with pytest.raises(ValueError, match="n"):
            bpnet.set_num_threads(bad)


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
