"""Sweeps: a grid of (model x seed x hyper-parameters) as independent Dask tasks.

::

    from setcourse.sweep import Grid, run_sweep
    grid = Grid(base={"dataset": "fashion_mnist", "n_train": 5000, "n_test": 1000,
                      "preprocess": "scale", "hidden": (1000, 1000, 1000), "epochs": 400},
                vary={"topology": ["set", "fixprob", "dense"], "seed": range(5)})
    results = run_sweep(grid, "out/")           # a LocalCluster, one process per core
    print(results.table())                      # mean ± sd per topology

The same call runs on any Dask cluster with ``scheduler_address="tcp://host:8786"``. Each
finished run is written at once to ``out/runs/<run_id>/`` (atomically); rerunning skips the
finished runs, and a run that fails is reported with its traceback without stopping the
others. On the command line: ``python -m setcourse sweep --out DIR --set topology=set,fixprob
--set seed=0..4 --epochs 400``.

Modules: :mod:`~setcourse.sweep.grid` (specs, ids, grids), :mod:`~setcourse.sweep.task` (one
run on a worker), :mod:`~setcourse.sweep.recorders` (per-epoch extras),
:mod:`~setcourse.sweep.store` (the results folder), :mod:`~setcourse.sweep.runner` (the
Dask side), :mod:`~setcourse.sweep.aggregate` (mean ± sd), :mod:`~setcourse.sweep.cli`.
Names are imported on first use: ``import setcourse.sweep`` loads neither Dask nor numba.
"""
_EXPORTS = {
    "Grid": "grid", "run_id": "grid", "as_specs": "grid",
    "run_sweep": "runner", "SweepResults": "runner", "local_cluster": "runner",
    "run_one": "task", "thread_report": "task", "worker_environment": "task",
    "RECORDERS": "recorders",
    "aggregate": "aggregate", "aggregate_curves": "aggregate", "format_table": "aggregate",
    "mean_sd": "aggregate",
    "all_summaries": "store", "read_history": "store", "read_record": "store",
    "read_summary": "store", "write_run": "store",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name):
    if name in _EXPORTS:
        import importlib
        return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
