"""The C++ library on its own: configure the repository with CMake (no Python involved in
the build), build the library, its tests and examples, and run ctest."""
import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.skipif(shutil.which("cmake") is None, reason="cmake is not installed")


def run(cmd, **kw):
    out = subprocess.run(cmd, capture_output=True, text=True, **kw)
    assert out.returncode == 0, f"{' '.join(map(str, cmd))}\n{out.stdout[-4000:]}\n{out.stderr[-4000:]}"
    return out


@pytest.mark.slow
@pytest.mark.parametrize("openmp", ["ON", "OFF"])
def test_ctest(tmp_path, openmp):
    build = tmp_path / "build"
    gen = ["-G", "Ninja"] if shutil.which("ninja") else []
    run(["cmake", "-S", ROOT, "-B", build, *gen, "-DCMAKE_BUILD_TYPE=Release", f"-DBPNET_OPENMP={openmp}"])
    run(["cmake", "--build", build, "-j", str(os.cpu_count() or 2)])
    run(["ctest", "--test-dir", build, "--output-on-failure"], timeout=1200)
