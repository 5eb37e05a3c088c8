"""Fit time of bpnet.MLPClassifier against scikit-learn's MLPClassifier, identical settings.

Two problems, each in float64 and float32:

- load_digits (1797 x 64, 10 classes): adam, hidden_layer_sizes=(100,), 200 epochs;
- a synthetic 60000 x 784 problem with 10 classes (MNIST's shape): adam, (100,), a few epochs.

Both estimators get the same parameters, the same random_state (so the same initial weights)
and n_iter_no_change=inf, so both run exactly max_iter epochs. Each fit is timed `--repeats`
times, the three estimators (scikit-learn, bpnet, bpnet on one thread) in turn within each
repeat, so that a burst of load on a shared machine falls on all of them alike, each after a
short idle pause (`--pause`, 0.5 s: no thread pool of the previous fit still spinning); the table
shows medians (or, with `--stat min`, the fastest fit: the least disturbed one) and the ratio
scikit-learn / bpnet, and checks the answers: held-out accuracy of both (bpnet's must be
within 0.02 of scikit-learn's).

    python benchmarks/bench_estimators.py [--repeats 3] [--large-epochs 5] [--skip-large]
                                          [--stat median|min] [--pause 0.5]
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
import warnings

import numpy as np

try:
    from sklearn.datasets import load_digits
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import train_test_split
    from sklearn.neural_network import MLPClassifier as SkMLPClassifier
except ImportError:  # pragma: no cover
    sys.exit("bench_estimators.py needs scikit-learn: pip install 'bpnet[bench]'")

import bpnet


def synthetic(n=60000, d=784, k=10, seed=0):
    """Rows of a random teacher network: Gaussian X, labels = argmax of a random projection
    of tanh features plus noise (learnable, not trivially separable)."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    H = np.tanh(X @ (rng.standard_normal((d, 64)) / np.sqrt(d)))
    logits = H @ rng.standard_normal((64, k)) + 0.3 * rng.standard_normal((n, k))
    return X, logits.argmax(axis=1)


def timed_fit(cls, params, X, y, pause=0.0):
    # A pause first: thread pools left spinning by the previous fit (OpenBLAS's workers spin
    # for ~2^28 cycles, ~0.1 s, after a product; OpenMP's briefly) would otherwise take a
    # core from the start of this one.
    time.sleep(pause)
    model = cls(**params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        t0 = time.perf_counter()
        model.fit(X, y)
        return time.perf_counter() - t0, model


def run_case(name, X, y, params, repeats, rows, stat=statistics.median, pause=0.0):
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.2, random_state=0, stratify=y)
    for dtype in (np.float64, np.float32):
        a, b = Xtr.astype(dtype), Xte.astype(dtype)
        fits = [(SkMLPClassifier, params), (bpnet.MLPClassifier, params),
                (bpnet.MLPClassifier, dict(params, n_threads=1))]
        times, models = [[], [], []], [None, None, None]
        for _ in range(repeats):  # the three in turn within each repeat
            for i, (cls, p) in enumerate(fits):
                t, models[i] = timed_fit(cls, p, a, ytr, pause)
                times[i].append(t)
        t_sk, t_bp, t_1 = (stat(t) for t in times)
        sk_model, bp_model, one_model = models
        acc_sk, acc_bp = sk_model.score(b, yte), bp_model.score(b, yte)
        assert sk_model.n_iter_ == bp_model.n_iter_ == params["max_iter"]
        # the thread count never changes the model (deterministic reductions)
        np.testing.assert_array_equal(bp_model.predict_proba(b), one_model.predict_proba(b))
        ok = acc_bp >= acc_sk - 0.02
        rows.append((name, np.dtype(dtype).name, params["max_iter"], t_sk, t_bp, t_1, acc_sk, acc_bp, ok))
        print(f"{name:<22} {np.dtype(dtype).name:<8} {params['max_iter']:>6} {t_sk:>10.3f} "
              f"{t_bp:>10.3f} {t_sk / t_bp:>7.1f}x {t_1:>10.3f} {t_sk / t_1:>7.1f}x "
              f"{acc_sk:>7.4f} {acc_bp:>7.4f} {'ok' if ok else 'ACCURACY MISMATCH'}", flush=True)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=3, help="fits per case")
    ap.add_argument("--stat", choices=("median", "min"), default="median",
                    help="statistic of each estimator's fits (min: the least disturbed one)")
    ap.add_argument("--pause", type=float, default=0.5,
                    help="seconds idle before each fit, so no thread pool is still spinning")
    ap.add_argument("--digits-epochs", type=int, default=200)
    ap.add_argument("--large-epochs", type=int, default=5)
    ap.add_argument("--large-rows", type=int, default=60000)
    ap.add_argument("--skip-large", action="store_true")
    args = ap.parse_args(argv)

    try:
        from threadpoolctl import threadpool_info

        blas = ", ".join(f"{i['internal_api']} ({i['num_threads']} threads)" for i in threadpool_info())
    except ImportError:
        blas = "threadpoolctl not installed"
    print(f"bpnet {bpnet.__version__} ({bpnet.get_num_threads()} threads), scikit-learn "
          f"{__import__('sklearn').__version__}, NumPy {np.__version__} [{blas}]")
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} logical CPUs\n")
    print(f"{'problem':<22} {'dtype':<8} {'epochs':>6} {'sklearn s':>10} {'bpnet s':>10} "
          f"{'ratio':>8} {'1 thread s':>10} {'ratio':>8} {'acc sk':>7} {'acc bp':>7}")
    common = dict(hidden_layer_sizes=(100,), solver="adam", random_state=0,
                  n_iter_no_change=np.inf)
    rows = []
    X, y = load_digits(return_X_y=True)
    stat = min if args.stat == "min" else statistics.median
    run_case("digits 1797x64", X / 16.0, y, dict(common, max_iter=args.digits_epochs),
             args.repeats, rows, stat, args.pause)
    if not args.skip_large:
        X, y = synthetic(n=args.large_rows)
        run_case(f"synthetic {args.large_rows}x784", X, y, dict(common, max_iter=args.large_epochs),
                 args.repeats, rows, stat, args.pause)
    return 0 if all(r[-1] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
