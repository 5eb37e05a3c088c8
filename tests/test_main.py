"""`python -m bpnet` runs the main job and prints its three results, as the README shows them."""
import os
import re
import subprocess
import sys

import pytest

README = os.path.join(os.path.dirname(__file__), os.pardir, "README.md")


@pytest.fixture(scope="module")
def main_output():
    out = subprocess.run([sys.executable, "-m", "bpnet"], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_main_job_runs_and_reports(main_output):
    text = main_output
    assert "least squares" in text and "gradient descent" in text
    diff = float(re.search(r"largest difference ([0-9.e+-]+)", text).group(1))
    assert diff < 1e-6
    fold = float(re.search(r"the loss fell (\d+)-fold", text).group(1))
    assert fold >= 20
    errors = [float(e) for e in re.findall(r"layer \d+: max relative error ([0-9.e+-]+)", text)]
    assert len(errors) == 3 and max(errors) < 1e-6


def test_readme_shows_the_main_jobs_output(main_output):
    """The README's printed output of `python -m bpnet` is what it prints today: same seeds,
    same numbers. Not compared: the timings, and the gradient check's finite-difference errors
    (rounding noise whose digits differ between instruction sets; test above bounds them)."""
    with open(README, encoding="utf-8") as f:
        readme = f.read()
    start = readme.index("bpnet 0.1.0 - backpropagation")
    shown = readme[start:readme.index("4. Time taken", start)]
    printed = main_output[main_output.index("bpnet 0.1.0 - backpropagation"):main_output.index("4. Time taken")]
    def masked(text):
        return re.sub(r"max relative error [0-9.e+-]+", "max relative error (masked)", text).rstrip()

    assert masked(shown) == masked(printed)
