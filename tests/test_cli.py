"""The ``python -m setcourse train`` command end to end on the bundled digits."""
import json
import subprocess
import sys

import numpy as np

from setcourse.cli import main
from setcourse import MLP


def test_train_writes_history_and_model(tmp_path, capsys):
    history = tmp_path / "history.json"
    saved = tmp_path / "model.npz"
    monitor = tmp_path / "monitor.json"
    code = main(["train", "--model", "set", "--dataset", "digits", "--hidden", "64,64",
                 "--epsilon", "5", "--epochs", "3", "--lr", "0.05", "--seed", "1",
                 "--history", str(history), "--save", str(saved), "--monitor", str(monitor)])
    assert code == 0
    out = capsys.readouterr().out
    assert out.count("epoch ") == 3 and "epoch 3/3" in out and "nnz" in out
    data = json.loads(history.read_text())
    assert len(data["train_loss"]) == 3 and len(data["test_accuracy"]) == 3
    assert data["test_accuracy"][-1] > 0.5
    assert {"seconds_forward", "seconds_evolution", "nnz"} <= set(data)
    sampled = json.loads(monitor.read_text())
    assert sampled  # the monitor's own format; its content is tested in tests/analysis
    model = MLP.load(saved)
    assert model.nnz_ == data["nnz"][-1]


def test_bad_hyper_parameter_gives_a_clear_error_and_exit_code_2(capsys):
    code = main(["train", "--dataset", "digits", "--zeta", "1.5", "--epochs", "1"])
    assert code == 2
    assert "zeta must be a number in [0, 1); got 1.5" in capsys.readouterr().err


def test_module_entry_point_shows_help():
    result = subprocess.run([sys.executable, "-m", "setcourse", "train", "--help"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0
    for option in ("--epsilon", "--zeta", "--dropout", "--history", "--monitor", "--data-dir"):
        assert option in result.stdout


def test_data_dir_is_searched_for_idx_files(tmp_path, capsys, monkeypatch):
    import gzip
    rng = np.random.default_rng(0)

    def write_idx(name, array):
        header = bytes([0, 0, 8, array.ndim]) + b"".join(
            int(d).to_bytes(4, "big") for d in array.shape)
        with gzip.open(tmp_path / name, "wb") as handle:
            handle.write(header + array.astype(np.uint8).tobytes())

    write_idx("train-images-idx3-ubyte.gz", rng.integers(0, 255, size=(100, 28, 28)))
    write_idx("train-labels-idx1-ubyte.gz", np.arange(100) % 10)
    write_idx("t10k-images-idx3-ubyte.gz", rng.integers(0, 255, size=(50, 28, 28)))
    write_idx("t10k-labels-idx1-ubyte.gz", np.arange(50) % 10)
    monkeypatch.setenv("SETCOURSE_DATA", str(tmp_path / "cache"))
    code = main(["train", "--dataset", "mnist", "--data-dir", str(tmp_path), "--hidden", "32",
                 "--epsilon", "3", "--epochs", "1"])
    captured = capsys.readouterr()
    # Random files do not match the registered checksums: the loader must refuse them clearly.
    assert code == 2
    assert "sha256" in captured.err.lower() or "data fetch" in captured.err
