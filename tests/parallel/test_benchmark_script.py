"""benchmarks/data_parallel.py runs and writes its JSON (tiny settings; nothing here is timed)."""
import json
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "data_parallel.py"


def test_the_benchmark_writes_its_table_with_machine_command_and_date(tmp_path):
    out = tmp_path / "data_parallel.json"
    result = subprocess.run([sys.executable, str(SCRIPT), "--dataset", "digits", "--n-train",
                             "300", "--n-test", "100", "--hidden", "16,16", "--epochs", "2",
                             "--rounds", "1", "--out", str(out)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "actor round trip" in result.stdout and "2 workers" in result.stdout
    data = json.loads(out.read_text())
    assert [row["config"] for row in data["table"]] == ["process", "1 worker", "2 workers"]
    assert {"command", "date", "machine", "transport", "core_scaling", "runs"} <= set(data)
    assert data["machine"]["cores"] >= 1 and "data_parallel.py" in data["command"]
    assert not list(tmp_path.glob(".partial-*"))  # written atomically
