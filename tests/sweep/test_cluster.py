"""The sweep on a real LocalCluster of 2 worker processes (one shared by the module)."""
import io
import os
import time
from pathlib import Path

import pytest

distributed = pytest.importorskip("distributed")

from setcourse.sweep import Grid, local_cluster, run_sweep  # noqa: E402
from setcourse.sweep.grid import run_id  # noqa: E402
from setcourse.sweep.store import read_history  # noqa: E402
from setcourse.sweep.task import run_one, thread_report  # noqa: E402

HERE = Path(__file__).resolve().parent
TINY = {"dataset": "digits", "preprocess": "scale", "hidden": [16], "epsilon": 2,
        "epochs": 2, "batch_size": 64}
GRID = Grid(base=TINY, vary={"topology": ["set", "fixprob"], "seed": [0, 1]})
BAD = {**TINY, "topology": "no_such_topology", "seed": 0}


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    """Two worker processes made by the sweep's own local_cluster (its thread settings),
    with sweep_helpers preloaded (also into restarted workers) and a data cache of their own.
    A task that kills its worker fails at once (allowed_failures=0) instead of being retried
    on the next worker."""
    cluster = local_cluster(2, env={"SETCOURSE_DATA": str(tmp_path_factory.mktemp("data"))},
                            preload=[str(HERE / "sweep_helpers.py")], dashboard_address=None,
                            scheduler_kwargs={"allowed_failures": 0})
    with distributed.Client(cluster) as client:
        yield client
    cluster.close()


def sweep(runs, out, client, **kwargs):
    stream = io.StringIO()
    results = run_sweep(runs, out, client=client, progress="lines", stream=stream, **kwargs)
    return results, stream.getvalue()


def test_workers_run_numba_and_blas_at_one_thread(client):
    workers = list(client.scheduler_info()["workers"])
    assert len(workers) == 2
    reports = client.gather([client.submit(thread_report, workers=[w], pure=False)
                             for w in workers])
    assert len({r["pid"] for r in reports}) == 2 and os.getpid() not in {r["pid"] for r in reports}
    for report in reports:
        assert report["numba_threads"] == 1 and report["numba_max_threads"] == 1
        assert report["environ"]["NUMBA_NUM_THREADS"] == "1"
        assert report["environ"]["OMP_NUM_THREADS"] == "1"
        assert all(pool["num_threads"] == 1 for pool in report["threadpools"])


def test_a_grid_runs_resumes_and_keeps_its_failure(client, tmp_path):
    results, output = sweep([GRID, BAD], tmp_path, client)
    assert len(results) == 5 and results.ran == 5
    assert [s["status"] for s in results] == ["ok"] * 4 + ["failed"]
    assert {s["worker"] for s in results.ok} <= set(client.scheduler_info()["workers"])
    assert all(s["numba_threads"] == 1 for s in results.ok)
    # the dataset is loaded once per worker process, not once per run
    assert sum(not s["data"]["cached"] for s in results.ok) <= 2
    failed = results.failed[0]
    assert failed["run_id"] == run_id(BAD) and "no_such_topology" in failed["error"]
    folder = tmp_path / "runs" / failed["run_id"]
    assert "Traceback" in (folder / "error.txt").read_text()
    for summary in results.ok:
        names = sorted(p.name for p in (tmp_path / "runs" / summary["run_id"]).iterdir())
        assert names == ["history.json", "spec.json", "summary.json"]
    assert output.count("] ok ") == 4 and output.count("] FAILED ") == 1
    assert "1 failed" in output and "dask:" in output
    text = results.table()
    assert text.splitlines()[0].startswith("topology  n  final_test_accuracy")

    # a rerun trains nothing and gives the same results
    again, output = sweep([GRID, BAD], tmp_path, client, retry_failed=False)
    assert again.ran == 0 and list(again) == list(results)
    assert "5 finished before, 0 to run" in output and "dask:" not in output
    # by default the failed run is tried again, only it
    retried, _ = sweep([GRID, BAD], tmp_path, client)
    assert retried.ran == 1 and retried.ok == results.ok


def test_a_worker_that_dies_fails_only_its_run(client, tmp_path):
    stale = tmp_path / "runs" / ".partial-0123456789ab-x"
    stale.mkdir(parents=True)
    os.utime(stale, (0, 0))  # left by a writer killed long ago
    dying = {**TINY, "topology": "set", "seed": 7,
             "recorders": [{"name": "sweep_helpers:ExitAtEpoch", "at": 0}]}
    results, output = sweep([dying, {**TINY, "topology": "set", "seed": 8}], tmp_path, client)
    assert [s["status"] for s in results] == ["failed", "ok"]
    assert results[0]["phase"] == "dask" and "KilledWorker" in results[0]["error"]
    assert not stale.exists()
    _wait_for_workers(client, 2)


def test_a_worker_gives_the_history_this_process_gives(client, tmp_path):
    spec = {**TINY, "topology": "set", "seed": 3, "epochs": 3}
    results, _ = sweep(spec, tmp_path, client)
    remote = read_history(tmp_path, results[0]["run_id"])
    local = run_one(spec)["history"]
    assert results[0]["pid"] != os.getpid()

    def deterministic(history):
        return {key: values for key, values in history.items() if not key.startswith("seconds")}

    assert deterministic(remote) == deterministic(local)


def _wait_for_workers(client, n, timeout=30):
    deadline = time.monotonic() + timeout
    while len(client.scheduler_info()["workers"]) < n and time.monotonic() < deadline:
        time.sleep(0.2)


def test_the_command_line_on_a_running_scheduler(client, tmp_path, capsys):
    from setcourse.sweep.cli import main
    address = client.scheduler.address
    argv = ["--out", str(tmp_path), "--dataset", "digits", "--preprocess", "scale",
            "--hidden", "16", "--epochs", "2", "--set", "epsilon=2", "--set", "batch_size=64",
            "--set", "topology=set,fixprob", "--set", "seed=0,1", "--progress", "lines"]
    assert main([*argv, "--list"]) == 0
    listed = capsys.readouterr().out
    assert listed.count("pending ") == 4 and "4 runs" in listed
    assert main([*argv, "--scheduler", address]) == 0
    output = capsys.readouterr().out
    assert f"scheduler {address}" in output and output.count("] ok ") == 4
    # the same specs as the Python API's grid: the same run folders
    assert {p.name for p in (tmp_path / "runs").iterdir()} == {run_id(s) for s in GRID}
    assert main([*argv, "--aggregate"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split()[:3] == ["topology", "n", "final_test_accuracy"]
    assert [line.split()[:2] for line in table[1:]] == [["set", "2"], ["fixprob", "2"]]
    assert main([*argv, "--set", "topology=nope", "--set", "seed=0", "--scheduler",
                 address]) == 2  # --set given twice: an error, nothing runs
