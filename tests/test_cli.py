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


# --- nothing lost: outputs checked before training, partial history on Ctrl-C / divergence ----

import os  # noqa: E402
import signal  # noqa: E402

import pytest  # noqa: E402

from setcourse import cli  # noqa: E402

DIGITS = ["train", "--dataset", "digits", "--hidden", "32", "--epsilon", "3", "--epochs", "3",
          "--lr", "0.05"]


@pytest.fixture
def no_training(monkeypatch):
    """Fail the test if training (or data loading) starts: the checks must come first."""
    def refuse(*args, **kwargs):
        raise AssertionError("data was loaded before the output paths were checked")
    monkeypatch.setattr("setcourse.data.load", refuse)


@pytest.mark.parametrize("option", ["--save", "--history", "--monitor"])
def test_a_missing_output_folder_is_refused_before_training(option, tmp_path, capsys,
                                                            no_training):
    path = tmp_path / "typo" / "out.json"
    assert main([*DIGITS, option, str(path)]) == 2
    err = capsys.readouterr().err
    assert f"error: {option} {path}: the folder {path.parent} does not exist" in err


def test_an_output_path_that_is_a_folder_or_unwritable_is_refused(tmp_path, capsys, no_training):
    assert main([*DIGITS, "--save", str(tmp_path)]) == 2
    assert f"--save {tmp_path}: is a folder" in capsys.readouterr().err
    parent_file = tmp_path / "file"
    parent_file.write_text("x")
    assert main([*DIGITS, "--history", str(parent_file / "h.json")]) == 2
    assert "is not a folder" in capsys.readouterr().err
    assert main([*DIGITS, "--history", ""]) == 2
    assert "--history: the path is empty" in capsys.readouterr().err
    assert main([*DIGITS, "--history", str(tmp_path / "a.json"),
                 "--monitor", str(tmp_path / "a.json")]) == 2
    assert "--history and --monitor both write" in capsys.readouterr().err
    if os.geteuid() != 0:  # root may write anywhere
        locked = tmp_path / "locked"
        locked.mkdir()
        locked.chmod(0o500)
        try:
            assert main([*DIGITS, "--monitor", str(locked / "m.json")]) == 2
            assert f"--monitor {locked / 'm.json'}: cannot write in {locked}" in \
                capsys.readouterr().err
        finally:
            locked.chmod(0o700)
    assert not list(tmp_path.rglob(".setcourse-probe-*"))  # the write probes leave nothing


def test_first_ctrl_c_stops_after_the_batch_and_still_writes_every_output(tmp_path, capsys,
                                                                          monkeypatch):
    original = cli.TerminalProgress.on_epoch_end

    def ctrl_c_after_first_epoch(self, model, epoch, logs):
        original(self, model, epoch, logs)
        if epoch == 0:
            os.kill(os.getpid(), signal.SIGINT)  # the handler only sets a flag

    monkeypatch.setattr(cli.TerminalProgress, "on_epoch_end", ctrl_c_after_first_epoch)
    history, saved = tmp_path / "h.json", tmp_path / "m.npz"
    # what was there before (SIG_IGN, not Python's handler, when the suite runs as a background job)
    before = signal.getsignal(signal.SIGINT)
    code = main([*DIGITS, "--history", str(history), "--save", str(saved)])
    captured = capsys.readouterr()
    assert code == 130, captured.err
    assert "Traceback" not in captured.err and "stopped by Ctrl-C" in captured.err
    data = json.loads(history.read_text())
    assert len(data["epoch"]) == 2 and data["stopped"] == [False, True]
    assert MLP.load(saved).history_["epoch"] == [0, 1]
    assert signal.getsignal(signal.SIGINT) is before  # handler restored


def test_second_ctrl_c_writes_the_finished_epochs_to_a_default_file(tmp_path, capsys,
                                                                    monkeypatch):
    monkeypatch.chdir(tmp_path)

    def abort_in_second_epoch(self, model, epoch, batch, logs):
        if epoch == 1:
            raise KeyboardInterrupt

    monkeypatch.setattr(cli.InterruptToStop, "on_batch_end", abort_in_second_epoch)
    code = main([*DIGITS, "--save", str(tmp_path / "m.npz")])
    err = capsys.readouterr().err
    assert code == 130
    assert "Traceback" not in err
    written = list(tmp_path.glob("history-digits-set-*.json"))
    assert len(written) == 1 and f"written to {written[0].name}" in err
    assert "model not saved" in err and not (tmp_path / "m.npz").exists()
    assert json.loads(written[0].read_text())["epoch"] == [0]


def test_divergence_writes_the_finished_epochs_and_exits_1(tmp_path, capsys, monkeypatch):
    import setcourse.train as train
    real, calls = train._train_epoch, []

    def diverge_in_third_epoch(model, *args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise FloatingPointError("training diverged: the loss became inf in epoch 3")
        return real(model, *args, **kwargs)

    monkeypatch.setattr(train, "_train_epoch", diverge_in_third_epoch)
    history = tmp_path / "h.json"
    code = main([*DIGITS, "--history", str(history), "--save", str(tmp_path / "m.npz")])
    err = capsys.readouterr().err
    assert code == 1
    assert err.strip().splitlines()[-1].startswith("error: training diverged")
    assert f"history of the 2 finished epoch(s) written to {history}" in err
    assert json.loads(history.read_text())["epoch"] == [0, 1]
    assert not (tmp_path / "m.npz").exists()


def test_sweep_is_a_subcommand_and_binarize_a_preprocessing():
    parser = cli.build_parser()
    args = parser.parse_args(["sweep", "--out", "x"])
    assert callable(args.run)
    assert parser.parse_args(["train", "--preprocess", "binarize"]).preprocess == "binarize"


def test_the_train_commands_defaults_are_the_estimators():
    """One source of truth in spirit: every MLP option the CLI offers defaults as MLP does."""
    import inspect

    from setcourse import MLP
    from setcourse.cli import build_parser
    args = build_parser().parse_args(["train"])
    defaults = {name: p.default for name, p in inspect.signature(MLP).parameters.items()}
    names = {"hidden": "hidden", "epsilon": "epsilon", "zeta": "zeta", "dropout": "dropout",
             "activation": "activation", "loss": "loss", "lr": "lr", "momentum": "momentum",
             "weight_decay": "weight_decay", "weight_decay_mode": "weight_decay_mode",
             "decay_biases": "decay_biases", "regrow_init": "regrow_init",
             "batch_size": "batch_size", "epochs": "epochs", "init": "init", "seed": "seed",
             "model": "topology"}
    for option, param in names.items():
        assert getattr(args, option) == defaults[param], option
    from setcourse.data import load
    assert args.preprocess == inspect.signature(load).parameters["preprocess"].default
