"""Every code snippet of README.md and docs/*.md is run by a test, or says why not.

Each fenced snippet of the pages in PAGES is one of

- ```python: run here, in-process, in a fresh namespace and a temporary working folder; it must
  print what it checked, and a top-level ``print(...)`` followed by a comment (on its last line,
  or on indented comment lines right below it) must print the numbers of that comment, to the
  digits shown. A comment that starts with "e.g." shows rounding noise and is not compared.
  On the pages in MPI_PAGES the snippets are scripts run with ``mpirun -n 2`` instead.
- ```bash / ```sh / ```console: every command a ``bpnet ...`` or ``python -m bpnet ...`` one,
  run here in a subprocess, the page's snippets in order in one temporary folder; each must
  exit 0 and leave the file it names with ``--out``. In a console snippet the lines after a
  ``$ `` command are its output, and must be lines of what it prints.
- marked by an HTML comment on the line right above its fence (GitHub does not show it):
  ``<!-- not run: REASON -->`` for what cannot run here (C++ fragments, installs, synopses),
  ``<!-- checked by tests/FILE.py::TEST -->`` for what another test runs.

A shell snippet may also read files no earlier snippet writes: the marker
``<!-- test makes: NAME ... -->`` names them, and MADE_BY_THE_TEST writes them (small
made-up tables) before the snippet runs. docs/performance.md is not among the pages: it shows
benchmark output and has no snippets.
"""
import ast
import contextlib
import io
import os
import re
import shlex
import subprocess
import sys
import tokenize
import zlib

import numpy as np
import pytest

import bpnet

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir)
PAGES = ["README.md", "docs/backprop.md", "docs/cli.md", "docs/distributed.md",
         "docs/model-format.md", "docs/out-of-core.md"]
MPI_PAGES = {"docs/distributed.md"}
SHELL = {"bash", "sh", "console"}
MARKER = re.compile(r"^<!-- (not run|checked by|test makes):? (.+?) -->$")
TIMEOUT = 60  # seconds, for each command and each mpirun


def read(page):
    with open(os.path.join(ROOT, page), encoding="utf-8") as f:
        return f.read()


def snippets(page):
    """[(line of the fence, language, code, (marker kind, marker text) or None)] of a page."""
    lines = read(page).split("\n")
    found, i = [], 0
    while i < len(lines):
        m = re.match(r"^```(\S*)\s*$", lines[i])
        if not m:
            i += 1
            continue
        end = lines.index("```", i + 1)  # a fence without its end is an error here (ValueError)
        marker = MARKER.match(lines[i - 1]) if i else None
        found.append((i + 1, m.group(1), "\n".join(lines[i + 1:end]) + "\n",
                      marker.groups() if marker else None))
        i = end + 1
    return found


def indented_code_blocks(page):
    """Lines that start a Markdown indented code block (4 spaces after a blank line, outside
    fences and lists): the test cannot tell what such a block is, so the pages use fences."""
    hits, in_fence, prev = [], False, ""
    for number, line in enumerate(read(page).split("\n"), 1):
        if line.startswith("```"):
            in_fence = not in_fence
        elif not in_fence and line.startswith("    ") and line.strip() and not prev.strip():
            hits.append(f"{page}:{number}: {line.strip()}")
        prev = line
    return hits


def to_run(kind):
    """(page, index in the page's snippet list) of the unmarked snippets of one kind."""
    return [(page, index) for page in PAGES for index, (_, lang, _, marker) in enumerate(snippets(page))
            if marker is None or marker[0] == "test makes"
            if (kind == "python" and lang == "python" and page not in MPI_PAGES)
            or (kind == "mpi" and lang == "python" and page in MPI_PAGES)
            or (kind == "shell" and lang in SHELL)]


def params(kind):
    """to_run(kind) as test parameters named by the fence's line, e.g. README.md:57."""
    return [pytest.param(page, index, id=f"{page}:{snippets(page)[index][0]}") for page, index in to_run(kind)]


# ------------------------------------------------------------------------------ the inventory
def test_every_snippet_is_run_or_marked():
    problems = []
    for page in PAGES:
        for line, lang, code, marker in snippets(page):
            where = f"{page}:{line} (```{lang})"
            if marker is None:
                if lang not in SHELL | {"python"}:
                    problems.append(f"{where}: not run; add <!-- not run: why --> or "
                                    f"<!-- checked by tests/FILE.py::TEST --> above the fence")
            elif marker[0] == "checked by":
                m = re.fullmatch(r"(tests/\w+\.py)::(\w+)", marker[1])
                if not m:
                    problems.append(f"{where}: 'checked by' needs tests/FILE.py::TEST, got {marker[1]!r}")
                elif f"def {m.group(2)}(" not in read(m.group(1)):
                    problems.append(f"{where}: {m.group(1)} has no test {m.group(2)}")
            elif marker[0] == "test makes":
                unknown = set(marker[1].split()) - set(MADE_BY_THE_TEST)
                if lang not in SHELL or unknown:
                    problems.append(f"{where}: 'test makes' on a shell snippet, of files in "
                                    f"MADE_BY_THE_TEST; unknown: {sorted(unknown)}")
    for page in PAGES:
        problems += [f"{hit}: an indented code block; use a fence" for hit in indented_code_blocks(page)]
    assert not problems, "\n".join(problems)


def test_the_pages_have_snippets():
    assert len(to_run("python")) >= 11  # backprop.md's 9, README's 2
    assert len(to_run("shell")) >= 3 and len(to_run("mpi")) == 2


# ------------------------------------------------------------------------------ python, in-process
def output_comments(code):
    """{line of a top-level print's last line: its output comment, joined}."""
    comments = {}
    for tok in tokenize.generate_tokens(io.StringIO(code).readline):
        if tok.type == tokenize.COMMENT:
            comments[tok.start[0]] = (tok.start[1], tok.string[1:].strip())
    lines = code.split("\n")
    found = {}
    for node in ast.parse(code).body:
        call = node.value if isinstance(node, ast.Expr) else None
        if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id == "print"):
            continue
        parts, n = [], node.end_lineno
        if n in comments and comments[n][0] > 0:
            parts.append(comments[n][1])
        while n + 1 in comments and lines[n].startswith(" ") and lines[n].lstrip().startswith("#"):
            n += 1  # lines[n] is line n + 1: an indented comment line right below
            parts.append(comments[n][1])
        if parts:
            found[node.end_lineno] = " ".join(parts)
    return found


NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")


def shows(printed, comment):
    """Whether printed has the numbers of comment, in order, to the digits the comment shows."""
    want, got = NUMBER.findall(comment), [float(g) for g in NUMBER.findall(printed)]
    if len(want) != len(got):
        return False
    for w, g in zip(want, got):
        mantissa, _, exponent = w.lower().partition("e")
        decimals = len(mantissa.partition(".")[2])
        if abs(g - float(w)) > 0.5 * 10.0 ** (int(exponent or 0) - decimals) * (1 + 1e-9):
            return False
    return True


def run_in_process(code, name):
    """Run code statement by statement in a fresh namespace: (all it printed, {last line of
    each top-level statement: what that statement printed})."""
    namespace = {"__name__": "__doc_snippet__"}
    printed, everything = {}, io.StringIO()
    try:  # OpenBLAS threads spinning on a busy 2-core machine made scikit-learn's fit 10x slower
        from threadpoolctl import threadpool_limits
        limits = threadpool_limits(limits=1, user_api="blas")
    except ImportError:
        limits = contextlib.nullcontext()
    with limits:
        for node in ast.parse(code).body:
            out = io.StringIO()
            with contextlib.redirect_stdout(out):
                exec(compile(ast.Module([node], []), name, "exec"), namespace)
            printed[node.end_lineno] = out.getvalue()
            everything.write(out.getvalue())
    return everything.getvalue(), printed


def check_python(code, name):
    out, printed = run_in_process(code, name)
    assert out.strip(), f"{name} printed nothing; a snippet prints what it checked"
    for line, comment in output_comments(code).items():
        if not comment.startswith("e.g."):
            assert shows(printed[line], comment), (
                f"{name}, line {line}: printed {printed[line].strip()!r}, the comment says {comment!r}")
    return out


@pytest.mark.parametrize("page, index", params("python"))
def test_python_snippet(page, index, tmp_path, monkeypatch):
    line, _, code, _ = snippets(page)[index]
    if "sklearn" in code:
        pytest.importorskip("sklearn")
    monkeypatch.chdir(tmp_path)  # whatever a snippet writes goes there
    check_python(code, f"{page}:{line}")


def test_readme_estimator_snippet_with_the_bpnet_import(tmp_path, monkeypatch):
    """"Change the import, keep the code": the README's scikit-learn snippet with its bpnet line
    switched in prints the same (the test above runs it with scikit-learn's)."""
    pytest.importorskip("sklearn")
    [(line, code)] = [(line, code) for line, lang, code, _ in snippets("README.md")
                      if lang == "python" and "# from bpnet import MLPClassifier" in code]
    switched = re.sub(r"^from sklearn.neural_network import MLPClassifier", "# (scikit-learn's)",
                      code, flags=re.M).replace("# from bpnet import MLPClassifier", "from bpnet import MLPClassifier")
    assert "from bpnet import MLPClassifier" in switched and "from sklearn.neural_network" not in switched
    monkeypatch.chdir(tmp_path)
    check_python(switched, f"README.md:{line}, with bpnet's MLPClassifier")


def test_output_comments_are_compared():
    """The comparison catches a wrong number, and only a print's comment counts."""
    code = "x = 2   # 7\nprint(x, 0.5)   # 2 0.50\nprint([x])\n                # [3]\n"
    assert output_comments(code) == {2: "2 0.50", 3: "[3]"}
    with pytest.raises(AssertionError, match=r"printed '\[2\]', the comment says '\[3\]'"):
        check_python(code, "example")
    assert shows("1.00080474", "1.0008047") and not shows("1.00080474", "1.0008048")
    assert shows("[2.0629968861009027e-10]", "[2.06e-10]") and not shows("3 4", "3")


# ------------------------------------------------------------------------------ shell, subprocess
def write_table(path, columns, n, seed, target=None):
    """A CSV of n made-up rows; `target` a smooth function of the other columns."""
    rng = np.random.default_rng(seed)
    data = {c: rng.normal(size=n) * 10 ** k for k, c in enumerate(columns) if c != target}
    if target:
        values = list(data.values())
        data[target] = values[0] - 0.02 * values[1] + np.sin(values[-1])
    with open(path, "w") as f:
        f.write(",".join(columns) + "\n")
        for row in zip(*(data[c] for c in columns)):
            f.write(",".join(repr(float(v)) for v in row) + "\n")


MADE_BY_THE_TEST = {  # name: how the test writes it (new rows: other column order, extra columns)
    "data.csv": lambda p: write_table(p, ["x1", "x2", "x3", "y"], 200, 0, target="y"),
    "new.csv": lambda p: write_table(p, ["x3", "x1", "x2"], 5, 1),
    "houses.csv": lambda p: write_table(p, ["rooms", "area", "age", "price"], 200, 2, target="price"),
    "new_houses.csv": lambda p: write_table(p, ["id", "area", "age", "rooms"], 5, 3),
}


def commands(lang, code):
    """[(argv, expected output lines)] of a shell snippet."""
    found, lines = [], code.replace("\\\n", " ").splitlines()
    for line in lines:
        if lang == "console" and not line.startswith("$ "):
            if found and line.strip():
                found[-1][1].append(line.rstrip())
            continue
        argv = shlex.split(line[2:] if lang == "console" else line, comments=True)
        if argv:
            found.append((argv, []))
    return found


@pytest.mark.parametrize("page", sorted({page for page, _ in to_run("shell")}))
def test_shell_snippets(page, tmp_path):
    """The page's bpnet commands, in order, in one folder."""
    for index in [i for p, i in to_run("shell") if p == page]:
        line, lang, code, marker = snippets(page)[index]
        for name in marker[1].split() if marker else []:
            MADE_BY_THE_TEST[name](tmp_path / name)
        for argv, expected in commands(lang, code):
            where = f"{page}:{line}: {shlex.join(argv)}"
            if argv[0] == "bpnet":
                argv = [sys.executable, "-m", "bpnet", *argv[1:]]
            elif argv[:3] == ["python", "-m", "bpnet"]:
                argv = [sys.executable, *argv[1:]]
            else:
                pytest.fail(f"{where}: only bpnet commands run here; mark the snippet <!-- not run: why -->")
            assert not {"|", "&&", ";", ">", "<"} & set(argv), f"{where}: one command a line, no shell syntax"
            r = subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True, timeout=TIMEOUT)
            assert r.returncode == 0 and "Traceback" not in r.stderr, f"{where}: exit {r.returncode}\n{r.stderr}"
            if "--out" in argv:
                assert (tmp_path / argv[argv.index("--out") + 1]).is_file(), f"{where}: no --out file"
            missing = [e for e in expected if e not in r.stdout.splitlines()]
            assert not missing, f"{where}: did not print {missing}; it printed\n{r.stdout}"


def test_commands_parses_console_snippets():
    assert commands("console", "$ bpnet info m.bpn   # a model\nlayer sizes 2 - 1\n\n$ bpnet x\n") == [
        (["bpnet", "info", "m.bpn"], ["layer sizes 2 - 1"]), (["bpnet", "x"], [])]
    assert commands("bash", "bpnet train d.csv \\\n  --out m.bpn\n# note\n") == [
        (["bpnet", "train", "d.csv", "--out", "m.bpn"], [])]


# ------------------------------------------------------------------------------ MPI, mpirun -n 2
@pytest.mark.parametrize("page, index", params("mpi"))
def test_mpi_snippet(page, index, tmp_path):
    """Run as the page says: `mpirun -n 2 python script.py`, in a temporary folder."""
    from test_distributed import _launcher  # the launcher discovery of the MPI tests

    launcher, reason = _launcher()
    if reason:
        pytest.skip(reason)
    line, _, code, _ = snippets(page)[index]
    if "MLPClassifier" in code or "MLPRegressor" in code:
        pytest.importorskip("sklearn")
    script = tmp_path / "script.py"
    script.write_text(code, encoding="utf-8")
    env = dict(os.environ, OMP_NUM_THREADS="1", OMPI_ALLOW_RUN_AS_ROOT="1",
               OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    try:
        r = subprocess.run(launcher + [sys.executable, str(script)], cwd=tmp_path, capture_output=True,
                           text=True, timeout=TIMEOUT, env=env)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"{page}:{line}: mpirun did not finish within {TIMEOUT} s (a hang): {exc.stderr}")
    assert r.returncode == 0, f"{page}:{line}: exit {r.returncode}\n{r.stdout}{r.stderr}"
    assert r.stdout.strip(), f"{page}:{line} printed nothing"
    assert "Warning" not in r.stderr, r.stderr


# ------------------------------------------------------------------------------ the model file's dump
def test_model_format_example_is_a_valid_file(tmp_path, monkeypatch):
    """docs/model-format.md §7: the hex dump, written to a file, is the network the text
    describes, with the size and CRC it states; cut to 60 bytes, it gives §5's message."""
    [dump] = [code for _, lang, code, _ in snippets("docs/model-format.md")
              if lang == "" and code.startswith("00000000:")]
    data = bytearray()
    for row in dump.splitlines():
        m = re.match(r"([0-9a-f]{8}): ((?:[0-9a-f]{2} )*[0-9a-f]{2})(?:  |$)", row)
        assert m and int(m.group(1), 16) == len(data), row
        data += bytes.fromhex(m.group(2))
    assert len(data) == 175 == int.from_bytes(data[16:24], "little")
    assert zlib.crc32(bytes(data[:-4])) == int.from_bytes(data[-4:], "little") == 0xD9A9C077
    path = tmp_path / "m.bpnet"
    path.write_bytes(bytes(data))
    net = bpnet.load(path)
    assert net.layer_sizes == (2, 1) and net.activations == ["sigmoid"]
    assert net.loss_name == "binary_cross_entropy" and net.dtype == np.float64
    np.testing.assert_array_equal(net.params, [0.5, -1.25, 3.0])
    path.write_bytes(bytes(data[:60]))
    monkeypatch.chdir(tmp_path)  # the message names the path as given
    with pytest.raises(ValueError, match=re.escape(
            "bpnet model file 'm.bpnet': truncated: the header says the file is 175 bytes, got 60")):
        bpnet.load("m.bpnet")
