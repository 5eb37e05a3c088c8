"""Each example runs with a temporary output folder and writes non-empty PNGs."""
import os
import subprocess
import sys

import pytest

pytest.importorskip("matplotlib")

EXAMPLES = os.path.join(os.path.dirname(__file__), os.pardir, "examples")

CASES = {
    "linear_regression.py": ["linear_regression.png", "linear_regression_loss.png"],
    "hidden_layer.py": ["hidden_layer.png"],
    "digits.py": ["digits_confusion.png", "digits_loss.png"],
}


@pytest.mark.slow
@pytest.mark.parametrize("script", sorted(CASES))
def test_example_writes_pngs(tmp_path, script):
    if script == "digits.py":
        pytest.importorskip("sklearn")
    out = tmp_path / "out"
    r = subprocess.run([sys.executable, os.path.join(EXAMPLES, script), str(out)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    for name in CASES[script]:
        path = out / name
        assert path.exists(), name
        assert path.stat().st_size > 1000
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_linear_regression_example_agrees_with_least_squares(tmp_path):
    r = subprocess.run([sys.executable, os.path.join(EXAMPLES, "linear_regression.py"), str(tmp_path)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    rows = {line.split()[0]: [float(v) for v in line.split()[1:]]
            for line in r.stdout.splitlines() if line.split() and line.split()[0] in ("w", "b")}
    for ls, gd in rows.values():
        assert abs(ls - gd) < 1e-6
