"""The ``bpnet`` command-line tool: train on a CSV or NumPy file, predict, inspect, check.

    bpnet train DATA --target COL --out MODEL [--hidden 64,32] [--task classification] ...
    bpnet predict MODEL DATA [--out FILE]
    bpnet info MODEL
    bpnet gradcheck MODEL DATA

DATA is a CSV file (a header row of column names, then numeric values) or a .npy/.npz file.
The model file is an ordinary bpnet model (``bpnet.load`` reads it); what the tool needs to
use it again — feature names, the standardisation of inputs and targets, the task and the
class labels — is kept in its metadata (docs/cli.md lists the keys).

Bad input (a missing column, a non-numeric value, a ragged CSV, an empty file, a file that is
not a model, an output that exists without ``--force``, a numeric option out of its range)
prints one line on stderr and exits with status 2; it never shows a traceback.
"""
from __future__ import annotations

import argparse
import csv
import io
import json
import math
import os
import secrets
import sys
import time
import warnings
from dataclasses import dataclass
from typing import List, Optional, Sequence

import numpy as np

EXIT_OK = 0
EXIT_FAILED = 1  # the command ran but its result is bad (diverged, gradient check failed)
EXIT_USAGE = 2  # bad arguments or bad input

META_FORMAT = "bpnet-cli-1"  # value of metadata["cli"], so a later version can read old models


class CLIError(Exception):
    """Bad input or arguments: reported as one line on stderr, exit status 2."""


# ---------------------------------------------------------------------------- data files


@dataclass
class Table:
    """A numeric table read from DATA.

    Attributes
    ----------
    values : ndarray of shape (n_rows, n_columns), float64
    columns : list of str
        Column names: the CSV header, or "0", "1", ... for .npy arrays.
    path : str
    lines : ndarray of int or None
        For CSV, the file line of each row (for messages); None otherwise.
    bad : dict or None
        CSV columns with a cell that is not a number: column index -> (row, message) of the
        first such cell; their values hold NaN there. An error only if the column is used
        (``_check_finite``), so that predict's DATA may carry an id or a blank target.
    """

    values: np.ndarray
    columns: List[str]
    path: str
    lines: Optional[np.ndarray] = None
    bad: Optional[dict] = None

    def where(self, row: int, col: int) -> str:
        """Where cell (row, col) is, for error messages: file, line (CSV) or row, column."""
        if self.lines is not None:
            return f"{self.path} line {self.lines[row]}, column '{self.columns[col]}'"
        return f"{self.path} row {row}, column {self.columns[col]}"


def _read_csv(path: str) -> Table:
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            text = f.read()
    except UnicodeDecodeError:
        raise CLIError(f"{path}: not a text CSV file (it is not UTF-8)") from None
    if not text.strip():
        raise CLIError(f"{path}: the file is empty")
    header = None
    rows, lines = [], []
    for line_no, fields in enumerate(csv.reader(io.StringIO(text)), start=1):
        if not fields or all(not f.strip() for f in fields):
            continue  # blank line
        if header is None:
            header = [f.strip() for f in fields]
            _check_header(path, header)
            continue
        if len(fields) != len(header):
            raise CLIError(
                f"{path} line {line_no}: {len(fields)} fields, expected {len(header)} "
                f"(the header has {len(header)} columns)"
            )
        rows.append(fields)
        lines.append(line_no)
    if not rows:
        raise CLIError(f"{path}: no data rows after the header")
    try:
        values = np.array(rows, dtype=np.float64)
    except ValueError:
        values = None
    table = Table(values, header, path, np.asarray(lines))
    if values is None:  # column by column: which columns have a cell that is not a number
        table.values = np.empty((len(rows), len(header)))
        table.bad = {}
        for j in range(len(header)):
            column = [fields[j] for fields in rows]
            try:
                table.values[:, j] = np.array(column, dtype=np.float64)
                continue
            except ValueError:
                pass
            for i, cell in enumerate(column):
                try:
                    table.values[i, j] = float(cell)
                except ValueError:
                    table.values[i, j] = np.nan
                    if j not in table.bad:
                        what = "an empty value" if not cell.strip() else f"'{cell.strip()}' is not a number"
                        table.bad[j] = (i, what)
    return table


def _check_header(path: str, header: List[str]) -> None:
    def number(s):
        try:
            float(s)
            return True
        except ValueError:
            return False

    if all(number(h) for h in header):
        raise CLIError(f"{path} line 1: expected a header row of column names, got numbers")
    for j, name in enumerate(header):
        if not name:
            raise CLIError(f"{path} line 1: column {j + 1} has an empty name")
    seen = set()
    for name in header:
        if name in seen:
            raise CLIError(f"{path} line 1: column '{name}' appears twice in the header")
        seen.add(name)


def _as_table(arr, path: str, what: str) -> Table:
    arr = np.asarray(arr)
    if arr.dtype.kind not in "biuf":
        raise CLIError(f"{path}: {what} has dtype {arr.dtype}, expected numbers")
    if arr.ndim == 1:
        arr = arr.reshape(-1, 1)
    if arr.ndim != 2:
        raise CLIError(f"{path}: {what} has shape {arr.shape}, expected a 2-D array (rows, columns)")
    if arr.shape[0] == 0:
        raise CLIError(f"{path}: {what} has no rows")
    if arr.shape[1] == 0:
        raise CLIError(f"{path}: {what} has no columns")
    return Table(arr.astype(np.float64), [str(j) for j in range(arr.shape[1])], path)


def _read_numpy(path: str) -> Table:
    if os.path.getsize(path) == 0:
        raise CLIError(f"{path}: the file is empty")
    try:
        data = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise CLIError(f"{path}: not a readable NumPy file ({_first_line(exc)})") from None
    if isinstance(data, np.ndarray):
        return _as_table(data, path, "the array")
    with data:
        keys = list(data.keys())
        if "X" in keys:
            X = _as_table(data["X"], path, "'X'")
            if "y" not in keys:
                return X
            y = _as_table(data["y"], path, "'y'")
            if len(y.values) != len(X.values):
                raise CLIError(f"{path}: 'X' has {len(X.values)} rows but 'y' has {len(y.values)}")
            if y.values.shape[1] != 1:  # (its other columns are not inputs either)
                raise CLIError(f"{path}: 'y' has shape {np.shape(data['y'])}, expected one target "
                               f"column, shape ({len(y.values)},) or ({len(y.values)}, 1)")
            # X's columns keep the names they have without y ("0", "1", ...), so that a model
            # trained on X and y predicts from X alone, or from a .npy of the same columns
            return Table(np.hstack([X.values, y.values]), X.columns + ["y"], path)
        if len(keys) == 1:
            return _as_table(data[keys[0]], path, f"'{keys[0]}'")
        raise CLIError(f"{path}: expected arrays 'X' (and 'y') or a single array, found {', '.join(keys) or 'none'}")


def read_table(path: str) -> Table:
    """Read DATA (CSV with a header, .npy, or .npz with 'X' and optionally 'y')."""
    if not os.path.exists(path):
        raise CLIError(f"{path}: no such file")
    if os.path.isdir(path):
        raise CLIError(f"{path}: is a directory, expected a data file")
    if path.lower().endswith((".npy", ".npz")):
        return _read_numpy(path)
    return _read_csv(path)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _check_finite(table: Table, cols: Sequence[int]) -> None:
    if table.bad:  # the first cell (by row, then column) of the used columns that is no number
        first = min(((table.bad[j][0], j) for j in cols if j in table.bad), default=None)
        if first is not None:
            i, j = first
            raise CLIError(f"{table.where(i, j)}: {table.bad[j][1]}")
    sub = table.values[:, cols]
    bad = np.argwhere(~np.isfinite(sub))
    if len(bad):
        i, j = bad[0]
        raise CLIError(f"{table.where(i, cols[j])}: {sub[i, j]} is not a finite number")


def _column(table: Table, name: str, option: str) -> int:
    if name in table.columns:
        return table.columns.index(name)
    if table.lines is None:  # NumPy arrays: an integer index, negative counts from the end
        try:
            j = int(name)
        except ValueError:
            j = None
        if j is not None and -len(table.columns) <= j < len(table.columns):
            return j % len(table.columns)
    shown = ", ".join(table.columns[:20]) + (", ..." if len(table.columns) > 20 else "")
    raise CLIError(f"{option} '{name}': no such column in {table.path} (columns: {shown})")


# ---------------------------------------------------------------------------- model metadata


def _load_model(path: str):
    import bpnet

    if not os.path.exists(path):
        raise CLIError(f"{path}: no such file")
    if os.path.isdir(path):
        raise CLIError(f"{path}: is a directory, expected a model file")
    try:
        return bpnet.load(path)
    except ValueError as exc:
        raise CLIError(_first_line(exc)) from None


@dataclass
class Recipe:
    """How the CLI turns a table into the network's inputs and targets (kept in metadata)."""

    task: str  # "regression" or "classification"; "raw" for models not made by the CLI
    features: List[str]
    target: Optional[str]
    x_mean: np.ndarray
    x_std: np.ndarray
    y_mean: Optional[np.ndarray] = None
    y_std: Optional[np.ndarray] = None
    classes: Optional[np.ndarray] = None

    def to_metadata(self) -> dict:
        """The recipe as model-file metadata (a dict of str to str; ``from_model`` reads it)."""
        md = {
            "cli": META_FORMAT,
            "task": self.task,
            "features": json.dumps(self.features),
            "target": self.target or "",
            "x_mean": json.dumps(self.x_mean.tolist()),
            "x_std": json.dumps(self.x_std.tolist()),
        }
        if self.task == "regression":
            md["y_mean"] = json.dumps(self.y_mean.tolist())
            md["y_std"] = json.dumps(self.y_std.tolist())
        else:
            md["classes"] = json.dumps(self.classes.tolist())
        return md

    @classmethod
    def from_model(cls, net, path: str) -> "Recipe":
        md = net.metadata
        n_in = net.layer_sizes[0]
        if md.get("cli") is None:  # a model saved from Python: columns in order, no scaling
            return cls("raw", [str(j) for j in range(n_in)], None, np.zeros(n_in), np.ones(n_in))
        try:
            r = cls(
                md["task"], list(json.loads(md["features"])), md["target"] or None,
                np.array(json.loads(md["x_mean"]), dtype=np.float64),
                np.array(json.loads(md["x_std"]), dtype=np.float64),
            )
            if r.task == "regression":
                r.y_mean = np.array(json.loads(md["y_mean"]), dtype=np.float64)
                r.y_std = np.array(json.loads(md["y_std"]), dtype=np.float64)
            elif r.task == "classification":
                r.classes = np.array(json.loads(md["classes"]), dtype=np.float64)
            else:
                raise ValueError(f"task '{r.task}'")
        except (KeyError, ValueError, TypeError) as exc:
            raise CLIError(f"{path}: the model's CLI metadata is damaged ({_first_line(exc)})") from None
        if len(r.features) != n_in or r.x_mean.shape != (n_in,) or r.x_std.shape != (n_in,):
            raise CLIError(f"{path}: the model's CLI metadata does not match its {n_in} inputs")
        return r

    def inputs(self, table: Table) -> np.ndarray:
        """The standardised input matrix for the model, columns picked by name."""
        if self.task == "raw":
            cols = list(range(len(self.features)))
            if table.values.shape[1] != len(cols):
                raise CLIError(
                    f"{table.path}: {table.values.shape[1]} columns, expected {len(cols)} "
                    "(the model's inputs; it has no feature names, so every column is used in order)"
                )
        else:
            cols = []
            for name in self.features:
                if (name not in table.columns and table.lines is None and name[:1] == "X"
                        and name[1:] in table.columns):
                    name = name[1:]  # bpnet 0.1's names of an .npz file's X columns: X0, X1, ...
                if name not in table.columns:
                    raise CLIError(f"{table.path}: missing column '{name}', which the model uses as an input")
                cols.append(table.columns.index(name))
        _check_finite(table, cols)
        return (table.values[:, cols] - self.x_mean) / self.x_std

    def targets(self, table: Table, n_outputs: int, option: str = "the target") -> np.ndarray:
        """The network's target matrix (standardised, or one-hot for classification)."""
        if self.target is None:
            raise CLIError(f"this model has no target column recorded; {option} needs --target COL")
        j = _column(table, self.target, "target")
        _check_finite(table, [j])
        y = table.values[:, j]
        if self.task == "regression":
            return ((y - self.y_mean) / self.y_std).reshape(-1, 1)
        if self.task == "classification":
            idx = np.searchsorted(self.classes, y)
            idx = np.minimum(idx, len(self.classes) - 1)
            unknown = np.flatnonzero(self.classes[idx] != y)
            if len(unknown):
                i = unknown[0]
                raise CLIError(f"{table.where(i, j)}: label {y[i]:g} is not one of the model's classes")
            return np.eye(len(self.classes))[idx]
        return y.reshape(-1, 1)


# ---------------------------------------------------------------------------- helpers


def _check_output(path: str, force: bool, option: str = "--out") -> None:
    if os.path.isdir(path):
        raise CLIError(f"{option} {path}: is a directory, expected a file name")
    if os.path.exists(path) and not force:
        raise CLIError(f"{option} {path}: the file exists; use --force to overwrite it")
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent):
        raise CLIError(f"{option} {path}: the folder {parent} does not exist")


class _Progress:
    """Per-epoch progress for Network.fit's callback: a tqdm bar when tqdm is installed."""

    def __init__(self, epochs: int, quiet: bool):
        self.bar = None
        if quiet:
            return
        try:
            from tqdm import tqdm
        except ImportError:
            print("bpnet: no progress bar (pip install tqdm to get one)", file=sys.stderr)
            return
        self.bar = tqdm(total=epochs, desc="training", unit="epoch", file=sys.stderr, leave=False)

    def __call__(self, record: dict) -> bool:
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix(loss=f"{record['loss']:.4g}", refresh=False)
        return True

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _format_number(v: float) -> str:
    return repr(float(v)) if not float(v).is_integer() or abs(v) >= 1e16 else str(int(v))


# ---------------------------------------------------------------------------- train


def split_rows(n: int, val_fraction: float, seed: int):
    """Row indices (train, validation): a seeded random subset of round(val_fraction * n) rows
    is held out; both index lists are in file order."""
    n_val = int(round(val_fraction * n))
    perm = np.random.default_rng(seed).permutation(n)
    return np.sort(perm[n_val:]), np.sort(perm[:n_val])


def _standardiser(values: np.ndarray):
    mean = values.mean(axis=0)
    std = values.std(axis=0)
    return mean, np.where(std > 0, std, 1.0)


def cmd_train(args) -> int:
    """``bpnet train``: fit a network to a table and save it with its recipe; the exit code."""
    import bpnet

    _check_output(args.out, args.force)
    table = read_table(args.data)
    if args.target is None:
        if table.columns[-1] == "y" and table.lines is None:
            args.target = "y"  # .npz with X and y
        else:
            raise CLIError("--target COL is required: the column to predict")
    t = _column(table, args.target, "--target")
    target = table.columns[t]
    feature_cols = [j for j in range(len(table.columns)) if j != t]
    if not feature_cols:
        raise CLIError(f"{args.data}: no input columns besides the target '{target}'")
    _check_finite(table, feature_cols + [t])
    n = len(table.values)
    seed = args.seed if args.seed is not None else secrets.randbits(32)
    train, val = split_rows(n, args.val_fraction, seed)
    if len(train) == 0:
        raise CLIError(f"--val-fraction {args.val_fraction} leaves no training rows out of {n}")

    X = table.values[:, feature_cols]
    y = table.values[:, t]
    x_mean, x_std = _standardiser(X[train])
    recipe = Recipe(args.task, [table.columns[j] for j in feature_cols], target, x_mean, x_std)
    if args.task == "classification":
        recipe.classes = np.unique(y)
        if len(recipe.classes) < 2:
            raise CLIError(f"target '{target}': classification needs at least 2 classes, found {len(recipe.classes)}")
        n_out, out_act, loss = len(recipe.classes), "softmax", "cross_entropy"
    else:
        recipe.y_mean, recipe.y_std = _standardiser(y[train].reshape(-1, 1))
        n_out, out_act, loss = 1, "identity", args.loss
    Xs = recipe.inputs(table)
    Ys = recipe.targets(table, n_out)

    net = bpnet.Network([len(feature_cols)] + args.hidden + [n_out], activation=args.activation,
                        output_activation=out_act, loss=loss, dtype=args.dtype, seed=seed)
    progress = _Progress(args.epochs, args.quiet)
    t0 = time.perf_counter()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", bpnet.DivergenceWarning)
            history = net.fit(Xs[train], Ys[train], optimizer=args.optimizer, learning_rate=args.lr,
                              epochs=args.epochs, batch_size=args.batch_size, seed=seed,
                              alpha=args.alpha, callback=progress)
    finally:
        progress.close()
    seconds = time.perf_counter() - t0
    if history.diverged:
        print(f"bpnet train: {history.message}; no model written", file=sys.stderr)
        return EXIT_FAILED

    train_loss = net.loss(Xs[train], Ys[train])
    val_loss = net.loss(Xs[val], Ys[val]) if len(val) else None
    md = recipe.to_metadata()
    md.update({
        "data": os.path.basename(args.data),
        "seed": str(seed),
        "epochs": str(history.epochs_run),
        "train_loss": repr(train_loss),
        "val_loss": repr(val_loss) if val_loss is not None else "",
    })
    net.metadata = md
    try:
        net.save(args.out)
    except (OSError, ValueError) as exc:
        raise CLIError(f"--out {args.out}: cannot write the model ({_first_line(exc)})") from None

    arch = "-".join(str(s) for s in net.layer_sizes)
    print(f"trained a {arch} network ({args.task}, {loss}) on {len(train)} rows of {args.data}: "
          f"{history.epochs_run} epochs, {seconds:.2f} s, seed {seed}")
    extra = _quality(net, recipe, Xs, y, train, val)
    print(f"final training loss   {train_loss:.6g}{extra[0]}")
    if val_loss is not None:
        print(f"final validation loss {val_loss:.6g}{extra[1]} ({len(val)} rows)")
    else:
        print("no validation rows (--val-fraction 0)")
    print(f"model written to {args.out}")
    return EXIT_OK


def _quality(net, recipe: Recipe, Xs, y, train, val):
    """Loss in the user's units next to the training loss: RMSE or accuracy."""
    out = []
    for rows in (train, val):
        if len(rows) == 0:
            out.append("")
            continue
        pred = _predict_values(net, recipe, Xs[rows])[:, 0]
        if recipe.task == "classification":
            out.append(f"   accuracy {np.mean(pred == y[rows]):.4f}")
        else:
            out.append(f"   RMSE {np.sqrt(np.mean((pred - y[rows]) ** 2)):.6g} (in units of '{recipe.target}')")
    return out


# ---------------------------------------------------------------------------- predict


def _predict_values(net, recipe: Recipe, Xs: np.ndarray, proba: bool = False) -> np.ndarray:
    out = np.asarray(net.predict(Xs), dtype=np.float64)
    if recipe.task == "regression":
        return out * recipe.y_std + recipe.y_mean
    if recipe.task == "classification":
        labels = recipe.classes[np.argmax(out, axis=1)].reshape(-1, 1)
        return np.hstack([labels, out]) if proba else labels
    return out


def predict_columns(net, recipe: Recipe, proba: bool) -> List[str]:
    """Header of ``bpnet predict``'s output: the target's name (one per output column), plus
    p_<class> columns for a classifier with ``--proba``."""
    n_out = net.layer_sizes[-1]
    name = recipe.target or "output"
    if recipe.task == "classification":
        return [name] + ([f"p_{_format_number(c)}" for c in recipe.classes] if proba else [])
    if n_out == 1:
        return [name]
    return [f"{name}{k}" for k in range(n_out)]


def cmd_predict(args) -> int:
    """``bpnet predict``: apply a saved model to a table and write the predictions; the exit code."""
    net = _load_model(args.model)
    recipe = Recipe.from_model(net, args.model)
    if args.proba and recipe.task != "classification":
        raise CLIError("--proba: the model is not a classifier")
    if args.out is not None:
        _check_output(args.out, args.force)
    table = read_table(args.data)
    values = _predict_values(net, recipe, recipe.inputs(table), args.proba)
    columns = predict_columns(net, recipe, args.proba)
    if args.out is not None and args.out.lower().endswith(".npy"):
        try:
            _atomic_write(args.out, lambda f: np.save(f, values), binary=True)
        except OSError as exc:
            raise CLIError(f"--out {args.out}: cannot write ({_first_line(exc)})") from None
    else:
        def write(f):
            w = csv.writer(f, lineterminator="\n")
            w.writerow(columns)
            int_cols = [recipe.task == "classification" and k == 0 for k in range(len(columns))]
            for row in values:
                w.writerow([_format_number(v) if int_cols[k] else repr(float(v)) for k, v in enumerate(row)])

        if args.out is None:
            write(sys.stdout)
        else:
            try:
                _atomic_write(args.out, write, binary=False)
            except OSError as exc:
                raise CLIError(f"--out {args.out}: cannot write ({_first_line(exc)})") from None
    if args.out is not None:
        print(f"{len(values)} predictions written to {args.out}", file=sys.stderr)
    return EXIT_OK


def _atomic_write(path: str, write, binary: bool) -> None:
    tmp = f"{path}.tmp{os.getpid()}"
    try:
        with open(tmp, "wb" if binary else "w", **({} if binary else {"newline": "", "encoding": "utf-8"})) as f:
            write(f)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


# ---------------------------------------------------------------------------- info, gradcheck


def cmd_info(args) -> int:
    """``bpnet info``: print a model file's layers, loss, dtype and recipe; the exit code."""
    net = _load_model(args.model)
    md = dict(net.metadata)
    recipe = Recipe.from_model(net, args.model)
    print(f"{args.model}: bpnet model, {os.path.getsize(args.model)} bytes")
    print(f"  layer sizes   {' - '.join(str(s) for s in net.layer_sizes)}")
    print(f"  activations   {', '.join(net.activations)}")
    print(f"  loss          {net.loss_name}")
    print(f"  dtype         {net.dtype}")
    print(f"  parameters    {net.n_params}")
    if recipe.task == "raw":
        print("  not trained by the bpnet command: inputs are used as given, in column order")
    else:
        print(f"  task          {recipe.task}")
        print(f"  target        {recipe.target}")
        print(f"  features      {', '.join(recipe.features)}")
        if recipe.task == "classification":
            print(f"  classes       {', '.join(_format_number(c) for c in recipe.classes)}")
        for key in ("data", "seed", "epochs", "train_loss", "val_loss"):
            if md.get(key):
                print(f"  {key:<14s}{md[key]}")
    shown = {"cli", "task", "features", "target", "x_mean", "x_std", "y_mean", "y_std", "classes",
             "data", "seed", "epochs", "train_loss", "val_loss"}
    for key in sorted(set(md) - shown):
        print(f"  {key:<14s}{md[key]}")
    return EXIT_OK


def cmd_gradcheck(args) -> int:
    """``bpnet gradcheck``: compare a saved model's backpropagation with finite differences on
    a table; the exit code."""
    import bpnet

    net = _load_model(args.model)
    recipe = Recipe.from_model(net, args.model)
    if args.target is not None:
        if recipe.task != "raw":
            raise CLIError("--target: this model records its own target; leave --target out")
        recipe.target = args.target
    table = read_table(args.data)
    if recipe.task == "raw":
        if recipe.target is None:
            raise CLIError("this model was not trained by the bpnet command; give --target COL")
        t = _column(table, recipe.target, "--target")
        keep = [j for j in range(len(table.columns)) if j != t]
        sub = Table(table.values[:, keep], [table.columns[j] for j in keep], table.path,
                    table.lines, table.bad and {k: table.bad[j] for k, j in enumerate(keep) if j in table.bad})
        X = recipe.inputs(sub)
        _check_finite(table, [t])
        Y = table.values[:, [t]]
        if net.layer_sizes[-1] != 1:
            raise CLIError("--target: this model has several outputs; check it from Python with bpnet.gradcheck")
    else:
        X = recipe.inputs(table)
        Y = recipe.targets(table, net.layer_sizes[-1])
    rows = min(args.rows, len(X))
    result = bpnet.gradcheck(net, X[:rows], Y[:rows])
    print(f"gradient check of {args.model} on the first {rows} rows of {args.data} "
          f"({net.n_params} parameters, step {result.eps:g})")
    tol = result.default_tol if args.tol is None else args.tol  # 1e-6; 1e-2 in float32
    for l, (err, res, good) in enumerate(zip(result.max_rel_error, result.resolution,
                                             result.layer_passed(args.tol)), start=1):
        note = ""
        if np.isnan(err):
            note = "  (every step of this layer crosses a relu kink: nothing compared)"
        elif res > tol:  # the differences cannot resolve this layer's gradient to tol
            note = f"  (finite differences resolve this layer only to {res:.1e})"
        print(f"  layer {l}: max relative error {err:.1e}  {'ok' if good else 'CHECK'}{note}")
    if result.kinks:
        print(f"  {len(result.kinks)} parameters left out: their step moves a relu unit's z "
              "across 0, where the loss has no derivative")
    ok = result.passed(args.tol)
    print("backpropagation agrees with finite differences" if ok else
          f"some layer differs by more than {tol:g}")
    return EXIT_OK if ok else EXIT_FAILED


# ---------------------------------------------------------------------------- parser


class _Parser(argparse.ArgumentParser):
    """argparse, but usage errors are one line on stderr with exit status 2."""

    def error(self, message):
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


# Types for the numeric options: a bad value is an argparse error naming the option
# ("argument --seed: expected a non-negative integer, got '-1'"), before any file is read.


def _integer(low: int, end_bits: int, what: str):
    """argparse type: an integer in [low, 2**end_bits); ``what`` is "a positive integer" etc."""

    def parse(text):
        try:
            v = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, got '{text}'") from None
        if v < low:
            raise argparse.ArgumentTypeError(f"expected {what}, got '{text}'")
        if v >= 2**end_bits:
            raise argparse.ArgumentTypeError(f"expected {what} below 2**{end_bits}, got '{text}'")
        return v

    return parse


def _real(what: str, accept):
    """argparse type: a finite float for which ``accept(v)`` holds; ``what`` describes it."""

    def parse(text):
        try:
            v = float(text)
        except ValueError:
            v = None
        if v is None or not math.isfinite(v) or not accept(v):
            raise argparse.ArgumentTypeError(f"expected {what}, got '{text}'")
        return v

    return parse


_positive_int = _integer(1, 63, "a positive integer")  # as Network.fit's counts
_seed = _integer(0, 64, "a non-negative integer")  # as Network's and fit's seeds
_positive_real = _real("a finite number > 0", lambda v: v > 0)
_non_negative_real = _real("a finite number >= 0", lambda v: v >= 0)
_fraction = _real("a number in [0, 1)", lambda v: 0 <= v < 1)
_MAX_LAYER_SIZE = 2**32  # the model file's limit on a layer size (docs/model-format.md)


def _hidden_sizes(text: str) -> List[int]:
    """argparse type of --hidden: "64,32" -> [64, 32]; "none" (or "0", "") -> []."""
    text = text.strip()
    if text in ("", "none", "0"):
        return []
    sizes = []
    for part in text.split(","):
        try:
            v = int(part)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected positive integers separated by commas, e.g. 64,32, or 'none', got '{text}'"
            ) from None
        if not 1 <= v <= _MAX_LAYER_SIZE:
            raise argparse.ArgumentTypeError(
                f"layer sizes must be 1..{_MAX_LAYER_SIZE}, got {v} in '{text}'")
        sizes.append(v)
    return sizes


def add_subcommands(parser: argparse.ArgumentParser) -> None:
    """Add train / predict / info / gradcheck to ``parser`` (bpnet.__main__'s)."""
    sub = parser.add_subparsers(dest="command", metavar="[COMMAND]", parser_class=_Parser,
                                title="commands (none: run the main job)")

    p = sub.add_parser("train", help="train a network on a CSV/.npy/.npz file and save it",
                       description="Train a network on DATA and write the model file. Inputs "
                       "(and regression targets) are standardised with the training rows' mean "
                       "and standard deviation, which are stored in the model.")
    p.add_argument("data", metavar="DATA", help="CSV with a header row, .npy, or .npz ('X' and 'y')")
    p.add_argument("--target", metavar="COL", help="the column to predict (a name; an index for .npy)")
    p.add_argument("--out", metavar="MODEL", required=True, help="model file to write")
    p.add_argument("--task", choices=("regression", "classification"), default="regression",
                   help="regression (identity output) or classification (softmax, cross entropy); "
                   "default regression")
    p.add_argument("--hidden", type=_hidden_sizes, default="64", metavar="SIZES",
                   help="hidden layer sizes, e.g. 64,32; 'none' for no hidden layer (default 64)")
    p.add_argument("--activation", default="relu",
                   help="hidden activation: relu, tanh, sigmoid, leaky_relu, identity (default relu)")
    p.add_argument("--loss", default="squared_error", choices=("squared_error", "half_squared_error"),
                   help="regression loss (default squared_error)")
    p.add_argument("--optimizer", default="adam", choices=("adam", "sgd"), help="default adam")
    p.add_argument("--lr", type=_positive_real, default=0.001, help="learning rate (default 0.001)")
    p.add_argument("--epochs", type=_positive_int, default=200, help="default 200")
    p.add_argument("--batch-size", type=_positive_int, default=32, help="default 32")
    p.add_argument("--alpha", type=_non_negative_real, default=0.0, help="L2 penalty (default 0)")
    p.add_argument("--val-fraction", type=_fraction, default=0.2,
                   help="fraction of rows held out for the validation loss (default 0.2)")
    p.add_argument("--seed", type=_seed, default=None,
                   help="seed of the split, the weights and the shuffling (default: random, printed)")
    p.add_argument("--dtype", choices=("float64", "float32"), default="float64")
    p.add_argument("--force", action="store_true", help="overwrite MODEL if it exists")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(run=cmd_train)

    p = sub.add_parser("predict", help="predict with a model", description="Predict every row of "
                       "DATA; the model's input columns are picked by name.")
    p.add_argument("model", metavar="MODEL")
    p.add_argument("data", metavar="DATA")
    p.add_argument("--out", metavar="FILE", help="CSV or .npy to write (default: CSV on stdout)")
    p.add_argument("--proba", action="store_true", help="also write class probabilities")
    p.add_argument("--force", action="store_true", help="overwrite FILE if it exists")
    p.set_defaults(run=cmd_predict)

    p = sub.add_parser("info", help="describe a model file")
    p.add_argument("model", metavar="MODEL")
    p.set_defaults(run=cmd_info)

    p = sub.add_parser("gradcheck", help="check backpropagation against finite differences on data",
                       description="Compare the model's backpropagated gradient with central "
                       "finite differences on the first rows of DATA, per layer.")
    p.add_argument("model", metavar="MODEL")
    p.add_argument("data", metavar="DATA")
    p.add_argument("--target", metavar="COL", help="target column, for models not trained by this tool")
    p.add_argument("--rows", type=_positive_int, default=32, help="rows to use (default 32)")
    p.add_argument("--tol", type=_positive_real, default=None,
                   help="default 1e-6 (1e-2 for a float32 model: float32 differences are coarse)")
    p.set_defaults(run=cmd_gradcheck)


def run(args) -> int:
    """Run a parsed subcommand; bad input becomes one line on stderr and status 2."""
    prog = f"bpnet {args.command}"
    try:
        return args.run(args)
    except CLIError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:  # `bpnet predict ... | head`: stop quietly, as other tools do
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_FAILED
    except (OSError, ValueError) as exc:
        # e.g. permission denied, or a value the network rejects (an unknown activation name)
        print(f"{prog}: error: {_first_line(exc)}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
