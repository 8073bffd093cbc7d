"""One run, as a Dask task: load (cached per process), build, train, measure, report.

:func:`run_one` is top-level and takes only plain JSON, so any worker of any cluster can run
it; it never raises: a failing run comes back with ``status: "failed"``, its error and the
traceback, and the sweep goes on.

One concept (one run on a worker, from spec to written summary), hence its length.
"""
import contextlib
import datetime
import json
import os
import platform
import socket
import sys
import threading
import time
import traceback
import warnings

from .grid import canonical_json, run_id, split_spec

#: Environment of a sweep's worker processes, set before numba, numpy or BLAS load: one
#: thread per run, as many runs as cores (see :func:`worker_environment`).
THREAD_VARIABLES = ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                    "MKL_NUM_THREADS", "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")
#: Data sets kept per worker process (a sweep's runs usually share one).
DATA_CACHE_SIZE = 2
_DATA_CACHE = {}

__all__ = ["run_one", "worker_environment", "thread_report", "PeakRSS", "clear_data_cache"]


def worker_environment(threads=1):
    """Environment variables for worker processes: numba, OpenMP and BLAS at ``threads``."""
    return {name: str(int(threads)) for name in THREAD_VARIABLES}


def thread_report():
    """What this process's thread pools are: numba's, BLAS/OpenMP's, the env variables."""
    import numba
    report = {"numba_threads": int(numba.get_num_threads()),
              "numba_max_threads": int(numba.config.NUMBA_NUM_THREADS),
              "environ": {name: os.environ.get(name) for name in THREAD_VARIABLES},
              "pid": os.getpid()}
    try:
        from threadpoolctl import threadpool_info
        report["threadpools"] = [{"api": pool.get("internal_api"),
                                  "num_threads": pool.get("num_threads")}
                                 for pool in threadpool_info()]
    except ImportError:  # pragma: no cover - threadpoolctl is a dependency
        report["threadpools"] = []
    return report


def clear_data_cache():
    """Forget the data sets this process has loaded."""
    _DATA_CACHE.clear()


def cached_dataset(data_kwargs):
    """``(dataset, was_cached, seconds)``: load once per process for the same arguments."""
    key = canonical_json(data_kwargs)
    if key in _DATA_CACHE:
        _DATA_CACHE[key] = _DATA_CACHE.pop(key)  # most recently used last
        return _DATA_CACHE[key], True, 0.0
    start = time.perf_counter()
    dataset = _load(dict(data_kwargs))
    seconds = time.perf_counter() - start
    while len(_DATA_CACHE) >= DATA_CACHE_SIZE:
        _DATA_CACHE.pop(next(iter(_DATA_CACHE)))
    _DATA_CACHE[key] = dataset
    return dataset, False, seconds


def _load(kwargs):
    name = kwargs.pop("name")
    if str(name).endswith(".npz"):
        return _load_npz(name, kwargs)
    from ..data.loader import load
    return load(name, **kwargs)


def _load_npz(path, kwargs):
    """Arrays ``X_train, y_train, X_test, y_test`` from an ``.npz`` file, used as stored
    (``n_train``/``n_test`` take the first rows)."""
    import numpy as np
    from ..data.loader import Dataset
    n_train, n_test = kwargs.pop("n_train", None), kwargs.pop("n_test", None)
    kwargs.pop("seed", None)
    if kwargs.get("preprocess") not in (None, "none"):
        raise ValueError(f"an .npz dataset is used as stored: preprocess must be left out, got "
                         f"{kwargs['preprocess']!r}")
    kwargs.pop("preprocess", None)
    if kwargs:
        raise ValueError(f"an .npz dataset takes no {sorted(kwargs)}")
    with np.load(path) as arrays:
        X_train, y_train = arrays["X_train"][:n_train], arrays["y_train"][:n_train]
        X_test, y_test = arrays["X_test"][:n_test], arrays["y_test"][:n_test]
    classes = int(max(y_train.max(), y_test.max())) + 1
    return Dataset(X_train.astype(np.float32).reshape(len(X_train), -1), y_train.astype(np.int64),
                   X_test.astype(np.float32).reshape(len(X_test), -1), y_test.astype(np.int64),
                   name=os.path.basename(path), class_names=[str(c) for c in range(classes)],
                   image_shape=tuple(X_train.shape[1:]), source="npz")


class PeakRSS:
    """Peak resident memory of this process while the ``with`` block runs, in bytes.

    On Linux the kernel's high-water mark is reset at the start (``/proc/self/clear_refs``)
    and read at the end (``VmHWM``): exact. Elsewhere ``ru_maxrss`` is exact when the
    process's all-time peak was reached inside the block; otherwise (a worker that ran a
    bigger run before) a thread's samples every ``interval`` seconds give a lower bound.
    ``method`` says which one gave ``peak``.
    """

    def __init__(self, interval=0.05):
        self.interval = interval
        self.peak = None
        self.method = None

    def __enter__(self):
        self._hwm = _reset_high_water_mark()
        self._ru_start = _ru_maxrss()
        self._samples = [_current_rss()]
        self._stop = threading.Event()
        self._thread = None
        if not self._hwm:
            self._thread = threading.Thread(target=self._sample, daemon=True,
                                            name="setcourse-peak-rss")
            self._thread.start()
        return self

    def _sample(self):
        while not self._stop.wait(self.interval):
            self._samples.append(_current_rss())

    def __exit__(self, *exc):
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self._samples.append(_current_rss())
        hwm = _read_high_water_mark() if self._hwm else None
        ru_end = _ru_maxrss()
        if hwm:
            self.peak, self.method = hwm, "VmHWM"
        elif ru_end and ru_end > (self._ru_start or 0):
            self.peak, self.method = ru_end, "ru_maxrss"
        else:
            self.peak, self.method = max(s for s in self._samples if s), "sampled"
        return False


def _reset_high_water_mark():
    """Reset the kernel's peak-RSS mark; True only if the reset took effect."""
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
    except OSError:
        return False
    hwm, rss = _read_high_water_mark(), _read_status("VmRSS")
    # Some kernels and sandboxes accept the write and keep the old peak (seen in a test run
    # here: the mark stayed at the process's earlier 557 MiB): then it is no reset.
    return hwm is not None and rss is not None and hwm <= rss + 4 * 2 ** 20


def _read_high_water_mark():
    return _read_status("VmHWM")


def _read_status(key):
    """A ``/proc/self/status`` memory line (``VmHWM``, ``VmRSS``) in bytes, or None."""
    try:
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def _ru_maxrss():
    try:
        import resource
    except ImportError:  # Windows
        return None
    value = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return value if sys.platform == "darwin" else value * 1024  # macOS: bytes; Linux: KiB


def _current_rss():
    try:
        import psutil
        return psutil.Process().memory_info().rss
    except Exception:  # pragma: no cover - psutil is a dependency
        return 0


@contextlib.contextmanager
def _threads_limited(threads):
    """numba and the BLAS/OpenMP pools at ``threads`` for the block (None: as they are)."""
    if threads is None:
        yield
        return
    import numba
    from threadpoolctl import threadpool_limits
    previous = numba.get_num_threads()
    numba.set_num_threads(min(int(threads), numba.config.NUMBA_NUM_THREADS))
    try:
        with threadpool_limits(limits=int(threads)):
            yield
    finally:
        numba.set_num_threads(previous)


def _now():
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def _versions():
    import numpy
    from .. import __version__
    versions = {"setcourse": __version__, "python": platform.python_version(),
                "numpy": numpy.__version__}
    with contextlib.suppress(ImportError):
        import numba
        versions["numba"] = numba.__version__
    return versions


def _jsonable(value):
    """Numpy values and other strays as JSON: arrays as lists, scalars as numbers."""
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, (set, tuple)):
        return list(value)
    return str(value)


def _plain_json(value):
    """A JSON round trip: what the run folder will hold, and safe to send between processes."""
    return json.loads(json.dumps(value, default=_jsonable))


def _worker_address():
    if "distributed" not in sys.modules:  # in-process: not a worker
        return None
    with contextlib.suppress(Exception):
        from distributed import get_worker
        return get_worker().address
    return None


def run_one(spec, threads=1):
    """Train the run ``spec`` in this process; return its result (never raises).

    Parameters
    ----------
    spec : dict
        A run spec (see :mod:`setcourse.sweep.grid`).
    threads : int or None
        numba and BLAS threads for this run (None: leave the process's pools as they are).

    Returns
    -------
    dict
        ``summary`` (status, accuracies, timings, memory, versions, ...), ``history`` (the
        per-epoch lists; partial for a run that failed while training), ``records`` (each
        recorder's file name -> record) and ``traceback`` (text, for a failed run).
    """
    spec = json.loads(canonical_json(spec))
    summary = {"run_id": run_id(spec), "status": "running", "spec": spec,
               "started": _now(), "host": socket.gethostname(), "pid": os.getpid(),
               "worker": _worker_address(), "versions": _versions()}
    result = {"summary": summary, "history": {}, "records": {}, "traceback": None}
    phase = "build"
    model = None
    wall = time.perf_counter()
    caught = []
    try:
        with warnings.catch_warnings(record=True) as caught, _threads_limited(threads):
            warnings.simplefilter("always")
            from ..model import MLP
            from .recorders import build_recorder
            data_kwargs, params, recorder_entries = split_spec(spec)
            model = MLP(**params)
            if hasattr(model, "validate_params"):
                model.validate_params()  # a bad parameter fails before the data loads
            phase = "data"
            data, cached, load_seconds = cached_dataset(data_kwargs)
            summary["data"] = {"name": data.name, "source": data.source, "notice": data.notice,
                               "n_train": int(len(data.y_train)),
                               "n_test": int(len(data.y_test)),
                               "n_features": int(data.X_train[0].size),
                               "cached": cached, "load_seconds": round(load_seconds, 3)}
            if params.get("n_classes") is None and "n_classes" in model.get_params():
                model.set_params(n_classes=len(data.class_names))
            phase = "recorders"
            recorders = [build_recorder(entry, data, spec) for entry in recorder_entries]
            phase = "train"
            summary["numba_threads"] = _numba_threads()
            with PeakRSS() as memory:
                model.fit(data.X_train, data.y_train,
                          validation_data=(data.X_test, data.y_test),
                          callbacks=[recorder for _, recorder in recorders])
            summary["peak_rss_mb"] = round(memory.peak / 2 ** 20, 1)
            summary["peak_rss_method"] = memory.method
            phase = "record"
            result["history"] = _plain_json(dict(model.history_))
            result["records"] = {name: _plain_json(recorder.as_dict())
                                 for name, recorder in recorders}
            summary.update(_metrics(result["history"]))
            summary["nnz"] = [int(n) for n in model.nnz_]
            summary["nnz_total"] = int(sum(summary["nnz"]))
            summary["params"] = _plain_json(model.get_params())
            summary["status"] = "ok"
    except Exception as error:  # noqa: BLE001 - a run's failure is its result
        summary.update(status="failed", phase=phase,
                       error=f"{type(error).__name__}: {error}".strip())
        result["traceback"] = traceback.format_exc()
        if model is not None and getattr(model, "history_", None):
            with contextlib.suppress(Exception):  # the epochs done before it failed
                result["history"] = _plain_json(dict(model.history_))
                summary.update(_metrics(result["history"]))
    summary["warnings"] = sorted({str(w.message) for w in caught})
    summary["seconds_total"] = round(time.perf_counter() - wall, 3)
    summary["finished"] = _now()
    result["summary"] = _plain_json(summary)
    return result


def _numba_threads():
    with contextlib.suppress(ImportError):
        import numba
        return int(numba.get_num_threads())
    return None


def _finite(values):
    import math
    return [v for v in values if isinstance(v, (int, float)) and math.isfinite(v)]


def _metrics(history):
    """The summary numbers of a history: final and best test accuracy, time per epoch."""
    metrics = {"epochs_run": len(history.get("epoch", []))}
    test = history.get("test_accuracy") or []
    if test:
        finite = _finite(test)
        metrics["final_test_accuracy"] = test[-1]
        if finite:
            best = max(finite)
            metrics["best_test_accuracy"] = best
            metrics["best_epoch"] = test.index(best)
    for key in ("train_loss", "train_accuracy", "test_loss"):
        if history.get(key):
            metrics[f"final_{key}"] = history[key][-1]
    seconds = history.get("seconds_epoch") or []
    if seconds:
        ordered = sorted(seconds)
        metrics["seconds_per_epoch"] = sum(seconds) / len(seconds)
        metrics["seconds_per_epoch_median"] = ordered[len(ordered) // 2]
    losses = history.get("train_loss") or []
    metrics["diverged"] = bool(losses) and len(_finite(losses)) < len(losses)
    return metrics
