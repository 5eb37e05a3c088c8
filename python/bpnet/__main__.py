"""``python -m bpnet``: the source text's examples, trained and printed on data made here.

1. Linear regression is the simplest neural network: least squares (np.linalg.lstsq)
   beside a network with no hidden layer trained by gradient descent.
2. A hidden layer: a 1-8-1 sigmoid network fitted to sin(x), its loss falling.
3. Backpropagation checked: every layer's gradient against central finite differences.
4. What each step took.
"""
from __future__ import annotations

import sys
import time
from typing import List, Optional

import numpy as np


def _demo(seed: int = 0) -> int:
    import bpnet

    rng = np.random.default_rng(seed)
    times = []
    print(f"bpnet {bpnet.__version__} - backpropagation from the equations up\n")

    # 1. Linear regression: least squares vs gradient descent on a 2-1 identity network.
    t0 = time.perf_counter()
    X = rng.uniform(-1, 1, size=(200, 2))
    y = 3.0 * X[:, 0] - 2.0 * X[:, 1] + 1.0 + rng.normal(0, 0.1, size=200)
    A = np.column_stack([X, np.ones(len(X))])
    coef, *_ = np.linalg.lstsq(A, y, rcond=None)
    net = bpnet.Network((2, 1), output_activation="identity", loss="squared_error", seed=seed)
    hist = net.fit(X, y, learning_rate=0.5, epochs=2000, batch_size=None)
    gd = np.concatenate([net.weights[0].ravel(), net.biases[0]])
    times.append(("linear regression", time.perf_counter() - t0))
    print("1. Linear regression is a network with no hidden layer")
    print("   y = 3 x1 - 2 x2 + 1 + noise, 200 samples; C = mean (a - y)^2, full-batch gradient descent")
    print(f"   {'':12s}{'least squares':>16s}{'gradient descent':>19s}")
    for name, a, b in zip(("w1", "w2", "bias"), coef, gd):
        print(f"   {name:12s}{a:16.6f}{b:19.6f}")
    print(f"   largest difference {np.abs(coef - gd).max():.2e} after {hist.epochs_run} epochs\n")

    # 2. One hidden layer on a non-linear function.
    t0 = time.perf_counter()
    x = np.linspace(-3, 3, 200).reshape(-1, 1)
    t = np.sin(x)
    net = bpnet.Network((1, 8, 1), activation="sigmoid", seed=seed)
    hist = net.fit(x, t, learning_rate=0.1, epochs=3000, batch_size=10, seed=seed)
    times.append(("hidden layer", time.perf_counter() - t0))
    print("2. A hidden layer: 1-8(sigmoid)-1 fitted to sin(x) on [-3, 3], SGD, batch 10")
    for e in (1, 10, 100, 1000, 3000):
        print(f"   epoch {e:5d}   loss {hist.loss[e - 1]:.6f}")
    print(f"   the loss fell {hist.loss[0] / hist.loss[-1]:.0f}-fold\n")

    # 3. Gradient check per layer.
    t0 = time.perf_counter()
    net = bpnet.Network((3, 5, 4, 2), activation=["tanh", "relu"], output_activation="softmax",
                        loss="cross_entropy", seed=seed)
    Xc = rng.normal(size=(16, 3))
    Yc = np.eye(2)[rng.integers(0, 2, size=16)]
    res = bpnet.gradcheck(net, Xc, Yc)
    times.append(("gradient check", time.perf_counter() - t0))
    print("3. Backpropagation vs central finite differences, 3-5(tanh)-4(relu)-2(softmax), cross entropy")
    for l, (err, good) in enumerate(zip(res.max_rel_error, res.layer_passed()), start=1):
        print(f"   layer {l}: max relative error {err:.1e}  {'ok' if good else 'CHECK'}")
    print()

    print("4. Time taken")
    for name, secs in times:
        print(f"   {name:20s}{secs * 1e3:9.1f} ms")
    ok = np.abs(coef - gd).max() < 1e-6 and hist.loss[-1] < hist.loss[0] / 20 and res.passed()
    return 0 if ok else 1


def main(argv: Optional[List[str]] = None) -> int:
    """``bpnet [--seed S]`` runs the main job; ``bpnet train|predict|info|gradcheck ...`` the
    command-line tool (bpnet.cli)."""
    from . import cli

    parser = cli._Parser(
        prog="bpnet",
        description="Neural networks trained by backpropagation. Without a command, runs the "
        "source text's examples on data it makes itself.",
    )
    parser.add_argument("--seed", dest="demo_seed", metavar="S", type=cli._seed, default=0, help="seed of the demo's data and weights")
    cli.add_subcommands(parser)
    args = parser.parse_args(argv)
    if args.command is None:
        return _demo(args.demo_seed)
    return cli.run(args)


if __name__ == "__main__":
    sys.exit(main())
