"""Data-parallel training over MPI: ``mpirun -n 2`` in a subprocess, with a timeout.

This file is also the program the ranks run (``python test_distributed.py <case> <out>``).
The tests skip (with the reason) when mpi4py or an MPI launcher is missing; .ci/run installs
both (``pip install mpich mpi4py``).
"""
import os
import shutil
import subprocess
import sys
import warnings

import numpy as np
import pytest

import bpnet

HERE = os.path.abspath(__file__)
TIMEOUT = 60

# The global data set and the runs the ranks make (the parent recomputes them in one process).
N_ROWS, SHARD0 = 203, 120  # uneven shards on purpose: rank 0 has 120 rows, rank 1 has 83
RUNS = {
    "adam_shuffle_weighted_l2": dict(optimizer="adam", learning_rate=0.01, epochs=4, batch_size=16,
                                     shuffle=True, seed=7, alpha=1e-3, weighted=True),
    "sgd_momentum_in_order": dict(optimizer="sgd", learning_rate=0.05, momentum=0.9, epochs=3,
                                  batch_size=25, shuffle=False, seed=3, alpha=0.0, weighted=False),
    "full_batch": dict(optimizer="sgd", learning_rate=0.1, epochs=5, batch_size=None, shuffle=True,
                       seed=1, alpha=0.0, weighted=False),
}

# tol so large that no epoch improves after the first of a cold fit: the cold fit stops with
# the count at 3 after 4 epochs, a warm-started one (count 4) after 1
PLATEAU_REGRESSOR = dict(hidden_layer_sizes=(4,), solver="sgd", batch_size=50, shuffle=False,
                         random_state=0, tol=1e6, n_iter_no_change=2, max_iter=50,
                         learning_rate_init=0.01)


def data():
    rng = np.random.default_rng(2024)
    X = rng.normal(size=(N_ROWS, 5))
    y = np.tanh(X @ rng.normal(size=(5, 3))) + 0.1 * rng.normal(size=(N_ROWS, 3))
    w = rng.uniform(0.5, 2.0, size=N_ROWS)
    w[:40] = 0.0  # a stretch of zero weights: some ranks' parts of a batch weigh nothing
    return X, y, w


def make_net(seed=11):
    return bpnet.Network((5, 7, 3), activation="tanh", dtype="float64", seed=seed)


def fit_kwargs(run):
    return {k: v for k, v in run.items() if k != "weighted"}


# ---------------------------------------------------------------------------- the ranks' program
def _worker(case, out):
    import bpnet.distributed as bd
    from mpi4py import MPI

    comm = MPI.COMM_WORLD
    rank = comm.Get_rank()
    X, y, w = data()
    part = slice(0, SHARD0) if rank == 0 else slice(SHARD0, N_ROWS)
    if case == "train":
        for name, run in RUNS.items():
            net = make_net(seed=11 if rank == 0 else 99)  # rank 1's own weights are overwritten
            h = bd.fit(net, X[part], y[part], comm, sample_weight=w[part] if run["weighted"] else None,
                       **fit_kwargs(run))
            np.save(os.path.join(out, f"{name}.{rank}.npy"), net.params)
            np.save(os.path.join(out, f"{name}.loss.{rank}.npy"), np.array(h.loss))
        # the estimator path: an in-order fit is the in-process fit over the same batches
        from sklearn.exceptions import ConvergenceWarning
        labels = (y[:, 0] > 0).astype(int) + (y[:, 1] > 0)
        clf = bpnet.MLPClassifier(hidden_layer_sizes=(6,), solver="adam", batch_size=32, max_iter=4,
                                  shuffle=False, random_state=0, learning_rate_init=0.01)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            bd.fit_estimator(clf, X[part], labels[part], comm)
        np.save(os.path.join(out, f"clf.{rank}.npy"), clf._net.params)
        np.save(os.path.join(out, f"clf.loss.{rank}.npy"), np.array(clf.loss_curve_))
        np.save(os.path.join(out, f"clf.classes.{rank}.npy"), clf.classes_)
        # warm_start continues it (classes_ kept; each rank's labels checked against them)
        clf.set_params(warm_start=True, max_iter=2)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            bd.fit_estimator(clf, X[part], labels[part], comm)
        np.save(os.path.join(out, f"clf_warm.{rank}.npy"), clf._net.params)
        np.save(os.path.join(out, f"clf_warm.loss.{rank}.npy"), np.array(clf.loss_curve_))
        np.save(os.path.join(out, f"clf_warm.t.{rank}.npy"), np.array(clf.t_))
        # a warm-started fit continues the tol / n_iter_no_change count, as est.fit does
        reg = bpnet.MLPRegressor(**PLATEAU_REGRESSOR)
        for warm_start in (False, True):
            bd.fit_estimator(reg.set_params(warm_start=warm_start), X[part], y[part, 0], comm)
            np.save(os.path.join(out, f"reg_plateau.{int(warm_start)}.{rank}.npy"),
                    np.array([reg.n_iter_, reg._no_improvement_count, len(reg.loss_curve_)]))
    elif case == "raise_in_fit":
        net = make_net()
        if rank == 1:
            original, calls = net.gradient, [0]

            def failing_gradient(*args, **kwargs):
                calls[0] += 1
                if calls[0] == 3:
                    raise RuntimeError("injected failure on rank 1")
                return original(*args, **kwargs)

            net.gradient = failing_gradient
        bd.fit(net, X[part], y[part], comm, epochs=5, batch_size=16)
    elif case == "raise_outside_fit":
        with bd.abort_on_error(comm):
            if rank == 1:
                raise RuntimeError("injected failure before fit on rank 1")
            bd.fit(make_net(), X[part], y[part], comm, epochs=5, batch_size=16)  # rank 0 waits here
    elif case == "bad_input":
        net = make_net()
        Xp = X[part] if rank == 0 else X[part][:, :4]
        bd.fit(net, Xp, y[part], comm, epochs=1)
    elif case == "mismatch":
        # what differs between ranks must not leave one rank waiting in a collective (a hang):
        # a callback on rank 0 only trains as usual; differing arguments raise on every rank
        net = make_net()
        seen = []
        bd.fit(net, X[part], y[part], comm, epochs=3, batch_size=16,
               callback=seen.append if rank == 0 else None)
        crcs = comm.allgather(net.params.tobytes())
        print(f"rank {rank}: callback-on-rank-0 epochs {len(seen)} identical {crcs[0] == crcs[1]}")
        for kwargs in (dict(epochs=3 if rank == 0 else 4), dict(batch_size=16 if rank == 0 else 32),
                       dict(tol=None if rank == 0 else 1e-3), dict(learning_rate=0.1 if rank == 0 else 0.2)):
            try:
                bd.fit(make_net(), X[part], y[part], comm, **{"epochs": 2, "batch_size": 16, **kwargs})
            except bd.DistributedError as exc:
                print(f"rank {rank}: mismatch raised: {exc}")
        try:
            bd.fit(make_net(), X[part], y[part], comm, epochs=1, seed=1.5)
        except bd.DistributedError as exc:
            print(f"rank {rank}: bad seed raised: {exc}")
        labels = (y[part, 0] > 0).astype(int)
        clf = bpnet.MLPClassifier(hidden_layer_sizes=(3,), max_iter=1, batch_size=50)
        try:
            bd.fit_estimator(clf, X[part], labels, comm, classes=[0, 1] if rank == 1 else None)
        except bd.DistributedError as exc:
            print(f"rank {rank}: classes raised: {exc}")
    else:
        raise SystemExit(f"unknown case {case}")


# ---------------------------------------------------------------------------- launching
def _launcher():
    """(mpirun argv prefix, reason to skip or None)."""
    try:
        import mpi4py  # noqa: F401
    except ImportError:
        return None, "mpi4py is not installed (pip install mpich mpi4py)"
    exe_dir = os.path.dirname(sys.executable)
    candidates = [os.path.join(exe_dir, n) for n in ("mpirun", "mpiexec")]
    candidates += [shutil.which(n) for n in ("mpirun", "mpiexec")]
    mpirun = next((c for c in candidates if c and os.path.isfile(c) and os.access(c, os.X_OK)), None)
    if mpirun is None:
        return None, "no mpirun/mpiexec found (pip install mpich mpi4py)"
    try:
        version = subprocess.run([mpirun, "--version"], capture_output=True, text=True, timeout=20).stdout
    except (OSError, subprocess.TimeoutExpired) as exc:
        return None, f"{mpirun} --version failed: {exc}"
    if "Open MPI" in version or "OpenRTE" in version or "PRRTE" in version:
        return [mpirun, "--oversubscribe", "-n", "2"], None
    return [mpirun, "-n", "2"], None  # MPICH's hydra: local processes, no host list needed


def _run(case, out, timeout=TIMEOUT):
    argv, reason = _launcher()
    if reason:
        pytest.skip(reason)
    env = dict(os.environ, OMP_NUM_THREADS="1", OMPI_ALLOW_RUN_AS_ROOT="1",
               OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1", PYTHONWARNINGS="ignore::DeprecationWarning")
    try:
        return subprocess.run(argv + [sys.executable, HERE, case, str(out)], capture_output=True,
                              text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"mpirun {case} did not finish within {timeout} s (a hang): {exc.stderr}")


# ---------------------------------------------------------------------------- reference
def reference(run, X, y, w):
    """One process: backward + step over the same global batches as bpnet.distributed.fit."""
    net = make_net()
    N = len(X)
    B = N if run["batch_size"] is None else run["batch_size"]
    step_kw = dict(optimizer=run["optimizer"], learning_rate=run["learning_rate"],
                   momentum=run.get("momentum", 0.0))
    losses = []
    for epoch in range(1, run["epochs"] + 1):
        order = (np.random.default_rng((run["seed"], epoch)).permutation(N)
                 if run["shuffle"] and B < N else np.arange(N))
        total = weight = 0.0
        for s in range(0, N, B):
            idx = order[s:s + B]
            wb = w[idx] if run["weighted"] else None
            bw = float(wb.sum()) if wb is not None else float(len(idx))
            if bw == 0:
                continue
            g = net.backward(X[idx], y[idx], wb, alpha=run["alpha"])
            net.step(g.flat, **step_kw)
            total += g.loss * bw
            weight += bw
        losses.append(total / weight)
    return net, losses


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("mpi_train")
    r = _run("train", out)
    assert r.returncode == 0, r.stdout + r.stderr
    return out


@pytest.mark.parametrize("name", sorted(RUNS))
def test_ranks_identical_and_equal_to_one_process(trained, name):
    p0, p1 = (np.load(trained / f"{name}.{r}.npy") for r in (0, 1))
    assert p0.tobytes() == p1.tobytes(), "the ranks' weights differ"
    l0, l1 = (np.load(trained / f"{name}.loss.{r}.npy") for r in (0, 1))
    assert l0.tobytes() == l1.tobytes(), "the ranks' histories differ"
    X, y, w = data()
    net, losses = reference(RUNS[name], X, y, w)
    np.testing.assert_allclose(p0, net.params, rtol=0, atol=1e-10)
    np.testing.assert_allclose(l0, losses, rtol=1e-10, atol=1e-12)
    assert not np.allclose(p0, make_net().params)  # it trained


def test_in_order_run_equals_network_fit(trained):
    run = RUNS["sgd_momentum_in_order"]
    X, y, _ = data()
    net = make_net()
    h = net.fit(X, y, optimizer="sgd", learning_rate=run["learning_rate"], momentum=run["momentum"],
                epochs=run["epochs"], batch_size=run["batch_size"], shuffle=False)
    np.testing.assert_allclose(np.load(trained / "sgd_momentum_in_order.0.npy"), net.params, rtol=0, atol=1e-10)
    np.testing.assert_allclose(np.load(trained / "sgd_momentum_in_order.loss.0.npy"), h.loss, rtol=1e-10)


def test_fit_estimator_equals_in_process_fit(trained):
    from sklearn.exceptions import ConvergenceWarning
    c0, c1 = (np.load(trained / f"clf.{r}.npy") for r in (0, 1))
    assert c0.tobytes() == c1.tobytes()
    X, y, _ = data()
    labels = (y[:, 0] > 0).astype(int) + (y[:, 1] > 0)
    clf = bpnet.MLPClassifier(hidden_layer_sizes=(6,), solver="adam", batch_size=32, max_iter=4,
                              shuffle=False, random_state=0, learning_rate_init=0.01)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, labels)
    np.testing.assert_array_equal(np.load(trained / "clf.classes.0.npy"), clf.classes_)
    np.testing.assert_allclose(c0, clf._net.params, rtol=0, atol=1e-10)
    np.testing.assert_allclose(np.load(trained / "clf.loss.0.npy"), clf.loss_curve_, rtol=1e-10)
    # and a warm-started continuation of it
    w0, w1 = (np.load(trained / f"clf_warm.{r}.npy") for r in (0, 1))
    assert w0.tobytes() == w1.tobytes()
    clf.set_params(warm_start=True, max_iter=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, labels)
    np.testing.assert_allclose(w0, clf._net.params, rtol=0, atol=1e-10)
    np.testing.assert_allclose(np.load(trained / "clf_warm.loss.0.npy"), clf.loss_curve_, rtol=1e-10)
    assert int(np.load(trained / "clf_warm.t.0.npy")) == clf.t_ == 6 * len(X)


def test_fit_estimator_continues_the_plateau_count_as_fit(trained):
    X, y, _ = data()
    reg = bpnet.MLPRegressor(**PLATEAU_REGRESSOR)
    for warm_start, expected in ((False, [4, 3, 4]), (True, [1, 4, 5])):
        reg.set_params(warm_start=warm_start).fit(X, y[:, 0])
        assert [reg.n_iter_, reg._no_improvement_count, len(reg.loss_curve_)] == expected
        for rank in (0, 1):
            ranks = np.load(trained / f"reg_plateau.{int(warm_start)}.{rank}.npy")
            assert ranks.tolist() == expected


@pytest.mark.parametrize("case, message", [
    ("raise_in_fit", "injected failure on rank 1"),
    ("raise_outside_fit", "injected failure before fit on rank 1"),
    ("bad_input", "X has 4 columns, expected 5"),
])
def test_a_rank_that_raises_stops_the_job(tmp_path, case, message):
    r = _run(case, tmp_path, timeout=TIMEOUT)
    assert r.returncode != 0
    assert message in r.stdout + r.stderr
    if case != "raise_outside_fit":  # every rank names the failing rank
        assert (r.stdout + r.stderr).count("rank 1 raised") >= 2, r.stderr


def test_arguments_that_differ_between_ranks_raise_instead_of_hanging(tmp_path):
    r = _run("mismatch", tmp_path, timeout=TIMEOUT)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    for rank in (0, 1):
        assert f"rank {rank}: callback-on-rank-0 epochs {3 if rank == 0 else 0} identical True" in out
        for arg, a, b in (("epochs", 3, 4), ("batch_size", 16, 32), ("tol", None, 0.001),
                          ("learning_rate", 0.1, 0.2)):
            assert f"rank {rank}: mismatch raised: bpnet.distributed: {arg} differs between ranks " \
                   f"(rank 0: {a}, rank 1: {b})" in out
        assert f"rank {rank}: bad seed raised: bpnet.distributed: rank 0 raised ValueError: seed" in out
        assert f"rank {rank}: classes raised: " in out
    assert "classes: expected the same value on every rank" in out


def test_example_script_runs_on_two_ranks():
    argv, reason = _launcher()
    if reason:
        pytest.skip(reason)
    example = os.path.join(os.path.dirname(HERE), os.pardir, "examples", "distributed_fit.py")
    env = dict(os.environ, OMP_NUM_THREADS="1", OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    r = subprocess.run(argv + [sys.executable, example, "--rows", "2000", "--epochs", "3"],
                       capture_output=True, text=True, timeout=TIMEOUT, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "identical weights on 2/2 ranks" in r.stdout
    assert "MLPClassifier: 3 epochs" in r.stdout


def test_divergence_restores_the_optimizer_state_too():
    # one process (mpi4py's COMM_WORLD of size 1): the weights and the Adam state of the
    # diverged epoch's start, as Network.fit keeps them
    pytest.importorskip("mpi4py")
    import bpnet.distributed as bd

    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(40, 3)), rng.normal(size=(40, 1))
    net = bpnet.Network((3, 4, 1), activation="tanh", dtype="float32", seed=0)
    bd.fit(net, X, y, optimizer="adam", learning_rate=0.01, epochs=2, batch_size=8)
    params, state = net.params.copy(), net._net.train_state
    with pytest.warns(bpnet.DivergenceWarning, match="weights and optimizer state"):
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "overflow encountered", RuntimeWarning)  # NumPy's cast
            h = bd.fit(net, X, y, optimizer="adam", learning_rate=1e30, epochs=2, batch_size=8)
    assert h.diverged
    after = net._net.train_state
    np.testing.assert_array_equal(net.params, params)
    assert after["t"] == state["t"]
    np.testing.assert_array_equal(after["m"], state["m"])
    np.testing.assert_array_equal(after["v"], state["v"])


def test_import_error_names_the_packages(monkeypatch):
    import bpnet.distributed as bd
    monkeypatch.setitem(sys.modules, "mpi4py", None)
    with pytest.raises(ImportError, match="pip install mpich mpi4py"):
        bd.fit(make_net(), np.zeros((1, 5)), np.zeros((1, 3)))


if __name__ == "__main__":
    _worker(sys.argv[1], sys.argv[2])


def test_fit_estimator_reports_poissons_loss_as_fit_does():
    # one process (mpi4py's COMM_WORLD of size 1): the same steps as est.fit, so the same
    # loss_curve_, which for Poisson includes scikit-learn's constant term y log y - y
    # (the core leaves it out); with sample weights, its weighted mean
    pytest.importorskip("mpi4py")
    pytest.importorskip("sklearn")
    from sklearn.base import clone
    from sklearn.exceptions import ConvergenceWarning
    import bpnet.distributed as bd

    rng = np.random.default_rng(3)
    X = rng.normal(size=(60, 3))
    y = rng.poisson(np.exp(0.5 * X[:, 0] + 0.2)).astype(float)
    w = rng.uniform(0.5, 2.0, size=60)
    est = bpnet.MLPRegressor(hidden_layer_sizes=(4,), loss="poisson", solver="adam",
                             batch_size=60, max_iter=5, shuffle=False, random_state=0,
                             learning_rate_init=0.01, tol=0.0)
    for sample_weight in (None, w):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            ref = clone(est).fit(X, y, sample_weight=sample_weight)
            got = bd.fit_estimator(clone(est), X, y, sample_weight=sample_weight)
        np.testing.assert_allclose(got.loss_curve_, ref.loss_curve_, rtol=1e-12)
        assert got.best_loss_ == pytest.approx(ref.best_loss_, rel=1e-12)
        # "up to the rounding of the sums" (fit_estimator's docstring): the gradient goes
        # through (g · m) / m, which need not give g back in the last bit (it did not for the
        # AVX2 kernels' products here); exact equality held only by chance of the ISA
        np.testing.assert_allclose(got._net.params, ref._net.params, rtol=1e-12, atol=1e-15)


def test_fit_estimator_holds_the_estimators_fit_guard():
    # (it did not: a predict from another thread during a distributed refit read the network
    # _prepare_fit had just published, with its initial weights)
    pytest.importorskip("mpi4py")
    pytest.importorskip("sklearn")
    import threading

    import bpnet.distributed as bd

    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 6))
    y = X @ rng.normal(size=6)
    est = bpnet.MLPRegressor(hidden_layer_sizes=(32,), max_iter=30, random_state=0, tol=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        bd.fit_estimator(est, X, y)
    expected = est.predict(X[:10])
    stop, bad, reads = threading.Event(), [], []

    def read():
        while not stop.is_set():
            got = est.predict(X[:10])
            reads.append(1)
            if not np.array_equal(got, expected):
                bad.append(got)

    t = threading.Thread(target=read)
    t.start()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for _ in range(5):
                bd.fit_estimator(est, X, y)  # the same random_state: the same final weights
    finally:
        stop.set()
        t.join(60)
    assert reads and not bad, f"{len(bad)} of {len(reads)} predictions were of a half-trained model"
