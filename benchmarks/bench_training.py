"""Training speed of bpnet beside scikit-learn, a NumPy loop and (when installed) PyTorch,
on the workloads of shared/TARGETS.md, with identical data and hyper-parameters.

    python benchmarks/bench_training.py [--workloads seed-tiny,digits,mnist] [--repeat 3]

Prints medians and ratios measured in this run, and checks that the libraries reach
comparable losses/accuracies (so a fast wrong answer does not pass). When comparing with
NumPy, run with OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset (see benchmarks/README.md).
"""
from __future__ import annotations

import argparse
import statistics
import time
import warnings

import numpy as np

import bpnet


# Seconds idle before each timed run (--pause): thread pools that the previous run left
# spinning (OpenBLAS's workers for ~0.1 s after a product, PyTorch's, OpenMP's) would
# otherwise take a core from the start of the next one, whichever library it is.
PAUSE = 0.3


def median_time(fn, repeat):
    times = []
    result = None
    for _ in range(repeat):
        time.sleep(PAUSE)
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), result


def try_torch():
    try:
        import torch

        return torch
    except ImportError:
        return None


# ----------------------------------------------------------------------------- seed-tiny
def seed_tiny(repeat):
    """1000 samples, y = 2x + 1 + noise, 1-3(sigmoid)-1, squared error, SGD lr 0.1, batch 1."""
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, size=(1000, 1))
    y = 2 * x + 1 + rng.normal(0, 0.1, size=(1000, 1))
    rows = []
    epochs = 50
    for dtype in ("float64", "float32"):
        X, Y = x.astype(dtype), y.astype(dtype)

        def run():
            net = bpnet.Network((1, 3, 1), activation="sigmoid", dtype=dtype, seed=0)
            h = net.fit(X, Y, learning_rate=0.1, epochs=epochs, batch_size=1, seed=0)
            return h.loss[-1]

        t, loss = median_time(run, repeat)
        rows.append((f"bpnet {dtype}", t / epochs, loss))

    def numpy_loop():
        r = np.random.default_rng(0)
        W1, b1 = r.uniform(-0.7, 0.7, (3, 1)), r.uniform(-0.7, 0.7, 3)
        W2, b2 = r.uniform(-0.7, 0.7, (1, 3)), r.uniform(-0.7, 0.7, 1)
        total = 0.0
        for i in r.permutation(1000):
            a0 = x[i]
            z1 = W1 @ a0 + b1
            a1 = 1 / (1 + np.exp(-z1))
            a2 = W2 @ a1 + b2
            d2 = 2 * (a2 - y[i])
            total += float(((a2 - y[i]) ** 2).sum())
            d1 = (W2.T @ d2) * a1 * (1 - a1)
            W2 -= 0.1 * np.outer(d2, a1)
            b2 -= 0.1 * d2
            W1 -= 0.1 * np.outer(d1, a0)
            b1 -= 0.1 * d1
        return total / 1000

    t, loss = median_time(numpy_loop, repeat)
    rows.append(("NumPy loop (1 epoch)", t, loss))

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPRegressor

    def sk():
        m = MLPRegressor(hidden_layer_sizes=(3,), activation="logistic", solver="sgd", learning_rate_init=0.1, batch_size=1,
                         momentum=0.0, max_iter=3, shuffle=True, random_state=0, tol=0, n_iter_no_change=1000)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            m.fit(x, y.ravel())
        return 2 * m.loss_  # sklearn's loss is half the text's squared error

    t, loss = median_time(sk, max(1, repeat // 2))
    rows.append(("scikit-learn (3 epochs)", t / 3, loss))
    torch = try_torch()
    if torch is not None:
        # One thread for this workload only. torch.set_num_threads sets the OpenMP runtime's
        # thread count, which bpnet follows when it was not given one (as threadpoolctl
        # expects), so left at 1 it would run every later workload of bpnet on one thread.
        threads_before = torch.get_num_threads()
        torch.set_num_threads(1)

        def tt():
            torch.manual_seed(0)
            model = torch.nn.Sequential(torch.nn.Linear(1, 3), torch.nn.Sigmoid(), torch.nn.Linear(3, 1)).double()
            opt = torch.optim.SGD(model.parameters(), lr=0.1)
            X, Y = torch.from_numpy(x), torch.from_numpy(y)
            total = 0.0
            for i in np.random.default_rng(0).permutation(1000):
                opt.zero_grad()
                loss = ((model(X[i : i + 1]) - Y[i : i + 1]) ** 2).sum()
                loss.backward()
                opt.step()
                total += loss.item()
            return total / 1000

        try:
            t, loss = median_time(tt, max(1, repeat // 2))
        finally:
            torch.set_num_threads(threads_before)
        rows.append(("PyTorch (1 epoch)", t, loss))
    return "seed-tiny: seconds per epoch (1000 updates), final-epoch loss", rows, ("loss", 2.0)


# ----------------------------------------------------------------------------- digits
def digits(repeat):
    """load_digits standardised, 64-100(relu)-10 softmax, Adam lr 1e-3, batch 200, 200 epochs."""
    from sklearn.datasets import load_digits
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import train_test_split
    from sklearn.neural_network import MLPClassifier
    from sklearn.preprocessing import StandardScaler

    X, y = load_digits(return_X_y=True)
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.25, random_state=0)
    sc = StandardScaler().fit(Xtr)
    Xtr, Xte = sc.transform(Xtr).astype(np.float32), sc.transform(Xte).astype(np.float32)
    Ytr = np.eye(10, dtype=np.float32)[ytr]
    rows = []

    def run():
        net = bpnet.Network((64, 100, 10), activation="relu", output_activation="softmax",
                            loss="cross_entropy", dtype="float32", seed=0)
        net.fit(Xtr, Ytr, optimizer="adam", learning_rate=1e-3, epochs=200, batch_size=200, seed=0)
        return float(np.mean(net.predict(Xte).argmax(1) == yte))

    t, acc = median_time(run, repeat)
    rows.append(("bpnet float32", t, acc))

    def sk():
        m = MLPClassifier(hidden_layer_sizes=(100,), solver="adam", learning_rate_init=1e-3, batch_size=200, max_iter=200,
                          random_state=0, tol=0, n_iter_no_change=10_000)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            m.fit(Xtr, ytr)
        return float(m.score(Xte, yte))

    t, acc = median_time(sk, max(1, repeat // 2))
    rows.append(("scikit-learn", t, acc))
    return "digits: seconds for the whole fit, held-out accuracy", rows, ("accuracy", 0.02)


# ----------------------------------------------------------------------------- mnist-shaped
def mnist(repeat):
    """60000×784 synthetic float32, 784-256(relu)-128(relu)-10 softmax, Adam, batch 128."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60000, 784)).astype(np.float32)
    W = rng.normal(size=(784, 10)).astype(np.float32)
    y = (X @ W).argmax(1)
    Y = np.eye(10, dtype=np.float32)[y]
    rows = []
    for dtype in ("float32", "float64"):
        Xd, Yd = X.astype(dtype), Y.astype(dtype)

        def run():  # a fresh network each time: the loss is that of a first epoch, like the peers'
            net = bpnet.Network((784, 256, 128, 10), activation="relu", output_activation="softmax",
                                loss="cross_entropy", dtype=dtype, seed=0)
            h = net.fit(Xd, Yd, optimizer="adam", learning_rate=1e-3, epochs=1, batch_size=128, seed=0)
            return h.loss[-1]

        t, loss = median_time(run, repeat)
        rows.append((f"bpnet {dtype}", t, loss))

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    def sk():
        m = MLPClassifier(hidden_layer_sizes=(256, 128), solver="adam", batch_size=128, max_iter=1, random_state=0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            m.fit(X, y)
        return m.loss_

    t, loss = median_time(sk, 1)
    rows.append(("scikit-learn float32", t, loss))
    torch = try_torch()
    if torch is not None:
        def tt():
            torch.manual_seed(0)
            model = torch.nn.Sequential(torch.nn.Linear(784, 256), torch.nn.ReLU(), torch.nn.Linear(256, 128),
                                        torch.nn.ReLU(), torch.nn.Linear(128, 10))
            opt = torch.optim.Adam(model.parameters(), lr=1e-3)
            Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
            perm = torch.randperm(60000)
            total = 0.0
            for s in range(0, 60000, 128):
                idx = perm[s : s + 128]
                opt.zero_grad()
                loss = torch.nn.functional.cross_entropy(model(Xt[idx]), yt[idx])
                loss.backward()
                opt.step()
                total += loss.item() * len(idx)
            return total / 60000

        t, loss = median_time(tt, max(1, repeat // 2))
        rows.append(("PyTorch float32", t, loss))
    return "mnist-shaped: seconds per epoch, mean training loss of the epoch", rows, ("loss", 1.5)


# ----------------------------------------------------------------------------- one step
def step(repeat):
    """One forward+backward of 784-256(relu)-128(relu)-10 softmax at batch 128, float32."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(128, 784)).astype(np.float32)
    y = rng.integers(0, 10, size=128)
    Y = np.eye(10, dtype=np.float32)[y]
    net = bpnet.Network((784, 256, 128, 10), activation="relu", output_activation="softmax",
                        loss="cross_entropy", dtype="float32", seed=0)
    reps = 50

    def run():
        for _ in range(reps):
            g = net.backward(X, Y)
        return g.loss

    t, loss = median_time(run, repeat)
    rows = [("bpnet float32", t / reps, loss)]
    torch = try_torch()
    if torch is not None:
        model = torch.nn.Sequential(torch.nn.Linear(784, 256), torch.nn.ReLU(), torch.nn.Linear(256, 128),
                                    torch.nn.ReLU(), torch.nn.Linear(128, 10))
        with torch.no_grad():  # the same weights: the losses must agree
            for lin, W, b in zip([model[0], model[2], model[4]], net.weights, net.biases):
                lin.weight.copy_(torch.from_numpy(W))
                lin.bias.copy_(torch.from_numpy(b))
        Xt, yt = torch.from_numpy(X), torch.from_numpy(y)

        def tt():
            for _ in range(reps):
                model.zero_grad()
                loss = torch.nn.functional.cross_entropy(model(Xt), yt)
                loss.backward()
            return loss.item()

        t, loss = median_time(tt, repeat)
        rows.append(("PyTorch float32", t / reps, loss))
    return "forward+backward step, 784-256-128-10, batch 128: seconds, loss", rows, ("same", 1e-4)


def predict_one(repeat):
    """predict of one sample through 64-100(relu)-10 softmax."""
    rng = np.random.default_rng(0)
    net = bpnet.Network((64, 100, 10), activation="relu", output_activation="softmax",
                        loss="cross_entropy", dtype="float32", seed=0)
    x = rng.normal(size=(1, 64)).astype(np.float32)
    reps = 20000

    def run():
        for _ in range(reps):
            out = net.predict(x)
        return float(out.sum())

    t, s = median_time(run, repeat)
    rows = [("bpnet float32", t / reps, s)]
    W1, b1, W2, b2 = net.weights[0].T.copy(), net.biases[0], net.weights[1].T.copy(), net.biases[1]

    def numpy_forward():
        for _ in range(reps):
            h = np.maximum(x @ W1 + b1, 0)
            z = h @ W2 + b2
            e = np.exp(z - z.max(axis=1, keepdims=True))
            out = e / e.sum(axis=1, keepdims=True)
        return float(out.sum())

    t, s = median_time(numpy_forward, repeat)
    rows.append(("NumPy", t / reps, s))
    torch = try_torch()
    if torch is not None:
        model = torch.nn.Sequential(torch.nn.Linear(64, 100), torch.nn.ReLU(), torch.nn.Linear(100, 10),
                                    torch.nn.Softmax(dim=1))
        xt = torch.from_numpy(x)

        def tt():
            with torch.no_grad():
                for _ in range(reps // 10):
                    out = model(xt)
            return float(out.sum())

        t, s = median_time(tt, repeat)
        rows.append(("PyTorch model(x)", t / (reps // 10), s))
    return "predict one sample, 64-100-10: seconds per call (metric: output sum, 1.0 for softmax)", rows, ("same", 1e-5)


WORKLOADS = {"seed-tiny": seed_tiny, "digits": digits, "mnist": mnist, "step": step, "predict": predict_one}


def main():
    global PAUSE
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--workloads", default="seed-tiny,digits,mnist,step,predict")
    p.add_argument("--threads", type=int, default=None, help="bpnet and PyTorch threads (default: all)")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--pause", type=float, default=0.3,
                   help="seconds idle before each timed run, so no thread pool is still spinning")
    args = p.parse_args()
    PAUSE = args.pause
    if args.threads:
        bpnet.set_num_threads(args.threads)
        torch = try_torch()
        if torch is not None:
            torch.set_num_threads(args.threads)
    print(f"bpnet {bpnet.__version__}, kernels: {bpnet._core.isa()}, threads: {bpnet.get_num_threads()}")
    failed = []
    for name in args.workloads.split(","):
        title, rows, (kind, tol) = WORKLOADS[name](args.repeat)
        base = rows[0][1]
        print(f"\n{title}")
        for label, t, metric in rows:
            shown = f"{t * 1e6:10.2f} us" if t < 1e-2 else f"{t:10.4f} s "
            print(f"  {label:28s} {shown}   {t / base:9.1f}x bpnet   metric {metric:.4f}")
        # the answers must agree: a fast wrong answer is no result
        ours = [m for label, _, m in rows if label.startswith("bpnet")]
        peers = [m for label, _, m in rows if not label.startswith("bpnet")]
        for m in ours:
            for p in peers:
                ok = (abs(m - p) <= tol * max(abs(p), 1e-12) if kind == "same" else
                      m >= p - tol if kind == "accuracy" else m <= tol * p)
                if not ok:
                    failed.append(f"{name}: bpnet's {m:.4g} against {p:.4g} ({kind}, tolerance {tol})")
        print(f"  check: bpnet's {kind} " + {"same": f"equals the peers' within {tol:g} (relative)",
              "accuracy": f"is at least the peers' minus {tol:g}",
              "loss": f"is at most {tol:g}x the peers'"}[kind])
    if failed:
        print("\nANSWERS DISAGREE:\n  " + "\n  ".join(failed))
        raise SystemExit(1)


if __name__ == "__main__":
    main()
