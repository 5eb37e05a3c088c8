"""GFLOP/s of bpnet's gemm beside NumPy's (OpenBLAS) on the shapes training uses.

One command (see benchmarks/README.md):

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/bench_gemm.py

builds the C++ timing program benchmarks/bench_gemm.cpp (CMake, -DBPNET_BENCHMARKS=ON) into
build-bench/ unless --exe is given, then for every shape, dtype and thread count: writes the
inputs, times NumPy on them (threads limited with threadpoolctl), times bpnet on the same
arrays (OMP_NUM_THREADS and bpnet's own thread setting), checks bpnet's answer against NumPy's
and prints medians (or, with --stat min, the fastest run) and the ratio bpnet / NumPy
(> 1: bpnet faster). --rounds N alternates the two N times per case and reports the median of
the rounds, so a burst of load on a shared machine does not land on one library only.
--paired goes further: the C++ program loads NumPy's own BLAS library (the file threadpoolctl
reports) and times it and bpnet alternately in one process, on the same arrays, round after
round, and the ratio is the median of the per-round ratios; a machine whose speed drifts
minute to minute (a shared VM) then moves both libraries alike. --avx2 (with --paired) compares
the two libraries' AVX2 kernels on an AVX-512 machine; --output-layer adds the products of a
10-class output layer.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent

# (label, form, m, n, k): C (m, n) = op(A) (m, k) op(B) (k, n), row-major.
TRAINING_SHAPES = [
    ("(1024x1024)(1024x1024)", "NN", 1024, 1024, 1024),
    ("X(128x784) W(256x784)^T", "NT", 128, 256, 784),
    ("d(128x256)^T X(128x784)", "TN", 256, 784, 128),
    ("d(128x256) W(256x784)", "NN", 128, 784, 256),
]
SQUARE = [256, 512, 1024, 2048]
# A 10-class output layer at batch 200 (--output-layer): its forward product, its ∂C/∂W and the
# δ product through it (k = 10).
OUTPUT_LAYER_SHAPES = [
    ("out X(200x100) W(10x100)^T", "NT", 200, 10, 100),
    ("out d(200x10)^T A(200x100)", "TN", 10, 100, 200),
    ("out d(200x10) W(10x100)", "NN", 200, 100, 10),
]


def build(build_dir: Path) -> Path:
    subprocess.run(["cmake", "-S", str(ROOT), "-B", str(build_dir), "-G", "Ninja",
                    "-DCMAKE_BUILD_TYPE=Release", "-DBPNET_BENCHMARKS=ON", "-DBPNET_TESTS=OFF",
                    "-DBPNET_EXAMPLES=OFF"], check=True, stdout=subprocess.DEVNULL)
    subprocess.run(["cmake", "--build", str(build_dir), "--target", "bench_gemm"], check=True,
                   stdout=subprocess.DEVNULL)
    return build_dir / "bench_gemm"


def operands(form: str, m: int, n: int, k: int, dtype, rng):
    """A and B as stored (row-major, unpadded) for the given transpose form."""
    a = rng.standard_normal((k, m) if form[0] == "T" else (m, k)).astype(dtype)
    b = rng.standard_normal((n, k) if form[1] == "T" else (k, n)).astype(dtype)
    return a, b


def numpy_product(form, a, b):
    return (a.T if form[0] == "T" else a) @ (b.T if form[1] == "T" else b)


def time_numpy(form, a, b, threads, reps, stat):
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=threads, user_api="blas"):
        numpy_product(form, a, b)  # warm-up
        ts = []
        for _ in range(reps):
            t0 = time.perf_counter()
            numpy_product(form, a, b)
            ts.append(time.perf_counter() - t0)
    return float(np.median(ts) if stat == "median" else np.min(ts))


# --avx2: the program's environment forces bpnet's AVX2 path and OpenBLAS's AVX2 (Haswell)
# kernels; OpenBLAS reads OPENBLAS_CORETYPE when the program loads it (--paired).
AVX2_ENV = {"BPNET_ISA": "avx2", "OPENBLAS_CORETYPE": "Haswell"}


def run_program(exe, mode, form, m, n, k, a, b, threads, mode_args, tmp: Path, extra_env=None):
    """Runs bench_gemm `mode` on A and B (written to tmp) -> (its key=value fields, C);
    extra_env (e.g. AVX2_ENV) is added to the program's environment."""
    fa, fb, fc = tmp / "a.bin", tmp / "b.bin", tmp / "c.bin"
    a.tofile(fa)
    b.tofile(fb)
    dt = "f32" if a.dtype == np.float32 else "f64"
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), **(extra_env or {}))
    if extra_env:
        env.pop("OPENBLAS_L2_SIZE", None)
    # The wait policy the Python package uses (bpnet/__init__.py), unless one is chosen.
    if "OMP_WAIT_POLICY" not in env and "GOMP_SPINCOUNT" not in env:
        env["GOMP_SPINCOUNT"] = "20000"
    # OpenBLAS's workers in this process busy-wait for ~0.1 s after each NumPy product: on 2
    # cores they would hold the core bpnet's second thread needs. Let them go to sleep first.
    time.sleep(0.5)
    out = subprocess.run([str(exe), mode, dt, form, str(m), str(n), str(k), str(threads),
                          *map(str, mode_args), str(fa), str(fb), str(fc)], check=True, env=env,
                         capture_output=True, text=True).stdout
    fields = dict(kv.split("=") for kv in out.split())
    return fields, np.fromfile(fc, dtype=a.dtype).reshape(m, n)


def time_bpnet(exe, form, m, n, k, a, b, threads, reps, stat, tmp: Path):
    """(bpnet seconds by `stat`, isa, bpnet's C) from `run` mode."""
    fields, c = run_program(exe, "run", form, m, n, k, a, b, threads, [reps], tmp)
    return float(fields[f"{stat}_s"]), fields["isa"], c


def time_pair(exe, blas, form, m, n, k, a, b, threads, reps, rounds, tmp: Path, extra_env=None):
    """(BLAS seconds, bpnet seconds, median per-round ratio, isa, bpnet's C) from `pair` mode."""
    # (the BLAS file goes before the operands' files)
    fields, c = run_program(exe, "pair", form, m, n, k, a, b, threads, [reps, rounds, blas], tmp,
                            extra_env)
    return (float(fields["blas_s"]), float(fields["bpnet_s"]), float(fields["ratio"]),
            fields["isa"], c)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--exe", type=Path, help="bench_gemm program (default: build it)")
    p.add_argument("--build-dir", type=Path, default=ROOT / "build-bench")
    p.add_argument("--threads", default="1,2", help="thread counts, comma-separated")
    p.add_argument("--dtypes", default="float32,float64")
    p.add_argument("--quick", action="store_true", help="training shapes only")
    p.add_argument("--shapes", default="",
                   help="only the shapes whose label contains one of these comma-separated "
                        "strings (e.g. 'square 256,W(256x784)^T'), to re-measure a few cells")
    p.add_argument("--runs", type=int, default=0, help="timed runs per case (default: adaptive)")
    p.add_argument("--stat", choices=("median", "min"), default="median",
                   help="statistic of the timed runs (min: the least disturbed run, for a "
                        "shared, noisy machine)")
    p.add_argument("--rounds", type=int, default=None,
                   help="time NumPy and bpnet alternately this many times per case and report "
                        "the median of the rounds (default 1; 7 with --paired)")
    p.add_argument("--paired", action="store_true",
                   help="time NumPy's BLAS library and bpnet alternately inside one process "
                        "(the C++ program loads the BLAS file that threadpoolctl reports)")
    p.add_argument("--output-layer", action="store_true",
                   help="also the products of a 10-class output layer at batch 200 (forward, "
                        "∂C/∂W, and the δ product through it, k = 10)")
    p.add_argument("--avx2", action="store_true",
                   help="compare the AVX2 paths on an AVX-512 machine: bpnet with "
                        "BPNET_ISA=avx2 against OpenBLAS's Haswell kernels "
                        "(OPENBLAS_CORETYPE=Haswell); needs --paired")
    args = p.parse_args(argv)
    if args.avx2 and not args.paired:
        p.error("--avx2 needs --paired (the BLAS must be loaded with OPENBLAS_CORETYPE=Haswell, "
                "which only the C++ program's own environment can set)")
    rounds = args.rounds if args.rounds is not None else (7 if args.paired else 1)
    if rounds < 1 or args.runs < 0:
        p.error("--rounds must be >= 1 and --runs >= 0")

    exe = args.exe or build(args.build_dir)
    try:
        import threadpoolctl

        info = [(d.get("internal_api"), d.get("version"), d.get("architecture"))
                for d in threadpoolctl.threadpool_info() if d.get("user_api") == "blas"]
    except ImportError:
        print("threadpoolctl is required: pip install threadpoolctl", file=sys.stderr)
        return 2
    numpy_product("NN", np.ones((2, 2)), np.ones((2, 2)))
    blas_libs = [d for d in threadpoolctl.threadpool_info() if d.get("user_api") == "blas"]
    info = [(d.get("internal_api"), d.get("version"), d.get("architecture")) for d in blas_libs]
    if args.paired and not blas_libs:
        print("--paired: threadpoolctl finds no BLAS library loaded by NumPy", file=sys.stderr)
        return 2
    print(f"# machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs; "
          f"NumPy {np.__version__}, BLAS {info}"
          + (f"; paired in one process, {rounds} rounds" if args.paired else "")
          + ("; AVX2 paths (BPNET_ISA=avx2, OPENBLAS_CORETYPE=Haswell)" if args.avx2 else ""))
    for var in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
        if var in os.environ and not (args.avx2 and var == "OPENBLAS_CORETYPE"):
            print(f"# warning: {var}={os.environ[var]} is set; unset it for a fair baseline")

    shapes = list(TRAINING_SHAPES)
    if args.output_layer:
        shapes += OUTPUT_LAYER_SHAPES
    if not args.quick:
        shapes += [(f"square {s}", "NN", s, s, s) for s in SQUARE if s != 1024]
    if args.shapes:
        wanted = [w.strip() for w in args.shapes.split(",") if w.strip()]
        shapes = [s for s in shapes if any(w in s[0] for w in wanted)]
        if not shapes:
            p.error(f"--shapes {args.shapes!r} matches none of: "
                    + "; ".join(label for label, *_ in TRAINING_SHAPES) + "; square 256/512/2048")
    rng = np.random.default_rng(0)
    print(f"{'shape':26s} {'form':4s} {'dtype':7s} {'thr':>3s} {'numpy GF/s':>10s} "
          f"{'bpnet GF/s':>10s} {'ratio':>6s}  isa     max rel err")
    worst = 1e9
    ok = True
    with tempfile.TemporaryDirectory() as tmpd:
        tmp = Path(tmpd)
        for label, form, m, n, k in shapes:
            flop = 2.0 * m * n * k
            for dtype in args.dtypes.split(","):
                dt = np.dtype(dtype)
                a, b = operands(form, m, n, k, dt, rng)
                ref = numpy_product(form, a, b)
                for threads in (int(t) for t in args.threads.split(",")):
                    est = flop / (50e9 * threads)
                    reps = args.runs or int(min(200, max(7, 0.3 / est)))
                    if args.paired:
                        t_np, t_bp, ratio, isa, c = time_pair(
                            exe, blas_libs[0]["filepath"], form, m, n, k, a, b, threads,
                            args.runs or max(1, reps // 4), rounds, tmp,
                            AVX2_ENV if args.avx2 else None)
                    else:
                        t_nps, t_bps = [], []
                        for _ in range(rounds):
                            t_nps.append(time_numpy(form, a, b, threads, reps, args.stat))
                            t_bp, isa, c = time_bpnet(exe, form, m, n, k, a, b, threads, reps,
                                                      args.stat, tmp)
                            t_bps.append(t_bp)
                        t_np, t_bp = float(np.median(t_nps)), float(np.median(t_bps))
                        ratio = t_np / t_bp
                    scale = np.abs(ref).max() * np.sqrt(k)
                    err = float(np.abs(c - ref).max() / scale)
                    good = err < 50 * np.finfo(dt).eps
                    ok &= good
                    worst = min(worst, ratio)
                    print(f"{label:26s} {form:4s} {dtype:7s} {threads:3d} {flop / t_np / 1e9:10.1f} "
                          f"{flop / t_bp / 1e9:10.1f} {ratio:6.2f}  {isa:7s} {err:.1e}"
                          f"{'' if good else '  WRONG'}", flush=True)
    print(f"# worst ratio bpnet/numpy: {worst:.2f}; answers {'agree' if ok else 'DISAGREE'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
