"""`python -m bpnet` runs the main job and prints its three results."""
import re
import subprocess
import sys


def test_main_job_runs_and_reports():
    out = subprocess.run([sys.executable, "-m", "bpnet"], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    text = out.stdout
    assert "least squares" in text and "gradient descent" in text
    diff = float(re.search(r"largest difference ([0-9.e+-]+)", text).group(1))
    assert diff < 1e-6
    fold = float(re.search(r"the loss fell (\d+)-fold", text).group(1))
    assert fold >= 20
    errors = [float(e) for e in re.findall(r"layer \d+: max relative error ([0-9.e+-]+)", text)]
    assert len(errors) == 3 and max(errors) < 1e-6
