"""The C++ library on its own: configure the repository with CMake (no Python involved in
the build), build the library, its tests and examples, run ctest; and model files passed
between the C++ programs and Python in both directions, bit for bit."""
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

import bpnet

ROOT = Path(__file__).resolve().parents[1]
pytestmark = [pytest.mark.slow, pytest.mark.skipif(shutil.which("cmake") is None, reason="cmake is not installed")]


def run(cmd, **kw):
    out = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, **kw)
    assert out.returncode == 0, f"{' '.join(map(str, cmd))}\n{out.stdout[-4000:]}\n{out.stderr[-4000:]}"
    return out


def build(path, *options):
    gen = ["-G", "Ninja"] if shutil.which("ninja") else []
    run(["cmake", "-S", ROOT, "-B", path, *gen, "-DCMAKE_BUILD_TYPE=Release", *options])
    run(["cmake", "--build", path, "-j", str(os.cpu_count() or 2)])
    return path


@pytest.fixture(scope="module")
def cpp_build(tmp_path_factory):
    return build(tmp_path_factory.mktemp("cpp") / "build")


def example(build_dir, name):
    hits = [p for p in Path(build_dir).rglob(name) if p.is_file() and os.access(p, os.X_OK)]
    assert hits, f"example program {name} not built"
    return hits[0]


def test_ctest(cpp_build):
    run(["ctest", "--test-dir", cpp_build, "--output-on-failure"], timeout=1200)


def test_ctest_without_openmp(tmp_path):
    b = build(tmp_path / "build", "-DBPNET_OPENMP=OFF")
    run(["ctest", "--test-dir", b, "--output-on-failure"], timeout=1200)


def test_model_written_by_cpp_is_read_by_python(cpp_build, tmp_path):
    path = tmp_path / "xor.bpnet"
    out = run([example(cpp_build, "xor"), "--save", path])
    net = bpnet.load(path)
    assert net.layer_sizes == (2, 4, 1) and net.dtype == np.float64
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
    pred = net.predict(X).ravel()
    np.testing.assert_allclose(pred, [0, 1, 1, 0], atol=0.1)
    # the C++ program's printed outputs are the same numbers Python computes
    printed = [float(line.split("|")[2].split()[0]) for line in out.stdout.splitlines() if line.count("|") == 2 and "target" not in line]
    np.testing.assert_allclose(printed, pred, atol=5e-5)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_model_written_by_python_is_read_by_cpp(cpp_build, tmp_path, dtype, rng):
    net = bpnet.Network((3, 7, 2), activation="tanh", dtype=dtype, seed=4)
    X = rng.normal(size=(20, 3)).astype(dtype)
    net.fit(X, rng.normal(size=(20, 2)), optimizer="adam", epochs=5)
    path = tmp_path / "m.bpnet"
    net.save(path)
    out = run([example(cpp_build, "load_model"), path], input="\n".join(" ".join(repr(float(v)) for v in row) for row in X))
    cpp = np.array([[float(v) for v in line.split()] for line in out.stdout.splitlines()], dtype=dtype)
    # same parameters, same kernels: the same bits
    np.testing.assert_array_equal(cpp, net.predict(X))
    again = bpnet.load(path)
    assert again.params.tobytes() == net.params.tobytes()
