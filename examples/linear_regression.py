"""Linear regression is the simplest neural network.

A network with no hidden layer, identity output and squared error computes a = W x + b and
minimises C = mean (a - y)²: exactly least squares. Gradient descent on it reaches the
coefficients np.linalg.lstsq finds. This script prints both and draws the data with both lines.

    python examples/linear_regression.py OUTPUT_FOLDER

Writes linear_regression.png (data and fitted lines) and linear_regression_loss.png.
"""
import argparse
import os

import numpy as np

import bpnet


def main(outdir: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    os.makedirs(outdir, exist_ok=True)
    rng = np.random.default_rng(0)
    x = rng.uniform(-2, 2, size=100)
    y = 1.5 * x - 0.5 + rng.normal(0, 0.4, size=100)
    X = x.reshape(-1, 1)

    # Least squares: solve for (w, b) with a column of ones for the bias.
    (w_ls, b_ls), *_ = np.linalg.lstsq(np.column_stack([x, np.ones_like(x)]), y, rcond=None)

    # The same model as a 1-1 network, trained by full-batch gradient descent.
    net = bpnet.Network((1, 1), output_activation="identity", loss="squared_error", seed=0)
    history = net.fit(X, y, learning_rate=0.1, epochs=500, batch_size=None)
    w_gd, b_gd = net.weights[0][0, 0], net.biases[0][0]

    print(f"{'':6s}{'least squares':>15s}{'gradient descent':>18s}")
    print(f"{'w':6s}{w_ls:15.6f}{w_gd:18.6f}")
    print(f"{'b':6s}{b_ls:15.6f}{b_gd:18.6f}")

    fig, ax = plt.subplots(figsize=(6, 4))
    grid = np.linspace(x.min(), x.max(), 2)
    ax.scatter(x, y, s=12, color="tab:gray", alpha=0.7, label="data")
    ax.plot(grid, w_ls * grid + b_ls, color="tab:blue", lw=4, alpha=0.5,
            label=f"least squares: y = {w_ls:.3f} x {b_ls:+.3f}")
    ax.plot(grid, w_gd * grid + b_gd, color="tab:red", ls="--",
            label=f"gradient descent: y = {w_gd:.3f} x {b_gd:+.3f}")
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.set_title("Linear regression = a network with no hidden layer")
    ax.legend()
    fig.tight_layout()
    fig.savefig(os.path.join(outdir, "linear_regression.png"), dpi=100)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(6, 4))
    bpnet.plotting.loss_curve(history, ax=ax)
    ax.axhline(np.mean((w_ls * x + b_ls - y) ** 2), color="tab:blue", ls=":", label="least-squares loss")
    ax.legend()
    ax.set_title("Gradient descent: loss per epoch")
    fig.tight_layout()
    fig.savefig(os.path.join(outdir, "linear_regression_loss.png"), dpi=100)
    plt.close(fig)
    print(f"wrote linear_regression.png and linear_regression_loss.png to {outdir}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("outdir", nargs="?", default=".", help="folder for the PNGs (default: here)")
    main(parser.parse_args().outdir)
