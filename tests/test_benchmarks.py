"""The benchmark scripts run and print their tables (tiny settings; nothing here is timed).

``kernels_vs_c`` also serves as an oracle: it refuses to time numba against C unless the two
implementations agree on the forward output, the weight gradient and the input gradient.
"""
import os
import shutil
import subprocess
import sys

import pytest

BENCHMARKS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "benchmarks")


def run(script, *args):
    result = subprocess.run([sys.executable, os.path.join(BENCHMARKS, script), *args],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def test_epoch_time_alternates_rounds_and_reports_the_median_speed_up():
    out = run("epoch_time.py", "--n-train", "512", "--hidden", "48,48", "--rounds", "2")
    lines = out.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("model"))
    assert [line.split()[0] for line in lines[header + 1:header + 4]] == ["set", "fixprob", "dense"]
    assert "medians of 2 rounds" in out and "per round" in out


@pytest.mark.skipif(shutil.which(os.environ.get("CC", "cc")) is None, reason="no C compiler")
def test_kernels_agree_with_the_same_loops_compiled_as_c():
    out = run("kernels_vs_c.py", "--rounds", "1", "--batch", "24")
    rows = {line.split()[0]: line.split()[1:] for line in out.splitlines()[-2:]}
    assert set(rows) == {"forward", "backward"}
    assert all(float(value) > 0 for values in rows.values() for value in values)
