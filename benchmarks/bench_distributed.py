"""Data-parallel scaling: 1 vs 2 (or more) MPI ranks on mnist-shaped data.

60000 x 784 float32 rows (synthetic: 10 Gaussian classes), a 784-256-128-10 relu/softmax
network, Adam, global batch 128 (469 steps an epoch), each rank on ``--threads`` kernel threads.

    python benchmarks/bench_distributed.py            # runs mpirun -n 1 and -n 2, prints a table
    mpirun -n 2 python benchmarks/bench_distributed.py --worker   # one configuration

Per configuration: seconds per epoch (best of ``--epochs`` after one warm-up epoch), rows/s,
the share of that time spent in the gradient all-reduce (as ``DistributedHistory`` measures
it: waiting for the slower rank included), and a bare all-reduce of the same buffer without
training (the transfer cost alone). The single-process ``Network.fit`` (the C++ loop, no MPI, no
Python per batch) and ``backward`` + ``step`` from Python without MPI are the baselines.
Needs mpi4py and an MPI launcher (``pip install mpich mpi4py``).
"""
import argparse
import os
import shutil
import subprocess
import sys
import time

import numpy as np

N, D, H1, H2, C, BATCH = 60000, 784, 256, 128, 10, 128


def data(part):
    rng = np.random.default_rng(0)
    centers = rng.normal(size=(C, D)).astype(np.float32)
    labels = rng.integers(C, size=N)[part]
    X = centers[labels] + np.random.default_rng([1, part.start]).normal(size=(len(labels), D)).astype(np.float32)
    return np.ascontiguousarray(X, dtype=np.float32), np.eye(C, dtype=np.float32)[labels]


def network():
    import bpnet
    return bpnet.Network((D, H1, H2, C), activation="relu", output_activation="softmax",
                         loss="cross_entropy", dtype="float32", seed=0)


def worker(args):
    import bpnet.distributed as bd
    from mpi4py import MPI

    comm = MPI.COMM_WORLD
    rank, size = comm.Get_rank(), comm.Get_size()
    X, Y = data(bd.shard_rows(N, comm))
    net = network()
    h = bd.fit(net, X, Y, comm, optimizer="adam", learning_rate=1e-3, epochs=args.epochs + 1,
               batch_size=BATCH, seed=0, n_threads=args.threads)
    best = int(np.argmin(h.seconds[1:])) + 1
    sec, comm_sec = h.seconds[best], h.allreduce_seconds[best]
    # the transfer alone: the same buffer, the same number of all-reduces, no training
    buf = np.zeros(net.n_params + 3, dtype=np.float32)
    comm.Barrier()
    t0 = time.perf_counter()
    for _ in range(h.steps // len(h.seconds)):
        comm.Allreduce(MPI.IN_PLACE, buf, op=MPI.SUM)
    bare = time.perf_counter() - t0
    stats = comm.gather((sec, comm_sec, bare), root=0)
    if rank == 0:
        sec = max(s[0] for s in stats)
        share = np.mean([s[1] / s[0] for s in stats])
        bare = max(s[2] for s in stats)
        print(f"RESULT ranks={size} threads={args.threads} epoch_s={sec:.3f} rows_per_s={N / sec:.0f} "
              f"allreduce_share={share:.3f} bare_allreduce_s={bare:.3f} loss={h.loss[-1]:.4f}", flush=True)


def baselines(threads, epochs):
    import bpnet
    X, Y = data(slice(0, N))
    net = network()
    h = net.fit(X, Y, optimizer="adam", learning_rate=1e-3, epochs=epochs + 1, batch_size=BATCH,
                shuffle=True, seed=0, n_threads=threads)
    fit_s = min(h.seconds[1:])
    net = network()
    best = np.inf
    for epoch in range(2):
        perm = np.random.default_rng(epoch).permutation(N)
        t0 = time.perf_counter()
        for s in range(0, N, BATCH):
            idx = perm[s:s + BATCH]
            g = net.backward(X[idx], Y[idx])
            net.step(g.flat, optimizer="adam", learning_rate=1e-3, n_threads=threads)
        best = min(best, time.perf_counter() - t0) if epoch else best
    return fit_s, best


def launch(args):
    here = os.path.abspath(__file__)
    exe_dir = os.path.dirname(sys.executable)
    mpirun = next((c for c in (os.path.join(exe_dir, "mpirun"), shutil.which("mpirun"), shutil.which("mpiexec"))
                   if c and os.path.exists(c)), None)
    if mpirun is None:
        raise SystemExit("no mpirun found: pip install mpich mpi4py")
    version = subprocess.run([mpirun, "--version"], capture_output=True, text=True).stdout
    extra = ["--oversubscribe"] if "Open MPI" in version or "PRRTE" in version else []
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
    fit_s, py_s = baselines(args.threads, args.epochs)
    print(f"mnist-shaped {N}x{D} float32, {D}-{H1}-{H2}-{C}, adam, batch {BATCH}; {os.cpu_count()} cores; "
          f"{args.threads} thread(s) per process")
    print(f"{'configuration':40s} {'s/epoch':>8s} {'rows/s':>8s} {'speed-up':>8s} {'all-reduce':>10s} {'bare':>7s}")
    print(f"{'Network.fit (C++ loop), 1 process':40s} {fit_s:8.3f} {N / fit_s:8.0f} {1.0:8.2f}")
    print(f"{'backward+step from Python, no MPI':40s} {py_s:8.3f} {N / py_s:8.0f} {fit_s / py_s:8.2f}")
    for ranks in args.ranks:
        r = subprocess.run([mpirun, *extra, "-n", str(ranks), sys.executable, here, "--worker",
                            "--epochs", str(args.epochs), "--threads", str(args.threads)],
                           capture_output=True, text=True, env=env, timeout=1800)
        line = next((ln for ln in r.stdout.splitlines() if ln.startswith("RESULT")), None)
        if line is None:
            print(r.stdout, r.stderr)
            raise SystemExit(f"mpirun -n {ranks} failed")
        f = dict(kv.split("=") for kv in line.split()[1:])
        sec = float(f["epoch_s"])
        print(f"{'bpnet.distributed.fit, ' + str(ranks) + ' rank(s)':40s} {sec:8.3f} {N / sec:8.0f} "
              f"{fit_s / sec:8.2f} {100 * float(f['allreduce_share']):9.1f}% {float(f['bare_allreduce_s']):7.3f}")


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--worker", action="store_true", help="run one configuration (under mpirun)")
    p.add_argument("--epochs", type=int, default=2, help="timed epochs after one warm-up epoch")
    p.add_argument("--threads", type=int, default=1, help="kernel threads per process")
    p.add_argument("--ranks", type=int, nargs="+", default=[1, 2])
    a = p.parse_args()
    worker(a) if a.worker else launch(a)
