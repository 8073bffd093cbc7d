"""The results folder of a sweep: one folder per run, each appearing whole or not at all.

::

    OUT/runs/<run_id>/spec.json        the run's spec
                      summary.json     status, accuracies, s/epoch, peak RSS, nnz, versions, ...
                      history.json     per-epoch lists (partial for a run that failed training)
                      <recorder>.json  each recorder's record
                      error.txt        the traceback of a failed run

A run's files are written into a hidden ``.partial-<run_id>-*`` folder beside it and the
folder is renamed into place when all are complete, so a crash, a kill or a full disk can
leave only a hidden temporary (removed by the next sweep), never a run with half its files.
A run counts as finished when its ``summary.json`` says ``"status": "ok"``.
"""
import json
import os
import re
import shutil
import tempfile
import time
from pathlib import Path

PARTIAL_PREFIX = ".partial-"
#: A temporary older than this (seconds) belongs to no live writer.
STALE_AFTER = 600.0

__all__ = ["runs_dir", "run_dir", "write_run", "read_summary", "read_history", "read_record",
           "finished_runs", "all_summaries", "remove_stale_partials", "recorder_file_name"]


def runs_dir(out_dir):
    return Path(out_dir) / "runs"


def run_dir(out_dir, run_id):
    return runs_dir(out_dir) / run_id


def recorder_file_name(name):
    """The JSON file of a recorder's record: ``feature_selection.json``, ``mylab.recorders.X.json``."""
    return re.sub(r"[^A-Za-z0-9_.-]+", ".", name).strip(".") + ".json"


def _umask():
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _dump(path, value):
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(value, handle, indent=1)
        handle.write("\n")
        handle.flush()
        os.fsync(handle.fileno())


def write_run(out_dir, result):
    """Write one run's result (from :func:`~setcourse.sweep.task.run_one`) atomically; returns
    its folder. A folder already there (an earlier failed attempt) is replaced."""
    summary = result["summary"]
    final = run_dir(out_dir, summary["run_id"])
    final.parent.mkdir(parents=True, exist_ok=True)
    temp = Path(tempfile.mkdtemp(prefix=f"{PARTIAL_PREFIX}{summary['run_id']}-", dir=final.parent))
    try:
        _dump(temp / "spec.json", summary["spec"])
        _dump(temp / "history.json", result.get("history") or {})
        for name, record in (result.get("records") or {}).items():
            _dump(temp / recorder_file_name(name), record)
        if result.get("traceback"):
            (temp / "error.txt").write_text(result["traceback"], encoding="utf-8")
        _dump(temp / "summary.json", summary)  # last: a folder with it is complete
        os.chmod(temp, 0o777 & ~_umask())
        if final.exists():
            old = final.parent / f"{PARTIAL_PREFIX}old-{final.name}-{os.getpid()}-{time.time_ns()}"
            os.replace(final, old)
            os.replace(temp, final)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(temp, final)
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise
    return final


def _read_json(path):
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def read_summary(out_dir, run_id):
    """The summary of a run, or None if it has none (never run, or unreadable)."""
    try:
        return _read_json(run_dir(out_dir, run_id) / "summary.json")
    except (OSError, ValueError):
        return None


def read_history(out_dir, run_id):
    """The per-epoch history of a run (dict of lists)."""
    return _read_json(run_dir(out_dir, run_id) / "history.json")


def read_record(out_dir, run_id, recorder):
    """The record of ``recorder`` (its name, e.g. ``"feature_selection"``) for a run."""
    return _read_json(run_dir(out_dir, run_id) / recorder_file_name(recorder))


def all_summaries(out_dir):
    """Every run's summary in ``out_dir`` (any status), sorted by run id."""
    folder = runs_dir(out_dir)
    if not folder.is_dir():
        return []
    summaries = []
    for path in sorted(folder.iterdir()):
        if path.name.startswith(PARTIAL_PREFIX) or not path.is_dir():
            continue
        summary = read_summary(out_dir, path.name)
        if summary is not None:
            summaries.append(summary)
    return summaries


def finished_runs(out_dir, run_ids):
    """``{run_id: summary}`` of those of ``run_ids`` that finished (status ok)."""
    done = {}
    for key in run_ids:
        summary = read_summary(out_dir, key)
        if summary is not None and summary.get("status") == "ok":
            done[key] = summary
    return done


def remove_stale_partials(out_dir, older_than=STALE_AFTER):
    """Remove temporaries left by a writer that was killed; returns how many."""
    folder = runs_dir(out_dir)
    if not folder.is_dir():
        return 0
    removed = 0
    now = time.time()
    for path in folder.iterdir():
        if path.name.startswith(PARTIAL_PREFIX):
            try:
                age = now - path.stat().st_mtime
            except OSError:
                continue
            if age >= older_than:
                shutil.rmtree(path, ignore_errors=True)
                removed += 1
    return removed
