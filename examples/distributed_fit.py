"""Data-parallel training over MPI: every process holds a shard of the rows.

    mpirun -n 4 python examples/distributed_fit.py [--rows 20000] [--epochs 20]

(``pip install mpich mpi4py`` provides both mpirun and mpi4py; with one process,
``python examples/distributed_fit.py`` works too.) Each rank makes its own part of a synthetic
classification problem (rows i of a global data set with i in its shard), then

1. trains a ``bpnet.Network`` with ``bpnet.distributed.fit`` — each step all-reduces the
   gradients of the ranks' parts of a global batch, so every rank takes the same step;
2. trains a ``bpnet.MLPClassifier`` the same way with ``bpnet.distributed.fit_estimator``.

Rank 0 prints the loss per epoch, the share of time in the all-reduce, and the accuracy on a
test set; every rank checks that it holds the same weights as rank 0.
"""
import argparse
import warnings
import zlib

import numpy as np

import bpnet
import bpnet.distributed as bd


def global_rows(rows, n_features=20, n_classes=4, seed=0):
    """The whole synthetic data set, defined row by row so that any shard can be made alone:
    row i depends only on (seed, i)."""
    centers = np.random.default_rng(seed).normal(scale=2.0, size=(n_classes, n_features))

    def make(index):
        rng = np.random.default_rng([seed, 1])
        labels = rng.integers(n_classes, size=index.stop)[index]
        noise = np.random.default_rng([seed, 2]).normal(size=(index.stop, n_features))[index]
        return (centers[labels] + 2.0 * noise), labels

    return make


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20000, help="global training rows")
    parser.add_argument("--epochs", type=int, default=20)
    args = parser.parse_args()

    with bd.abort_on_error() as comm:  # an exception on one rank ends the whole job
        rank, size = comm.Get_rank(), comm.Get_size()
        make = global_rows(args.rows + 2000)
        part = bd.shard_rows(args.rows, comm)  # this rank's contiguous share of the rows
        X, labels = make(part)
        Y = np.eye(4)[labels]
        X_test, labels_test = make(slice(args.rows, args.rows + 2000))

        # 1. A Network: rank 0's initial weights are broadcast; the same History everywhere.
        net = bpnet.Network((20, 32, 4), activation="relu", output_activation="softmax",
                            loss="cross_entropy", seed=1)
        h = bd.fit(net, X, Y, comm, optimizer="adam", learning_rate=1e-3, epochs=args.epochs,
                   batch_size=128, seed=0)
        crcs = comm.allgather(zlib.crc32(net.params.tobytes()))
        same = crcs.count(crcs[0])
        acc = np.mean(net.predict(X_test).argmax(axis=1) == labels_test)
        if rank == 0:
            print(f"{size} rank(s), {h.n_global} rows, shard of rank 0: {part.stop - part.start} rows")
            for e, loss in enumerate(h.loss, 1):
                if e == 1 or e % 5 == 0 or e == len(h.loss):
                    print(f"  epoch {e:3d}  loss {loss:.4f}")
            share = sum(h.allreduce_seconds) / sum(h.seconds)
            print(f"Network: {h.steps} steps in {sum(h.seconds):.2f} s, all-reduce {100 * share:.0f}% "
                  f"of it; test accuracy {acc:.3f}; identical weights on {same}/{size} ranks")

        # 2. The scikit-learn estimator, the same way.
        clf = bpnet.MLPClassifier(hidden_layer_sizes=(32,), solver="adam", max_iter=args.epochs,
                                  batch_size=128, random_state=0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # ConvergenceWarning after max_iter epochs
            bd.fit_estimator(clf, X, labels, comm)
        if rank == 0:
            print(f"MLPClassifier: {clf.n_iter_} epochs, loss {clf.loss_:.4f}, test accuracy "
                  f"{clf.score(X_test, labels_test):.3f}")


if __name__ == "__main__":
    main()
