"""One run in this process, and the run folders: results, failures, atomic writes."""
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import time

import numpy as np
import pytest

from setcourse.sweep import store
from setcourse.sweep.grid import run_id
from setcourse.sweep.task import PeakRSS, cached_dataset, clear_data_cache, run_one

HERE = Path(__file__).resolve().parent
TINY = {"dataset": "digits", "preprocess": "scale", "hidden": [16], "epsilon": 2,
        "epochs": 2, "batch_size": 64, "seed": 0}


@pytest.fixture
def helpers(monkeypatch):
    monkeypatch.syspath_prepend(str(HERE))


def test_a_run_reports_its_history_and_summary(helpers):
    spec = {**TINY, "recorders": ["feature_selection", {"name": "sweep_helpers:EpochLog",
                                                        "tag": "t"}]}
    result = run_one(spec)
    summary = result["summary"]
    assert summary["status"] == "ok", result["traceback"]
    assert summary["run_id"] == run_id(spec) and summary["spec"]["hidden"] == [16]
    assert summary["epochs_run"] == 2 and len(result["history"]["test_accuracy"]) == 2
    assert summary["final_test_accuracy"] == result["history"]["test_accuracy"][-1]
    assert summary["best_test_accuracy"] == max(result["history"]["test_accuracy"])
    assert summary["seconds_per_epoch"] > 0 and summary["peak_rss_mb"] > 10
    assert summary["nnz"] == result["history"]["nnz"][-1] and summary["nnz_total"] > 0
    assert summary["versions"]["setcourse"] and summary["numba_threads"] == 1
    assert summary["params"]["n_classes"] == 10 and summary["data"]["name"] == "digits"
    assert result["records"]["sweep_helpers:EpochLog"] == {"tag": "t", "epochs": [0, 1],
                                                           "n_train": None}
    selection = result["records"]["feature_selection"]
    assert selection["epoch"] == [0, 1, 2] and len(selection["connections"][0]) == 64
    json.dumps(result)  # all of it plain JSON


def test_a_bad_parameter_fails_the_run_with_its_error():
    result = run_one({**TINY, "topology": "no_such_topology"})
    summary = result["summary"]
    assert summary["status"] == "failed" and summary["phase"] == "build"
    assert "no_such_topology" in summary["error"] and "Traceback" in result["traceback"]
    unknown = run_one({**TINY, "no_such_option": 1})["summary"]
    assert unknown["status"] == "failed" and "no_such_option" in unknown["error"]


def test_a_run_failing_in_training_keeps_the_epochs_it_did(helpers):
    result = run_one({**TINY, "epochs": 3,
                      "recorders": [{"name": "sweep_helpers:FailAtEpoch", "at": 1}]})
    summary = result["summary"]
    assert summary["status"] == "failed" and summary["phase"] == "train"
    assert "injected failure at epoch 1" in summary["error"]
    assert len(result["history"]["epoch"]) == 2 and summary["epochs_run"] == 2


def test_the_dataset_is_loaded_once_per_process(tmp_path):
    clear_data_cache()
    kwargs = {"name": "digits", "seed": 0, "preprocess": "scale"}
    first, cached, _ = cached_dataset(kwargs)
    again, cached_again, _ = cached_dataset(dict(reversed(list(kwargs.items()))))
    assert (cached, cached_again) == (False, True) and again is first
    path = tmp_path / "arrays.npz"
    rng = np.random.default_rng(0)
    np.savez(path, X_train=rng.random((60, 5)), y_train=np.arange(60) % 3,
             X_test=rng.random((20, 5)), y_test=np.arange(20) % 3)
    data, _, _ = cached_dataset({"name": str(path), "seed": 0, "n_train": 30})
    assert data.X_train.shape == (30, 5) and data.n_classes == 3
    summary = run_one({"dataset": str(path), "hidden": [8], "epochs": 1})["summary"]
    assert summary["status"] == "ok" and summary["data"]["n_features"] == 5


def test_peak_rss_sees_memory_used_inside_the_block():
    with PeakRSS() as before:
        pass
    import mmap
    with PeakRSS(interval=0.02) as memory:
        # A fresh anonymous mapping, every page touched: 40 MiB more resident memory whatever
        # the allocator kept from earlier tests (a reused heap block would not add any).
        block = mmap.mmap(-1, 40 * 2 ** 20)
        for offset in range(0, len(block), mmap.PAGESIZE):
            block[offset] = 1
        time.sleep(0.2)  # long enough to be sampled where the kernel's peak mark cannot reset
        block.close()
    assert memory.method in ("VmHWM", "ru_maxrss", "sampled")
    assert memory.peak >= before.peak + 30 * 2 ** 20


# --------------------------------------------------------------------------- run folders

def fake_result(status="ok", key="abc123def456"):
    return {"summary": {"run_id": key, "status": status, "spec": {"seed": 0}},
            "history": {"epoch": [0, 1]}, "records": {"rec": {"x": 1}},
            "traceback": "Traceback: boom" if status != "ok" else None}


def test_a_run_folder_has_its_files(tmp_path):
    folder = store.write_run(tmp_path, fake_result())
    assert sorted(p.name for p in folder.iterdir()) == [
        "history.json", "rec.json", "spec.json", "summary.json"]
    assert store.read_summary(tmp_path, "abc123def456")["status"] == "ok"
    assert store.read_record(tmp_path, "abc123def456", "rec") == {"x": 1}
    # a failed attempt replaced by a good one: no error.txt left over
    store.write_run(tmp_path, fake_result("failed", "f" * 12))
    assert (tmp_path / "runs" / ("f" * 12) / "error.txt").read_text() == "Traceback: boom"
    store.write_run(tmp_path, {**fake_result(key="f" * 12)})
    assert not (tmp_path / "runs" / ("f" * 12) / "error.txt").exists()
    assert [p.name for p in (tmp_path / "runs").iterdir() if p.name.startswith(".")] == []


def test_a_write_that_fails_midway_leaves_nothing(tmp_path, monkeypatch):
    real_dump = store._dump

    def dump(path, value):
        if path.name == "summary.json":  # history and spec are written by now
            raise OSError("disk full")
        real_dump(path, value)

    monkeypatch.setattr(store, "_dump", dump)
    with pytest.raises(OSError, match="disk full"):
        store.write_run(tmp_path, fake_result())
    assert list((tmp_path / "runs").iterdir()) == []


def test_a_writer_killed_midway_leaves_only_a_hidden_temporary(tmp_path):
    """A process killed between history.json and summary.json: no run folder, only a
    ``.partial-`` folder, which no reader counts and the next sweep removes."""
    code = textwrap.dedent(f"""
        import os
        from setcourse.sweep import store
        real_dump = store._dump
        def dump(path, value):
            if path.name == "summary.json":
                os._exit(9)
            real_dump(path, value)
        store._dump = dump
        store.write_run({str(tmp_path)!r}, {{"summary": {{"run_id": "abc123def456",
            "status": "ok", "spec": {{}}}}, "history": {{"epoch": [0]}}}})
    """)
    process = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert process.returncode == 9, process.stderr
    left = list((tmp_path / "runs").iterdir())
    assert len(left) == 1 and left[0].name.startswith(".partial-abc123def456-")
    assert (left[0] / "history.json").exists()
    assert store.all_summaries(tmp_path) == [] and store.finished_runs(tmp_path, ["abc123def456"]) == {}
    assert store.remove_stale_partials(tmp_path) == 0  # might be a live writer: kept
    os.utime(left[0], (0, 0))
    assert store.remove_stale_partials(tmp_path) == 1
    assert list((tmp_path / "runs").iterdir()) == []
