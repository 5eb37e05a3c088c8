"""The command-line tool: train -> predict round trips, agreement with the Python API, and
every kind of bad input giving one line on stderr and exit status 2."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

import bpnet
from bpnet.__main__ import main


def write_csv(path, header, rows):
    with open(path, "w") as f:
        f.write(",".join(header) + "\n")
        for r in rows:
            f.write(",".join(repr(float(v)) if not isinstance(v, str) else v for v in r) + "\n")
    return str(path)


@pytest.fixture
def regression_csv(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 3)) * [1.0, 10.0, 0.1] + [0.0, 50.0, -3.0]
    y = X[:, 0] - 0.2 * X[:, 1] + 5 * np.sin(X[:, 2]) + rng.normal(0, 0.1, size=120)
    return write_csv(tmp_path / "houses.csv", ["rooms", "area", "slope", "price"],
                     np.column_stack([X, y]))


@pytest.fixture
def classification_csv(tmp_path):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(150, 2))
    label = np.select([X[:, 0] > 1.0, X[:, 0] + X[:, 1] > 0], [8, 7], 3)
    return write_csv(tmp_path / "kinds.csv", ["kind", "u", "v"], np.column_stack([label, X]))


def run_cli(*args):
    """Run `python -m bpnet ARGS` in a subprocess."""
    return subprocess.run([sys.executable, "-m", "bpnet", *map(str, args)], capture_output=True,
                          text=True, timeout=120)


def cli(capsys, *args):
    """Run the tool in this process: (exit status, stdout, stderr)."""
    try:
        rc = main([str(a) for a in args])
    except SystemExit as exc:  # argparse's usage errors
        rc = exc.code
    out = capsys.readouterr()
    return rc, out.out, out.err


def assert_one_line_error(rc, err, *words):
    assert rc == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("bpnet"), err
    assert "Traceback" not in err
    for w in words:
        assert w in lines[0], (w, err)


def read_predictions(text):
    lines = text.strip().splitlines()
    return lines[0].split(","), np.array([[float(v) for v in l.split(",")] for l in lines[1:]])


# ---------------------------------------------------------------- round trips


def train_like_the_cli(path, target, hidden, seed, epochs, lr, batch_size, val_fraction,
                       activation="relu"):
    """The CLI's recipe (docs/cli.md) written out with the Python API."""
    with open(path) as f:
        header = f.readline().strip().split(",")
    data = np.loadtxt(path, delimiter=",", skiprows=1)
    t = header.index(target)
    X, y = np.delete(data, t, axis=1), data[:, t]
    n = len(data)
    perm = np.random.default_rng(seed).permutation(n)
    train = np.sort(perm[int(round(val_fraction * n)):])
    mean, std = X[train].mean(axis=0), X[train].std(axis=0)
    y_mean, y_std = y[train].mean(), y[train].std()
    net = bpnet.Network([X.shape[1], *hidden, 1], activation=activation, seed=seed)
    net.fit((X[train] - mean) / std, (y[train] - y_mean) / y_std, optimizer="adam",
            learning_rate=lr, epochs=epochs, batch_size=batch_size, seed=seed)
    return net.predict((X - mean) / std)[:, 0] * y_std + y_mean


def test_train_predict_round_trip_matches_python_api(tmp_path, regression_csv):
    model = tmp_path / "model.bpn"
    r = run_cli("train", regression_csv, "--target", "price", "--hidden", "16,8", "--epochs", 30,
                "--lr", 0.01, "--batch-size", 16, "--val-fraction", 0.25, "--seed", 7, "--out", model)
    assert r.returncode == 0, r.stderr
    assert "final training loss" in r.stdout and "final validation loss" in r.stdout
    assert f"model written to {model}" in r.stdout
    assert "Traceback" not in r.stderr

    r = run_cli("predict", model, regression_csv)
    assert r.returncode == 0, r.stderr
    columns, values = read_predictions(r.stdout)
    assert columns == ["price"] and values.shape == (120, 1)

    expected = train_like_the_cli(regression_csv, "price", [16, 8], seed=7, epochs=30, lr=0.01,
                                  batch_size=16, val_fraction=0.25)
    np.testing.assert_allclose(values[:, 0], expected, rtol=1e-12, atol=1e-12)

    # the model is an ordinary model file, with the recipe in its metadata
    net = bpnet.load(model)
    assert net.layer_sizes == (3, 16, 8, 1)
    assert net.metadata["task"] == "regression" and net.metadata["target"] == "price"


def test_same_seed_same_model(tmp_path, regression_csv, capsys):
    a, b = tmp_path / "a.bpn", tmp_path / "b.bpn"
    for m in (a, b):
        rc, _, err = cli(capsys, "train", regression_csv, "--target", "price", "--epochs", 5,
                         "--seed", 3, "--quiet", "--out", m)
        assert rc == 0, err
    np.testing.assert_array_equal(bpnet.load(a).params, bpnet.load(b).params)


def test_predict_ignores_extra_columns_and_picks_inputs_by_name(tmp_path, regression_csv, capsys):
    model = tmp_path / "m.bpn"
    assert cli(capsys, "train", regression_csv, "--target", "price", "--epochs", 3, "--seed", 0,
               "--quiet", "--out", model)[0] == 0
    data = np.loadtxt(regression_csv, delimiter=",", skiprows=1)
    # columns reordered, target dropped, an extra column added
    shuffled = write_csv(tmp_path / "other.csv", ["extra", "slope", "rooms", "area"],
                         np.column_stack([np.ones(len(data)), data[:, 2], data[:, 0], data[:, 1]]))
    rc1, out1, _ = cli(capsys, "predict", model, regression_csv)
    rc2, out2, _ = cli(capsys, "predict", model, shuffled)
    assert rc1 == rc2 == 0
    np.testing.assert_array_equal(read_predictions(out1)[1], read_predictions(out2)[1])


def test_classification(tmp_path, classification_csv, capsys):
    model = tmp_path / "c.bpn"
    rc, out, err = cli(capsys, "train", classification_csv, "--target", "kind", "--task",
                       "classification", "--hidden", 8, "--epochs", 40, "--lr", 0.01, "--seed", 1,
                       "--quiet", "--out", model)
    assert rc == 0, err
    assert "accuracy" in out
    net = bpnet.load(model)
    assert net.activations[-1] == "softmax" and net.loss_name == "cross_entropy"
    assert net.layer_sizes[-1] == 3  # labels 3, 7, 8

    out_file = tmp_path / "pred.csv"
    rc, _, err = cli(capsys, "predict", model, classification_csv, "--proba", "--out", out_file)
    assert rc == 0, err
    columns, values = read_predictions(out_file.read_text())
    assert columns == ["kind", "p_3", "p_7", "p_8"]
    assert set(np.unique(values[:, 0])) <= {3.0, 7.0, 8.0}
    np.testing.assert_allclose(values[:, 1:].sum(axis=1), 1.0, rtol=1e-12)
    true = np.loadtxt(classification_csv, delimiter=",", skiprows=1)[:, 0]
    assert np.mean(values[:, 0] == true) > 0.8

    rc, out, _ = cli(capsys, "info", model)
    assert rc == 0 and "classification" in out and "3, 7, 8" in out and "u, v" in out
    rc, out, _ = cli(capsys, "gradcheck", model, classification_csv)
    assert "layer 1: max relative error" in out and "layer 2" in out
    assert rc in (0, 1)


def test_numpy_files(tmp_path, capsys):
    rng = np.random.default_rng(2)
    X = rng.normal(size=(80, 4))
    y = X @ [1.0, 2.0, -1.0, 0.5]
    np.savez(tmp_path / "d.npz", X=X, y=y)
    np.save(tmp_path / "d.npy", np.column_stack([X, y]))
    m1, m2 = tmp_path / "m1.bpn", tmp_path / "m2.bpn"
    assert cli(capsys, "train", tmp_path / "d.npz", "--epochs", 5, "--seed", 0, "--quiet", "--out", m1)[0] == 0
    assert cli(capsys, "train", tmp_path / "d.npy", "--target", -1, "--epochs", 5, "--seed", 0,
               "--quiet", "--out", m2)[0] == 0
    out = tmp_path / "p.npy"
    rc, _, err = cli(capsys, "predict", m2, tmp_path / "d.npy", "--out", out)
    assert rc == 0, err
    assert np.load(out).shape == (80, 1)
    rc, _, err = cli(capsys, "predict", m1, tmp_path / "d.npz")
    assert rc == 0, err


def test_model_saved_from_python(tmp_path, capsys):
    net = bpnet.Network((2, 3, 1), seed=0)
    net.save(tmp_path / "raw.bpn")
    X = np.arange(10.0).reshape(5, 2)
    data = write_csv(tmp_path / "x.csv", ["p", "q"], X)
    rc, out, err = cli(capsys, "predict", tmp_path / "raw.bpn", data)
    assert rc == 0, err
    np.testing.assert_allclose(read_predictions(out)[1][:, 0], net.predict(X)[:, 0], rtol=1e-15)
    rc, out, _ = cli(capsys, "info", tmp_path / "raw.bpn")
    assert rc == 0 and "not trained by the bpnet command" in out
    data = write_csv(tmp_path / "xy.csv", ["p", "q", "t"], np.column_stack([X, X.sum(axis=1)]))
    rc, out, err = cli(capsys, "gradcheck", tmp_path / "raw.bpn", data, "--target", "t")
    assert rc == 0, out + err


def test_force(tmp_path, regression_csv, capsys):
    model = tmp_path / "m.bpn"
    model.write_bytes(b"precious")
    rc, _, err = cli(capsys, "train", regression_csv, "--target", "price", "--epochs", 2,
                     "--quiet", "--out", model)
    assert_one_line_error(rc, err, "exists", "--force")
    assert model.read_bytes() == b"precious"
    rc, _, err = cli(capsys, "train", regression_csv, "--target", "price", "--epochs", 2,
                     "--quiet", "--force", "--out", model)
    assert rc == 0, err
    bpnet.load(model)

    pred = tmp_path / "pred.csv"
    pred.write_text("keep me")
    rc, _, err = cli(capsys, "predict", model, regression_csv, "--out", pred)
    assert_one_line_error(rc, err, "exists", "--force")
    assert pred.read_text() == "keep me"
    rc, _, err = cli(capsys, "predict", model, regression_csv, "--out", pred, "--force")
    assert rc == 0, err
    assert pred.read_text().startswith("price\n")


# ---------------------------------------------------------------- bad input


@pytest.fixture
def model(tmp_path, regression_csv, capsys):
    path = tmp_path / "good.bpn"
    assert cli(capsys, "train", regression_csv, "--target", "price", "--epochs", 2, "--quiet",
               "--out", path)[0] == 0
    return path


BAD_CSV = {
    "non_numeric": ("a,b,y\n1,2,3\n4,five,6\n", ["line 3", "column 'b'", "'five' is not a number"]),
    "empty_value": ("a,b,y\n1,2,3\n4,,6\n", ["line 3", "column 'b'", "empty value"]),
    "ragged": ("a,b,y\n1,2,3\n4,5\n", ["line 3", "2 fields, expected 3"]),
    "empty": ("", ["empty"]),
    "blank": ("\n\n", ["empty"]),
    "header_only": ("a,b,y\n", ["no data rows"]),
    "no_header": ("1,2,3\n4,5,6\n", ["header"]),
    "duplicate_column": ("a,a,y\n1,2,3\n", ["'a' appears twice"]),
    "not_finite": ("a,b,y\n1,2,3\n4,nan,6\n", ["line 3", "column 'b'", "not a finite number"]),
}


@pytest.mark.parametrize("case", sorted(BAD_CSV))
def test_bad_csv_train(tmp_path, capsys, case):
    text, words = BAD_CSV[case]
    data = tmp_path / "bad.csv"
    data.write_text(text)
    rc, _, err = cli(capsys, "train", data, "--target", "y", "--quiet", "--out", tmp_path / "m.bpn")
    assert_one_line_error(rc, err, *words)
    assert not (tmp_path / "m.bpn").exists()


@pytest.mark.parametrize("case", ["non_numeric", "ragged", "empty", "header_only"])
def test_bad_csv_predict(tmp_path, capsys, model, case):
    text, words = BAD_CSV[case]
    data = tmp_path / "bad.csv"
    data.write_text(text.replace("a,b,y", "rooms,area,slope"))
    rc, _, err = cli(capsys, "predict", model, data)
    assert_one_line_error(rc, err, *[w.replace("column 'b'", "column 'area'") for w in words])


def test_missing_columns(tmp_path, capsys, regression_csv, model):
    rc, _, err = cli(capsys, "train", regression_csv, "--target", "cost", "--out", tmp_path / "x.bpn")
    assert_one_line_error(rc, err, "'cost'", "no such column", "price")
    data = write_csv(tmp_path / "partial.csv", ["rooms", "slope"], [[1, 2]])
    rc, _, err = cli(capsys, "predict", model, data)
    assert_one_line_error(rc, err, "missing column 'area'")
    rc, _, err = cli(capsys, "gradcheck", model, data)
    assert_one_line_error(rc, err, "missing column 'area'")


@pytest.mark.parametrize("command", ["predict", "info", "gradcheck"])
def test_not_a_model(tmp_path, capsys, regression_csv, command):
    args = [command, regression_csv] + ([regression_csv] if command != "info" else [])
    rc, _, err = cli(capsys, *args)
    assert_one_line_error(rc, err, "not a bpnet model file")
    empty = tmp_path / "empty.bpn"
    empty.write_bytes(b"")
    args[1] = empty
    assert_one_line_error(*cli(capsys, *args)[::2])
    args[1] = tmp_path / "absent.bpn"
    rc, _, err = cli(capsys, *args)
    assert_one_line_error(rc, err, "no such file")


def test_bad_files_and_options(tmp_path, capsys, regression_csv):
    out = tmp_path / "m.bpn"
    cases = [
        (["train", tmp_path / "absent.csv", "--target", "y"], "no such file"),
        (["train", regression_csv, "--target", "price", "--hidden", "8,x"], "--hidden"),
        (["train", regression_csv, "--target", "price", "--hidden", "8,-1"], "--hidden"),
        (["train", regression_csv, "--target", "price", "--val-fraction", "1.5"], "--val-fraction"),
        (["train", regression_csv, "--target", "price", "--activation", "swish"], "swish"),
        (["train", regression_csv, "--target", "price", "--epochs", "0"], "--epochs"),
        (["train", regression_csv], "--target"),
        (["train", regression_csv, "--target", "price", "--out", tmp_path / "no" / "m.bpn"], "does not exist"),
    ]
    for args, word in cases:
        if "--out" not in args:
            args = args + ["--out", out]
        rc, _, err = cli(capsys, *args, "--quiet")
        assert_one_line_error(rc, err, word)
        assert not out.exists()


# Every numeric option: (command, option, bad value, what the message says it expected).
BAD_NUMBERS = [
    ("train", "--seed", "-1", "expected a non-negative integer, got '-1'"),
    ("train", "--seed", "1.5", "expected a non-negative integer, got '1.5'"),
    ("train", "--seed", str(2**64), "expected a non-negative integer below 2**64"),
    ("train", "--alpha", "-1", "expected a finite number >= 0, got '-1'"),
    ("train", "--alpha", "nan", "expected a finite number >= 0, got 'nan'"),
    ("train", "--alpha", "inf", "expected a finite number >= 0, got 'inf'"),
    ("train", "--lr", "0", "expected a finite number > 0, got '0'"),
    ("train", "--lr", "1e400", "expected a finite number > 0, got '1e400'"),
    ("train", "--lr", "fast", "expected a finite number > 0, got 'fast'"),
    ("train", "--epochs", "0", "expected a positive integer, got '0'"),
    ("train", "--epochs", "2.5", "expected a positive integer, got '2.5'"),
    ("train", "--epochs", str(2**63), "expected a positive integer below 2**63"),
    ("train", "--batch-size", "-3", "expected a positive integer, got '-3'"),
    ("train", "--batch-size", str(10**30), "expected a positive integer below 2**63"),
    ("train", "--val-fraction", "1", "expected a number in [0, 1), got '1'"),
    ("train", "--val-fraction", "-0.1", "expected a number in [0, 1), got '-0.1'"),
    ("train", "--val-fraction", "nan", "expected a number in [0, 1), got 'nan'"),
    ("train", "--hidden", "8,0", "layer sizes must be 1..4294967296, got 0 in '8,0'"),
    ("train", "--hidden", "8,x", "expected positive integers separated by commas"),
    ("train", "--hidden", str(10**30), "layer sizes must be 1..4294967296"),
    ("gradcheck", "--rows", "0", "expected a positive integer, got '0'"),
    ("gradcheck", "--tol", "-0.5", "expected a finite number > 0, got '-0.5'"),
    ("gradcheck", "--tol", "nan", "expected a finite number > 0, got 'nan'"),
    (None, "--seed", "-1", "expected a non-negative integer, got '-1'"),  # the main job's
]


@pytest.mark.parametrize("command, option, value, expected", BAD_NUMBERS,
                         ids=[f"{c or 'main'} {o}={v[:12]}" for c, o, v, _ in BAD_NUMBERS])
def test_bad_numeric_options_are_refused_up_front(tmp_path, capsys, regression_csv, model,
                                                  command, option, value, expected):
    # Refused by argparse, naming the option, before any file is read or training starts (no
    # --quiet: a progress bar on stderr would break the one-line check).
    out = tmp_path / "m.bpn"
    args = {
        "train": ["train", regression_csv, "--target", "price", "--epochs", 2, "--out", out],
        "gradcheck": ["gradcheck", model, regression_csv],
        None: [],
    }[command]
    rc, stdout, err = cli(capsys, *args, option, value)
    assert_one_line_error(rc, err, f"argument {option}: {expected}")
    assert stdout == "" and not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["good.bpn", "houses.csv"]


def test_numeric_options_at_their_limits_are_accepted(tmp_path, capsys, regression_csv):
    rc, out, err = cli(capsys, "train", regression_csv, "--target", "price", "--hidden", "none",
                       "--seed", 2**64 - 1, "--alpha", 0, "--val-fraction", 0, "--epochs", 1,
                       "--batch-size", 2**63 - 1, "--quiet", "--out", tmp_path / "m.bpn")
    assert rc == 0, err
    assert f"seed {2**64 - 1}" in out
    assert bpnet.load(tmp_path / "m.bpn").metadata["seed"] == str(2**64 - 1)


def test_bad_numpy_files(tmp_path, capsys):
    out = tmp_path / "m.bpn"
    (tmp_path / "junk.npy").write_bytes(b"not numpy at all")
    np.save(tmp_path / "cube.npy", np.zeros((2, 2, 2)))
    np.save(tmp_path / "text.npy", np.array(["a", "b"]))
    (tmp_path / "empty.npz").write_bytes(b"")
    for name, word in [("junk.npy", "NumPy"), ("cube.npy", "2-D"), ("text.npy", "numbers"),
                       ("empty.npz", "empty")]:
        rc, _, err = cli(capsys, "train", tmp_path / name, "--target", 0, "--out", out)
        assert_one_line_error(rc, err, word)


def test_bad_input_in_a_subprocess_has_no_traceback(tmp_path):
    data = tmp_path / "bad.csv"
    data.write_text("a,b,y\n1,2,3\n4,x,6\n")
    r = run_cli("train", data, "--target", "y", "--out", tmp_path / "m.bpn")
    assert_one_line_error(r.returncode, r.stderr, "line 3", "column 'b'")
    r = run_cli("predict", data, data)
    assert_one_line_error(r.returncode, r.stderr, "not a bpnet model file")
    r = run_cli("train", "--no-such-option")
    assert_one_line_error(r.returncode, r.stderr)


def test_progress_bar_or_note(tmp_path, regression_csv, capsys, monkeypatch):
    # Without tqdm, the tool says once how to get a progress bar and trains anyway.
    monkeypatch.setitem(sys.modules, "tqdm", None)
    rc, out, err = cli(capsys, "train", regression_csv, "--target", "price", "--epochs", 3,
                       "--out", tmp_path / "m.bpn")
    assert rc == 0
    assert err.count("pip install tqdm") == 1


def test_npz_model_predicts_from_x_alone_and_y_is_one_column(tmp_path, capsys):
    # a model trained on an .npz with X and y predicts from X alone (new data has no y), or
    # from a .npy of X's columns; y's other columns never become inputs
    rng = np.random.default_rng(3)
    X = rng.normal(size=(40, 3))
    y = X @ [1.0, -2.0, 0.5]
    np.savez(tmp_path / "xy.npz", X=X, y=y)
    np.savez(tmp_path / "x.npz", X=X)
    np.save(tmp_path / "x.npy", X)
    model = tmp_path / "m.bpn"
    rc, _, err = cli(capsys, "train", tmp_path / "xy.npz", "--epochs", 3, "--seed", 0, "--quiet",
                     "--out", model)
    assert rc == 0, err
    outs = []
    for data in ("xy.npz", "x.npz", "x.npy"):
        rc, out, err = cli(capsys, "predict", model, tmp_path / data)
        assert rc == 0, err
        outs.append(out)
    assert outs[0] == outs[1] == outs[2]
    # a model written before the columns were named 0, 1, ... (X0, X1, ...) still reads them
    net = bpnet.load(model)
    net.metadata["features"] = json.dumps(["X0", "X1", "X2"])
    net.save(tmp_path / "old.bpn")
    rc, out, err = cli(capsys, "predict", tmp_path / "old.bpn", tmp_path / "x.npz")
    assert rc == 0 and out == outs[0], err
    np.savez(tmp_path / "y2.npz", X=X, y=np.column_stack([y, -y]))
    rc, _, err = cli(capsys, "train", tmp_path / "y2.npz", "--target", "y", "--quiet",
                     "--out", tmp_path / "m2.bpn")
    assert_one_line_error(rc, err, "'y' has shape (40, 2)", "one target column")


def test_gradcheck_of_a_float32_model_uses_a_float32_tolerance(tmp_path, regression_csv, capsys):
    # a correct float32 model failed `bpnet gradcheck` (exit 1) with float64's 1e-6
    model = tmp_path / "m32.bpn"
    rc, _, err = cli(capsys, "train", regression_csv, "--target", "price", "--dtype", "float32",
                     "--activation", "tanh", "--epochs", 2, "--seed", 0, "--quiet", "--out", model)
    assert rc == 0, err
    rc, out, err = cli(capsys, "gradcheck", model, regression_csv)
    assert rc == 0 and "CHECK" not in out and "agrees" in out, out + err
    rc, out, _ = cli(capsys, "gradcheck", model, regression_csv, "--tol", "1e-9")
    assert rc == 1 and "more than 1e-09" in out


def test_predict_ignores_columns_it_does_not_use(tmp_path, regression_csv, capsys):
    # new data often has an id that is not a number and a blank target column: only the
    # model's input columns must be numbers (an empty input cell is still named)
    model = tmp_path / "m.bpn"
    assert cli(capsys, "train", regression_csv, "--target", "price", "--epochs", 2, "--seed", 0,
               "--quiet", "--out", model)[0] == 0
    rc, expected, err = cli(capsys, "predict", model, regression_csv)
    assert rc == 0, err
    with open(regression_csv) as f:
        lines = f.read().splitlines()
    new = ["id,price," + lines[0].replace(",price", "")]
    new += [f"house-{i},," + l.rsplit(",", 1)[0] for i, l in enumerate(lines[1:])]
    (tmp_path / "new.csv").write_text("\n".join(new) + "\n")
    rc, out, err = cli(capsys, "predict", model, tmp_path / "new.csv")
    assert rc == 0, err
    assert out == expected
    new[3] = new[3].replace("house-2,,", "house-2,,,", 1).rsplit(",", 1)[0]  # rooms left empty
    (tmp_path / "bad.csv").write_text("\n".join(new) + "\n")
    rc, _, err = cli(capsys, "predict", model, tmp_path / "bad.csv")
    assert_one_line_error(rc, err, "bad.csv line 4, column 'rooms': an empty value")
    rc, _, err = cli(capsys, "train", tmp_path / "new.csv", "--target", "price", "--quiet",
                     "--out", tmp_path / "m2.bpn")
    assert_one_line_error(rc, err, "new.csv line 2, column 'id': 'house-0' is not a number")
