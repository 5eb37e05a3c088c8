"""Model files from Python: round trips, optimizer state, metadata, estimators' save/load, and
corrupt files rejected with a clear ValueError in a subprocess that exits normally."""
import os
import pickle
import re
import subprocess
import sys
import textwrap
import warnings
import zlib

import numpy as np
import pytest

import bpnet


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_round_trip_is_bit_identical_and_keeps_training_state(tmp_path, rng, dtype):
    X, y = rng.normal(size=(30, 4)).astype(dtype), rng.normal(size=(30, 2)).astype(dtype)
    net = bpnet.Network((4, 6, 2), activation=["tanh"], dtype=dtype, seed=1)
    net.fit(X, y, optimizer="adam", epochs=3, batch_size=8, seed=0)
    net.metadata = {"note": "héllo", "scale": "[1, 2]"}
    path = tmp_path / "m.bpnet"
    net.save(path)
    back = bpnet.load(path)
    assert back.params.tobytes() == net.params.tobytes()
    assert back.predict(X).tobytes() == net.predict(X).tobytes()
    assert back.metadata == net.metadata and back.dtype == net.dtype
    # the optimizer state travels too: continuing both gives the same bits
    net.fit(X, y, optimizer="adam", epochs=2, batch_size=8, seed=5)
    back.fit(X, y, optimizer="adam", epochs=2, batch_size=8, seed=5)
    assert back.params.tobytes() == net.params.tobytes()
    assert not list(tmp_path.glob("*.tmp*")) and len(list(tmp_path.iterdir())) == 1


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(FileNotFoundError):
        bpnet.load(tmp_path / "nope.bpnet")
    with pytest.raises((ValueError, OSError, RuntimeError)):
        bpnet.load(tmp_path)


CORRUPT = textwrap.dedent(
    """
    import sys, bpnet
    try:
        bpnet.load(sys.argv[1])
    except ValueError as e:
        print("ValueError:", e)
    """
)


def corrupt_cases(good: bytes):
    yield "empty", b""
    yield "truncated", good[: len(good) // 2]
    yield "one byte short", good[:-1]
    yield "trailing bytes", good + b"\\0" * 7
    flipped = bytearray(good)
    flipped[len(good) // 2] ^= 0x10
    yield "bit flip", bytes(flipped)
    yield "wrong magic", b"NOTBPNET" + good[8:]
    # a future version with a valid checksum, and a header claiming 10^12 parameters
    for name, off, val in [("future version", 8, (999).to_bytes(4, "little"))]:
        b = bytearray(good)
        b[off:off + len(val)] = val
        b[-4:] = zlib.crc32(bytes(b[:-4])).to_bytes(4, "little")
        yield name, bytes(b)


def test_corrupt_files_are_rejected_cleanly(tmp_path):
    net = bpnet.Network((3, 4, 2), seed=0)
    good_path = tmp_path / "good.bpnet"
    net.save(good_path)
    good = good_path.read_bytes()
    for name, data in corrupt_cases(good):
        p = tmp_path / "bad.bpnet"
        p.write_bytes(data)
        out = subprocess.run([sys.executable, "-c", CORRUPT, str(p)], capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, f"{name}: crashed ({out.returncode}) {out.stderr[-500:]}"
        assert out.stdout.startswith("ValueError:") and len(out.stdout) > 20, f"{name}: {out.stdout!r}"


def test_absurd_sizes_fail_before_allocating(tmp_path):
    net = bpnet.Network((3, 4, 2), seed=0)
    data = bytearray(net.to_bytes())
    # overwrite every 8-byte little-endian word that holds a layer size with 10^12, fix the
    # checksum: the loader must refuse without trying to allocate
    for off in range(24, len(data) - 12):
        word = int.from_bytes(data[off:off + 8], "little")
        if word in (3, 4):
            b = bytearray(data)
            b[off:off + 8] = (10**12).to_bytes(8, "little")
            b[-4:] = zlib.crc32(bytes(b[:-4])).to_bytes(4, "little")
            with pytest.raises(ValueError):
                bpnet.Network.from_bytes(bytes(b))


def test_fuzzed_files_only_raise_value_error(rng):
    good = bpnet.Network((3, 5, 2), activation="relu", seed=0).to_bytes()
    for i in range(2000):
        b = bytearray(good)
        if i % 2:
            b = b[: rng.integers(0, len(b))]
        else:
            for _ in range(rng.integers(1, 4)):
                b[rng.integers(0, len(b))] ^= 1 << int(rng.integers(0, 8))
        if bytes(b) == good:
            continue
        with pytest.raises(ValueError):
            bpnet.Network.from_bytes(bytes(b))


@pytest.mark.parametrize("kind", ["classifier", "multilabel", "regressor"])
def test_estimators_save_and_load(tmp_path, rng, kind):
    pytest.importorskip("sklearn")
    X = rng.normal(size=(60, 4))
    if kind == "regressor":
        est, y = bpnet.MLPRegressor(hidden_layer_sizes=(5,), max_iter=20, random_state=0), X @ rng.normal(size=(4, 2))
    elif kind == "multilabel":
        est, y = bpnet.MLPClassifier(hidden_layer_sizes=(5,), max_iter=20, random_state=0), (X[:, :3] > 0).astype(int)
    else:
        est, y = bpnet.MLPClassifier(hidden_layer_sizes=(5,), max_iter=20, random_state=0), np.array(["x", "y", "z"])[rng.integers(0, 3, 60)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.fit(X, y)
    path = tmp_path / "est.bpnet"
    est.save(path)
    back = type(est).load(path)
    np.testing.assert_array_equal(back.predict(X), est.predict(X))
    assert back.get_params() == est.get_params()
    assert back.loss_curve_ == est.loss_curve_ and back.n_iter_ == est.n_iter_
    if kind != "regressor":
        np.testing.assert_array_equal(back.classes_, est.classes_)
        np.testing.assert_array_equal(back.predict_proba(X), est.predict_proba(X))
    assert bpnet.load(path).layer_sizes == est._net.layer_sizes  # a plain network to C++ and bpnet.load
    other = bpnet.MLPRegressor if kind != "regressor" else bpnet.MLPClassifier
    with pytest.raises(ValueError, match="expected a"):
        other.load(path)
    assert pickle.loads(pickle.dumps(back)).predict(X).tolist() == est.predict(X).tolist()


def _with_crc(b):
    b = bytearray(b)
    b[-4:] = zlib.crc32(bytes(b[:-4])).to_bytes(4, "little")
    return bytes(b)


def test_optimizer_state_that_does_not_match_its_optimizer_is_rejected(rng):
    net = bpnet.Network((3, 4, 1), seed=0)
    net.fit(rng.normal(size=(10, 3)), rng.normal(size=10), optimizer="sgd", momentum=0.9, epochs=1)
    data = net.to_bytes()
    i = data.index(b"sgd")  # the metadata value "sgd" -> "ada" (no adam arrays present)
    crafted = _with_crc(data[:i] + b"ada" + data[i + 3:])
    with pytest.raises(ValueError):
        bpnet.Network.from_bytes(crafted)


def test_os_errors_are_oserrors(tmp_path):
    net = bpnet.Network((2, 1), seed=0)
    with pytest.raises(OSError):
        net.save(tmp_path / "no" / "such" / "folder" / "m.bpnet")
    with pytest.raises(OSError):
        bpnet.load(tmp_path)


def test_a_path_with_a_nul_character_is_refused(tmp_path):
    # as open() refuses it: the C library would stop at the NUL and use another file
    net = bpnet.Network((2, 1), seed=0)
    net.save(tmp_path / "m.bpnet")
    for path in (str(tmp_path / "m.bpnet") + "\0.bak", os.fsencode(tmp_path / "m.bpnet") + b"\0x"):
        with pytest.raises(ValueError, match="save_model: the path .* holds a NUL byte"):
            net.save(path)
        with pytest.raises(ValueError, match="load_model: the path .* holds a NUL byte"):
            bpnet.load(path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.bpnet"]


def test_fit_and_reads_in_other_threads_never_crash(rng):
    import threading

    net = bpnet.Network((20, 64, 3), activation="relu", seed=0)
    X, y = rng.normal(size=(2000, 20)), rng.normal(size=(2000, 3))
    stop = threading.Event()
    errors = []

    def trainer():
        try:
            for i in range(6):
                net.fit(X, y, optimizer=("adam", "sgd")[i % 2], momentum=0.5, epochs=1, batch_size=32, warm_start=False)
        except Exception as e:  # noqa: BLE001
            errors.append(e)
        finally:
            stop.set()

    def reader():
        while not stop.is_set():
            bpnet.Network.from_bytes(net.to_bytes())
            net.predict(X[:5])
            net._net.train_state

    threads = [threading.Thread(target=trainer), threading.Thread(target=reader)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors


def test_a_callback_may_predict_during_fit(rng):
    net = bpnet.Network((3, 4, 1), seed=0)
    X, y = rng.normal(size=(20, 3)), rng.normal(size=20)
    seen = []
    net.fit(X, y, epochs=2, callback=lambda rec: seen.append(net.predict(X[:2]).shape))
    assert seen == [(2, 1), (2, 1)]


def _with_metadata_value(data, key, value):
    """The model bytes with the value of metadata ``key`` replaced (size and CRC fixed)."""
    key = key.encode()
    i = data.index(len(key).to_bytes(4, "little") + key) + 4 + len(key)
    n = int.from_bytes(data[i:i + 4], "little")
    b = bytearray(data[:i] + len(value).to_bytes(4, "little") + value.encode() + data[i + 4 + n:])
    b[16:24] = len(b).to_bytes(8, "little")
    return _with_crc(b)


def test_invalid_optimizer_state_is_a_format_error(tmp_path, rng):
    # strtoull read adam_t "-1" as 2**64 - 1: the file loaded and the next fit "diverged"
    X, y = rng.normal(size=(10, 3)), rng.normal(size=10)
    net = bpnet.Network((3, 4, 1), seed=0)
    net.fit(X, y, optimizer="adam", epochs=1)
    data = net.to_bytes()
    for key in ("adam_t", "samples_seen"):
        for value in ("-1", "+1", " 1", "1e3", "", str(2**64 - 1)):
            with pytest.raises(ValueError, match=rf"\('{key}'\): '{re.escape(value)}', expected a step count"):
                bpnet.Network.from_bytes(_with_metadata_value(data, key, value))
    ok = bpnet.Network.from_bytes(_with_metadata_value(data, "adam_t", str(2**53)))
    assert ok._net.train_state["t"] == 2**53
    # a negative second moment (Adam's v averages squares)
    name = b"adam_v"
    at = data.index(len(name).to_bytes(4, "little") + name) + 4 + len(name) + 8  # the values
    bad = bytearray(data)
    bad[at + 8 * 2:at + 8 * 3] = np.float64(-1.0).tobytes()
    (tmp_path / "m.bpnet").write_bytes(_with_crc(bad))
    with pytest.raises(ValueError, match=r"m\.bpnet'.*\('adam_v'\)\[2\]: -1, expected a value >= 0"):
        bpnet.load(tmp_path / "m.bpnet")


def test_non_finite_optimizer_state_is_not_continued(rng):
    # the format keeps NaN exactly, so such a file loads; continuing its state is refused by
    # name (it made the first step "diverge", blaming the learning rate); afresh it trains
    X, y = rng.normal(size=(10, 3)), rng.normal(size=10)
    net = bpnet.Network((3, 4, 1), seed=0)
    net.fit(X, y, optimizer="adam", epochs=1)
    data = net.to_bytes()
    name = b"adam_m"
    at = data.index(len(name).to_bytes(4, "little") + name) + 4 + len(name) + 8  # the values
    bad = bytearray(data)
    bad[at + 8:at + 16] = np.float64(np.nan).tobytes()
    loaded = bpnet.Network.from_bytes(_with_crc(bad))
    assert np.isnan(loaded._net.train_state["m"][1])
    before = loaded.params.copy()
    with pytest.raises(ValueError, match=r"optimizer state: adam_m\[1\] is nan, expected a finite value.*warm_start=False"):
        loaded.fit(X, y, optimizer="adam", epochs=1)
    np.testing.assert_array_equal(loaded.params, before)
    h = loaded.fit(X, y, optimizer="adam", epochs=1, warm_start=False)
    assert not h.diverged and np.all(np.isfinite(loaded._net.train_state["m"]))


def test_user_metadata_keys_have_250_bytes(tmp_path):
    # stored as "user." + key, within the format's 255 bytes; the message names the user's key
    net = bpnet.Network((2, 1), seed=0)
    net.metadata = {"k" * 250: "1", "é" * 125: "2"}
    net.save(tmp_path / "m.bpnet")
    assert bpnet.load(tmp_path / "m.bpnet").metadata == net.metadata
    for key, size in [("k" * 251, 251), ("é" * 126, 252)]:
        net.metadata = {"short": "1", key: "2"}
        with pytest.raises(ValueError, match=rf"metadata key '{key[:12]}.*\.\.\.' is {size} bytes, at most 250 allowed$"):
            net.save(tmp_path / "long.bpnet")
    net.metadata = {"a\nb": "1"}
    with pytest.raises(ValueError, match=r"metadata key 'a\\x0Ab': byte 1 is the control character 0x0A"):
        net.to_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.bpnet"]
