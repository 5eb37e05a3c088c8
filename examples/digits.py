"""Classification: handwritten digits (scikit-learn's 8x8 digits) with a softmax network.

A 64-32-10 network (relu hidden layer, softmax output, cross-entropy loss, Adam) on 1437
training images, tested on 360 it has not seen. The confusion matrix is counted with NumPy.

    python examples/digits.py OUTPUT_FOLDER

Needs scikit-learn (for the data set) and matplotlib. Writes digits_confusion.png and
digits_loss.png.
"""
import argparse
import os

import numpy as np

import bpnet


def confusion_matrix(true, pred, n_classes):
    """counts[i, j] = number of samples of class i predicted as class j."""
    counts = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(counts, (true, pred), 1)
    return counts


def main(outdir: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.datasets import load_digits

    os.makedirs(outdir, exist_ok=True)
    digits = load_digits()
    X = digits.data / 16.0  # pixel intensities 0..16 -> 0..1
    labels = digits.target
    rng = np.random.default_rng(0)
    perm = rng.permutation(len(X))
    test, train = perm[:360], perm[360:]
    Y = np.eye(10)[labels]  # one-hot targets for softmax + cross entropy

    net = bpnet.Network((64, 32, 10), activation="relu", output_activation="softmax",
                        loss="cross_entropy", seed=0)
    history = net.fit(X[train], Y[train], optimizer="adam", learning_rate=0.01, epochs=60,
                      batch_size=32, seed=0, alpha=1e-3)

    pred = np.argmax(net.predict(X[test]), axis=1)
    cm = confusion_matrix(labels[test], pred, 10)
    accuracy = np.trace(cm) / cm.sum()
    print(f"trained {net.layer_sizes} for {history.epochs_run} epochs: final loss {history.loss[-1]:.4f}")
    print(f"test accuracy {accuracy:.4f} on {len(test)} images")
    print("confusion matrix (rows: true digit, columns: predicted)")
    print("     " + " ".join(f"{j:3d}" for j in range(10)))
    for i in range(10):
        print(f"{i:3d}  " + " ".join(f"{c:3d}" for c in cm[i]))

    fig, ax = plt.subplots(figsize=(6, 5))
    im = ax.imshow(cm, cmap="Blues")
    for i in range(10):
        for j in range(10):
            if cm[i, j]:
                ax.text(j, i, str(cm[i, j]), ha="center", va="center", fontsize=8,
                        color="white" if cm[i, j] > cm.max() / 2 else "black")
    ax.set_xticks(range(10))
    ax.set_yticks(range(10))
    ax.set_xlabel("predicted digit")
    ax.set_ylabel("true digit")
    ax.set_title(f"Digits, test accuracy {accuracy:.3f}")
    fig.colorbar(im, ax=ax)
    fig.tight_layout()
    fig.savefig(os.path.join(outdir, "digits_confusion.png"), dpi=100)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(6, 4))
    bpnet.plotting.loss_curve(history, ax=ax)
    ax.set_title("Cross-entropy loss per epoch")
    fig.tight_layout()
    fig.savefig(os.path.join(outdir, "digits_loss.png"), dpi=100)
    plt.close(fig)
    print(f"wrote digits_confusion.png and digits_loss.png to {outdir}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("outdir", nargs="?", default=".", help="folder for the PNGs (default: here)")
    main(parser.parse_args().outdir)
