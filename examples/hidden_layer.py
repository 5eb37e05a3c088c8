"""A hidden layer: a 1-16-1 network fitted to a non-linear function.

No straight line fits y = sin(2x) + x/2; one hidden layer of sigmoid units does. The network
is trained by mini-batch gradient descent with momentum; the script prints the loss as it
falls and draws the fit and the loss curve.

    python examples/hidden_layer.py OUTPUT_FOLDER

Writes hidden_layer.png (the data, the network's curve, and the loss per epoch).
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
    rng = np.random.default_rng(1)
    x = rng.uniform(-3, 3, size=300)
    y = np.sin(2 * x) + x / 2 + rng.normal(0, 0.1, size=300)
    X = x.reshape(-1, 1)

    net = bpnet.Network((1, 16, 1), activation="sigmoid", output_activation="identity",
                        loss="squared_error", seed=1)
    history = net.fit(X, y, learning_rate=0.05, momentum=0.9, epochs=2000, batch_size=20, seed=1)
    for e in (1, 10, 100, 1000, len(history.loss)):
        print(f"epoch {e:5d}   loss {history.loss[e - 1]:.5f}")
    print(f"(the noise alone gives a loss of about {0.1 ** 2:.3f})")

    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    bpnet.plotting.fit_1d(net, x, y, ax=left, label="1-16-1 network")
    left.plot(np.sort(x), np.sin(2 * np.sort(x)) + np.sort(x) / 2, color="tab:green", ls=":",
              label="sin(2x) + x/2")
    left.legend()
    left.set_title("One hidden layer fits a curve")
    bpnet.plotting.loss_curve(history, ax=right)
    right.set_title("Loss per epoch")
    fig.tight_layout()
    fig.savefig(os.path.join(outdir, "hidden_layer.png"), dpi=100)
    plt.close(fig)
    print(f"wrote hidden_layer.png to {outdir}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("outdir", nargs="?", default=".", help="folder for the PNGs (default: here)")
    main(parser.parse_args().outdir)
