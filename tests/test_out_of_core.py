"""Out-of-core training: a file larger than the process's address-space limit.

RLIMIT_AS (``ulimit -v``) bounds the *virtual* address space, so a file larger than the limit
cannot be mapped whole: ``np.memmap`` of it fails (the test checks that it does). What works
is mapping one window at a time: ``bpnet.data.fit_blocks`` over a ``bpnet.data.RowFile``.
The file is a small slice tiled k times, so one in-order pass over it takes exactly the steps
of an in-memory ``fit`` on the slice for k epochs: the weights must be the same bits.
"""
import importlib.util
import os
import re
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest

import bpnet
from bpnet.data import RowFile, fit_blocks

SLICE_ROWS, N_COLS, BATCH = 4096, 128, 128


def _slice(dtype):
    rng = np.random.default_rng(5)
    X = rng.normal(size=(SLICE_ROWS, N_COLS)).astype(dtype)
    y = (np.tanh(X[:, :8].sum(axis=1, keepdims=True) / 4)).astype(dtype)
    return X, y


def _net(dtype):
    return bpnet.Network((N_COLS, 8, 1), activation="tanh", dtype=dtype, seed=3)


def _write_tiled_npy(path, a, repeats):
    """A .npy of `a` stacked `repeats` times, written piece by piece (never in memory)."""
    header = {"descr": np.lib.format.dtype_to_descr(a.dtype), "fortran_order": False,
              "shape": (a.shape[0] * repeats,) + a.shape[1:]}
    data = np.ascontiguousarray(a).tobytes()
    with open(path, "wb") as f:
        np.lib.format.write_array_header_1_0(f, header)
        for _ in range(repeats):
            f.write(data)


CHILD = textwrap.dedent("""
    import resource, sys
    import numpy as np
    import bpnet
    from bpnet.data import RowFile, fit_blocks

    x_path, y_path, out, headroom = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    vm = int([l.split()[1] for l in open("/proc/self/status") if l.startswith("VmSize")][0]) * 1024
    limit = vm + headroom
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    size = __import__("os").path.getsize(x_path)
    assert size > limit, (size, limit)
    try:  # the whole file cannot even be mapped under this limit
        np.memmap(x_path, dtype=np.float32, mode="r")
    except (OSError, ValueError, MemoryError) as exc:
        print("whole-file memmap refused:", type(exc).__name__)
    else:
        raise SystemExit("expected mapping the whole file to fail under RLIMIT_AS")
    X, y = RowFile(x_path), RowFile(y_path)
    net = bpnet.Network((X.shape[1], 8, 1), activation="tanh", dtype="float32", seed=3)
    h = fit_blocks(net, X, y, block_rows=1 << 15, optimizer="adam", learning_rate=1e-3,
                   batch_size=128, shuffle=False, n_threads=1)
    np.save(out, net.params)
    print(f"file {size >> 20} MiB > limit {limit >> 20} MiB; loss {h.loss[0]:.5f}; "
          f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss >> 10} MiB")
""")


@pytest.mark.slow
def test_file_larger_than_the_address_space_limit(tmp_path):
    if not sys.platform.startswith("linux"):
        pytest.skip("needs /proc/self/status and RLIMIT_AS (Linux)")
    headroom = 128 << 20  # the process may grow by this much beyond its size at start
    X, y = _slice(np.float32)
    repeats = (512 << 20) // X.nbytes  # 512 MiB: above the limit unless the interpreter starts above 384 MiB
    x_path, y_path = tmp_path / "X.npy", tmp_path / "y.npy"
    _write_tiled_npy(x_path, X, repeats)
    _write_tiled_npy(y_path, y, repeats)
    out = tmp_path / "params.npy"
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    r = subprocess.run([sys.executable, "-c", CHILD, str(x_path), str(y_path), str(out), str(headroom)],
                       capture_output=True, text=True, timeout=120, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    print(r.stdout)
    ref = _net(np.float32)
    ref.fit(X, y, optimizer="adam", learning_rate=1e-3, batch_size=BATCH, shuffle=False,
            epochs=int(repeats), n_threads=1)
    np.testing.assert_array_equal(np.load(out), ref.params)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_in_order_blocks_equal_one_fit(tmp_path, dtype):
    X, y = _slice(dtype)
    np.save(tmp_path / "X.npy", X)
    np.save(tmp_path / "y.npy", y)
    f = RowFile(tmp_path / "X.npy")
    assert f.shape == X.shape and f.dtype == X.dtype and len(f) == SLICE_ROWS
    np.testing.assert_array_equal(f[100:230], X[100:230])
    a, b = _net(dtype), _net(dtype)
    kw = dict(optimizer="sgd", learning_rate=0.05, momentum=0.9, batch_size=BATCH)
    h = fit_blocks(a, f, RowFile(tmp_path / "y.npy"), block_rows=1000, epochs=2, **kw)  # -> 896 rows
    ref = b.fit(X, y, epochs=2, shuffle=False, **kw)
    np.testing.assert_array_equal(a.params, b.params)
    np.testing.assert_allclose(h.loss, ref.loss, rtol=1e-5 if dtype == "float32" else 1e-12)


def test_memmap_fit_reads_in_place_and_equals_in_memory(tmp_path):
    X, y = _slice(np.float64)
    np.save(tmp_path / "X.npy", X)
    Xm = np.load(tmp_path / "X.npy", mmap_mode="r")
    a, b = _net("float64"), _net("float64")
    a.fit(Xm, y, batch_size=BATCH, epochs=2, shuffle=True, seed=1)
    b.fit(X, y, batch_size=BATCH, epochs=2, shuffle=True, seed=1)
    np.testing.assert_array_equal(a.params, b.params)


def test_block_shuffle_is_seeded_and_visits_every_row(tmp_path):
    X, y = _slice(np.float64)
    runs = []
    for _ in range(2):
        net = _net("float64")
        h = fit_blocks(net, X, y, block_rows=512, epochs=2, shuffle_blocks=True, shuffle=True, seed=9,
                       batch_size=BATCH, optimizer="adam", learning_rate=1e-3)
        runs.append(net.params.copy())
        assert h.epochs_run == 2 and np.all(np.isfinite(h.loss))
    np.testing.assert_array_equal(runs[0], runs[1])
    in_order = _net("float64")
    fit_blocks(in_order, X, y, block_rows=512, epochs=2, batch_size=BATCH, optimizer="adam", learning_rate=1e-3)
    assert not np.array_equal(in_order.params, runs[0])


def test_raw_file_and_errors(tmp_path):
    X, _ = _slice(np.float32)
    X.tofile(tmp_path / "X.bin")
    f = RowFile(tmp_path / "X.bin", dtype="float32", n_cols=N_COLS)
    assert f.shape == X.shape
    np.testing.assert_array_equal(f[-3:], X[-3:])
    with pytest.raises(ValueError, match="whole number of rows"):
        RowFile(tmp_path / "X.bin", dtype="float32", n_cols=N_COLS + 1)
    with pytest.raises(ValueError, match="contiguous"):
        f[::2]
    with pytest.raises(ValueError, match="batch_size"):
        fit_blocks(_net("float32"), f, np.zeros((SLICE_ROWS, 1), np.float32))
    with pytest.raises(ValueError, match="unsupported keyword"):
        fit_blocks(_net("float32"), f, np.zeros((SLICE_ROWS, 1), np.float32), batch_size=8, tol=1e-3)


def test_rowfile_rejects_bad_arguments(tmp_path):
    from bpnet.data import RowFile

    raw = tmp_path / "rows.bin"
    np.arange(12, dtype=np.float64).tofile(raw)
    for kwargs, match in [(dict(dtype="f8", n_cols=0), "n_cols"), (dict(dtype="f8", n_cols=-2), "n_cols"),
                          (dict(dtype="O", n_cols=2), "numeric"), (dict(dtype="f8", n_cols=2, offset=10**6), "offset")]:
        with pytest.raises(ValueError, match=match):
            RowFile(raw, **kwargs)
    good = tmp_path / "a.npy"
    np.save(good, np.ones((50, 3)))
    cut = tmp_path / "cut.npy"
    cut.write_bytes(good.read_bytes()[:-100])
    with pytest.raises(ValueError, match="truncated"):
        RowFile(cut)


def test_divergence_restores_weights_and_optimizer_state_of_the_epoch_start():
    """A later block of epoch 2 diverges (its y rows scaled by 1e200 from then on): the network
    is left as it was after epoch 1, optimizer state included, and trains on from there as a
    copy taken then does (the state used to be that of the diverging block's start)."""
    X, y = _slice(np.float64)
    X, y = X[:1024], y[:1024]
    saved = {}

    class Rows:  # y, with rows 512.. blown up once the callback has seen epoch 1
        def __len__(self):
            return len(y)

        def __getitem__(self, key):
            rows = y[key].copy()
            if saved and key.start >= 512:
                rows *= 1e200
            return rows

    def callback(rec):
        if rec["epoch"] == 1:
            saved["net"] = net.copy()

    net = _net("float64")
    kw = dict(optimizer="adam", learning_rate=1e-2, batch_size=BATCH)
    with pytest.warns(bpnet.DivergenceWarning) as record:
        h = fit_blocks(net, X, Rows(), block_rows=256, epochs=3, callback=callback, **kw)
    assert h.diverged and h.epochs_run == 1 and len(h.loss) == 1
    assert h.message == str(record[0].message)
    assert h.message.startswith("training diverged: the loss became non-finite in epoch 2 (in the "
                                "block of rows 512 to 767); the weights and optimizer state from the "
                                "start of that epoch were kept")
    ref = saved["net"]
    np.testing.assert_array_equal(net.params, ref.params)
    state, ref_state = net._net.train_state, ref._net.train_state
    assert state["t"] == ref_state["t"] == 8 and state["optimizer"] == "adam"
    for key in ("m", "v"):
        np.testing.assert_array_equal(state[key], ref_state[key])
    assert state["samples_seen"] == ref_state["samples_seen"]
    fit_blocks(net, X, y, block_rows=256, **kw)
    fit_blocks(ref, X, y, block_rows=256, **kw)
    np.testing.assert_array_equal(net.params, ref.params)


def test_divergence_in_the_first_epoch_leaves_the_network_as_before_the_call():
    X, y = _slice(np.float64)
    net = _net("float64")
    kw = dict(optimizer="sgd", learning_rate=1e-2, momentum=0.9, batch_size=BATCH)
    fit_blocks(net, X[:512], y[:512], **kw)
    before = net.copy()
    bad = y.copy()
    bad[2048:] *= 1e200
    with pytest.warns(bpnet.DivergenceWarning, match="epoch 1 .*weights and optimizer state"):
        h = fit_blocks(net, X, bad, block_rows=1024, warm_start=False, **kw)
    assert h.diverged and h.epochs_run == 0
    np.testing.assert_array_equal(net.params, before.params)
    np.testing.assert_array_equal(net._net.train_state["velocity"], before._net.train_state["velocity"])


def test_fit_blocks_checks_the_seed():
    X, y = _slice(np.float64)
    for seed in (1.5, -1, "a", 2**64, True):
        with pytest.raises(ValueError, match=r"seed: expected None or an integer in \[0, 2\*\*64\)"):
            fit_blocks(_net("float64"), X, y, batch_size=BATCH, shuffle=True, seed=seed)
    runs = []
    for seed in (2**64 - 1, np.uint64(2**64 - 1)):
        net = _net("float64")
        fit_blocks(net, X, y, block_rows=1024, batch_size=BATCH, shuffle_blocks=True, shuffle=True, seed=seed)
        runs.append(net.params.copy())
    np.testing.assert_array_equal(runs[0], runs[1])


def test_rowfile_offset_is_checked_and_only_for_raw_files(tmp_path):
    raw = tmp_path / "rows.bin"
    np.arange(12, dtype=np.float32).tofile(raw)
    for offset in (8.7, "8", True):
        with pytest.raises(ValueError, match="offset: expected a non-negative integer"):
            RowFile(raw, dtype="float32", n_cols=1, offset=offset)
    f = RowFile(raw, dtype="float32", n_cols=1, offset=np.int64(8))
    assert f.offset == 8 and f.shape == (10, 1)
    np.testing.assert_array_equal(f[0:2][:, 0], [2.0, 3.0])
    with pytest.raises(ValueError, match="not a .npy file.*give dtype and n_cols"):
        RowFile(raw)
    with pytest.raises(ValueError, match="expected both for a raw file"):
        RowFile(raw, dtype="float32")
    npy = tmp_path / "X.npy"
    np.save(npy, np.ones((4, 3)))
    for kwargs, names in [(dict(offset=8), "offset"), (dict(offset=0), "offset"),
                          (dict(dtype="float64"), "dtype"), (dict(dtype="float64", n_cols=3), "dtype, n_cols")]:
        with pytest.raises(ValueError, match=f"a .npy file, whose header gives .*: expected no {names} "):
            RowFile(npy, **kwargs)
    assert RowFile(npy).shape == (4, 3)


def test_doc_snippets_run(tmp_path, monkeypatch):
    """Every ```python snippet of docs/out-of-core.md runs as written, in order and in one
    namespace (the first writes the small X.npy and y.npy the others read); the dask-ml one
    where dask-ml is installed."""
    with open(os.path.join(os.path.dirname(__file__), os.pardir, "docs", "out-of-core.md"),
              encoding="utf-8") as f:
        snippets = re.findall(r"^```python\n(.*?)^```", f.read(), flags=re.S | re.M)
    assert len(snippets) == 3
    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": "__doc_snippet__"}
    skipped = []
    for index, code in enumerate(snippets, 1):
        if "dask_ml" in code:
            if importlib.util.find_spec("dask_ml") is None or importlib.util.find_spec("sklearn") is None:
                skipped.append(index)
                continue
            with warnings.catch_warnings():  # dask-ml's imports may warn about their own dependencies
                warnings.simplefilter("ignore")
                import dask_ml.wrappers  # noqa: F401
        exec(compile(code, f"docs/out-of-core.md snippet {index}", "exec"), namespace)
    assert namespace["h"].epochs_run == 5 and np.isfinite(namespace["h"].loss).all()  # fit_blocks
    if skipped:
        pytest.skip(f"snippet(s) {skipped} need dask-ml and scikit-learn (pip install dask-ml)")


def _adam_state(net):
    s = net._net.train_state
    return net.params.copy(), s["t"], np.array(s["m"]), np.array(s["v"])


def _same_state(a, b):
    return (a[0].tobytes() == b[0].tobytes() and a[1] == b[1]
            and a[2].tobytes() == b[2].tobytes() and a[3].tobytes() == b[3].tobytes())


def test_a_bad_block_puts_back_the_epoch_start_and_names_its_rows(tmp_path):
    # NaN in the last block is found only when that block is reached: the blocks before it
    # must not stay half-trained, and the message must say where in the file it is
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(50, 3)), rng.normal(size=(50, 1))
    net = bpnet.Network((3, 4, 1), seed=0)
    fit_blocks(net, X, y, batch_size=5, block_rows=10, optimizer="adam", learning_rate=0.01)
    before = _adam_state(net)
    X[45, 1] = np.nan
    with pytest.raises(ValueError, match=r"block of rows 40 to 49 \(epoch 1\).*NaN"):
        fit_blocks(net, X, y, batch_size=5, block_rows=10, optimizer="adam", learning_rate=0.01)
    assert _same_state(_adam_state(net), before)
    # a raw file truncated between epochs: the epoch that meets the gap is undone
    X[45, 1] = 0.0
    X.tofile(tmp_path / "X.bin")
    f = RowFile(tmp_path / "X.bin", dtype="float64", n_cols=3)
    states = []

    def truncate_after_epoch_1(rec):
        states.append(_adam_state(net))
        os.truncate(tmp_path / "X.bin", 40 * 3 * 8)

    with pytest.raises(ValueError, match=r"block of rows 40 to 49 \(epoch 2\)"):
        fit_blocks(net, f, y, batch_size=5, block_rows=10, epochs=3, optimizer="adam",
                   learning_rate=0.01, callback=truncate_after_epoch_1)
    assert len(states) == 1 and _same_state(_adam_state(net), states[0])


def test_fit_blocks_checks_the_callback_and_the_weights_before_training():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(20, 3)), rng.normal(size=(20, 1))
    net = bpnet.Network((3, 1), seed=0)
    p0 = net.params.copy()
    with pytest.raises(ValueError, match="callback: expected a callable"):
        fit_blocks(net, X, y, batch_size=5, callback=3)
    with pytest.raises(ValueError, match="sample_weight: expected a positive sum"):
        fit_blocks(net, X, y, batch_size=5, block_rows=5, sample_weight=np.zeros(20))
    assert net.params.tobytes() == p0.tobytes()
