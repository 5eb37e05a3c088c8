#!/usr/bin/env bash
# The benchmark session on a lent machine with more cores (see docs/performance.md): builds
# bpnet there, then runs the benchmarks pinned to 1 and 2 cores (to compare with the 2-core
# reference machine's peers) and the OpenMP scaling of one mnist-shaped epoch up to all cores.
# Usage: OUT=folder bash benchmarks/device_run.sh
set -uo pipefail
OUT=${OUT:-/tmp/bpnet-bench}
mkdir -p "$OUT"
unset OPENBLAS_CORETYPE OPENBLAS_L2_SIZE
ROOT=$(pwd)
{ nproc; lscpu | grep -E "Model name|L2|L3|Flags" | cut -c1-200; python3 --version; } > "$OUT/machine.txt" 2>&1
python3 -m pip install --no-build-isolation --no-deps -q . > "$OUT/build.txt" 2>&1 || { cat "$OUT/build.txt"; exit 1; }
cd /tmp
python3 - > "$OUT/scaling.txt" 2>&1 <<'PY'
import time, numpy as np, bpnet
print("kernels", bpnet._core.isa(), "max threads", bpnet.get_num_threads())
rng = np.random.default_rng(0)
X = rng.normal(size=(60000, 784)).astype(np.float32)
Y = np.eye(10, dtype=np.float32)[(X @ rng.normal(size=(784, 10)).astype(np.float32)).argmax(1)]
for nt in (1, 2, 4, 8, 16):
    ts = []
    for r in range(3):
        net = bpnet.Network((784, 256, 128, 10), activation="relu", output_activation="softmax",
                            loss="cross_entropy", dtype="float32", seed=0)
        t0 = time.perf_counter()
        net.fit(X, Y, optimizer="adam", learning_rate=1e-3, epochs=1, batch_size=128, seed=0, n_threads=nt)
        ts.append(time.perf_counter() - t0)
    print(f"threads {nt:2d}: {sorted(ts)[1]:.3f} s per epoch (median of 3), weights {net.params[:3]}", flush=True)
PY
taskset -c 0,1 python3 "$ROOT/benchmarks/bench_training.py" --repeat 5 > "$OUT/training_2cores.txt" 2>&1
taskset -c 0 python3 "$ROOT/benchmarks/bench_training.py" --workloads step,mnist,digits --repeat 3 --threads 1 > "$OUT/training_1core.txt" 2>&1
taskset -c 0,1 python3 "$ROOT/benchmarks/bench_estimators.py" --repeats 2 --large-epochs 2 > "$OUT/estimators_2cores.txt" 2>&1
echo done > "$OUT/done.txt"
