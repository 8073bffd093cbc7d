"""benchmarks/rbm.py runs end to end on tiny random data (nothing is timed, COIL20 is not read)."""
import json
import os
import subprocess
import sys

SCRIPT = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                      "benchmarks", "rbm.py")


def test_the_benchmark_prints_both_tables_and_writes_its_figures(tmp_path):
    out_json = tmp_path / "rbm.json"
    result = subprocess.run([sys.executable, SCRIPT, "--synthetic", "--epochs", "2",
                             "--ais-chains", "10", "--ais-betas", "50", "--json", str(out_json)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stdout.splitlines()
    for part in ("Part 1", "Part 2"):
        start = next(i for i, line in enumerate(lines) if part in line)
        header = next(i for i in range(start, len(lines)) if lines[i].startswith("model"))
        assert [line.split()[0] for line in lines[header + 1:header + 4]] == ["set", "fixprob",
                                                                             "dense"]
    figures = json.loads(out_json.read_text())
    assert set(figures["log_likelihood"]) == {"set", "fixprob", "dense"}
    ll = figures["log_likelihood"]["set"][0]
    assert ll["test_ll_low"] <= ll["test_ll"] <= ll["test_ll_high"] < 0
