"""Run a grid of runs as independent Dask tasks: a laptop, a lab server or a cluster.

By default a :class:`distributed.LocalCluster` with one worker process per core, one thread
each, and numba, OpenMP and BLAS at one thread per process (set in the workers' environment
before they load). ``scheduler_address=`` (or ``client=``) uses any running Dask cluster
instead, e.g. one started by ``dask-jobqueue`` on SLURM or by the Dask Kubernetes operator:
the code is the same. The workers need setcourse and the data (``python -m setcourse data
fetch NAME``); they do not need the output folder: results come back to this process, which
writes each run's folder atomically as the run finishes.

Workers of your own cluster should have one thread each and the thread variables set before
they start, as the local cluster does (:func:`~setcourse.sweep.task.worker_environment`)::

    NUMBA_NUM_THREADS=1 OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 \
        dask worker tcp://scheduler:8786 --nworkers 32 --nthreads 1

(with dask-jobqueue: ``SLURMCluster(cores=32, processes=32, job_script_prologue=[f"export
{k}={v}" for k, v in worker_environment().items()])``). Each run also sets numba's and BLAS's
threads to ``threads_per_run`` itself, so a worker started otherwise still runs one thread
per run; each summary records the ``numba_threads`` it ran with.

In a script, call :func:`run_sweep` under ``if __name__ == "__main__":`` (the local cluster's
worker processes are spawned, and re-import the script); a notebook needs nothing.

One concept (the Dask side of a sweep: cluster, submission, progress, results), hence its length.
"""
import contextlib
import os
import sys
import time
import traceback
import uuid

from .grid import as_specs, run_id, varying_keys
from .store import finished_runs, read_summary, remove_stale_partials, runs_dir, write_run
from .task import run_one, worker_environment

__all__ = ["run_sweep", "SweepResults", "local_cluster", "connect", "default_workers"]


def default_workers():
    """The cores this process may use (its CPU affinity where the OS tells it)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def local_cluster(n_workers=None, threads_per_run=1, dashboard_address=":8787", **kwargs):
    """A LocalCluster for sweeps: ``n_workers`` processes of one thread each, numba, OpenMP
    and BLAS at ``threads_per_run`` threads in each (set before they load). ``env`` adds
    environment variables of the workers; other keywords go to LocalCluster."""
    from distributed import LocalCluster
    env = {**worker_environment(threads_per_run if threads_per_run else 1),
           **kwargs.pop("env", {})}
    options = dict(n_workers=n_workers or default_workers(), threads_per_worker=1,
                   processes=True, env=env, dashboard_address=dashboard_address)
    options.update(kwargs)
    return LocalCluster(**options)


@contextlib.contextmanager
def connect(n_workers=None, scheduler_address=None, client=None, threads_per_run=1,
            dashboard_address=":8787", **cluster_options):
    """``(client, own_cluster)``: ``client`` as given (left open), a client of
    ``scheduler_address``, or one of a :func:`local_cluster` of ``n_workers`` made here
    (``own_cluster``, else ``None``); what it opens it closes, the client first."""
    from distributed import Client
    if client is not None:
        yield client, None
        return
    if scheduler_address:
        with Client(scheduler_address) as own:
            yield own, None
        return
    cluster = local_cluster(n_workers, threads_per_run, dashboard_address, **cluster_options)
    try:
        with Client(cluster) as own:
            yield own, cluster
    finally:
        cluster.close()


class SweepResults(list):
    """The summaries of a sweep's runs, in the grid's order, with the folder they are in."""

    def __init__(self, summaries, out_dir, ran=0):
        super().__init__(summaries)
        self.out_dir = out_dir
        #: How many runs this call trained (0 when every run had finished before).
        self.ran = ran

    @property
    def ok(self):
        return [s for s in self if s.get("status") == "ok"]

    @property
    def failed(self):
        return [s for s in self if s.get("status") != "ok"]

    def aggregate(self, by=None, **kwargs):
        """Mean ± sd per group (see :func:`setcourse.sweep.aggregate`)."""
        from .aggregate import aggregate
        return aggregate(self, by=by, **kwargs)

    def table(self, by=None, **kwargs):
        """The aggregate as a text table."""
        from .aggregate import format_table
        return format_table(self.aggregate(by=by, **kwargs))

    def history(self, run_id):
        """The per-epoch history of one run (by id)."""
        from .store import read_history
        return read_history(self.out_dir, run_id)

    def record(self, run_id, recorder):
        """A recorder's record of one run."""
        from .store import read_record
        return read_record(self.out_dir, run_id, recorder)


def run_sweep(runs, out_dir, n_workers=None, scheduler_address=None, client=None,
              threads_per_run=1, retry_failed=True, progress="auto", stream=None,
              dashboard_address=":8787", cluster_options=None):
    """Run every run of ``runs`` not finished in ``out_dir``; return all their summaries.

    Parameters
    ----------
    runs : Grid, spec dict, or list of them
    out_dir : path
        Results folder (``out_dir/runs/<run_id>/``); a rerun skips the finished runs.
    n_workers : int, optional
        Worker processes of the local cluster (default: one per core, at most one per run).
    scheduler_address : str, optional
        Address of a running Dask scheduler (``tcp://host:8786``) to use instead.
    client : distributed.Client, optional
        A connected client to use (left open).
    threads_per_run : int or None
        numba and BLAS threads of each run (None: leave the workers' pools as they are).
    retry_failed : bool
        Run again the runs whose folder says they failed (default True); False keeps them.
    progress : {"auto", "bar", "lines", "widget", None}
        A text bar on a terminal, one line per finished run otherwise (auto), an ipywidgets
        bar in a notebook (auto in Jupyter), or nothing.
    stream : file, optional
        Where progress and messages go (default: sys.stdout).
    dashboard_address : str or None
        The local cluster's dashboard (``":0"``: any free port; None: none).
    cluster_options : dict, optional
        More keyword arguments for :class:`distributed.LocalCluster`.

    Returns
    -------
    SweepResults
        A list of summary dicts (grid order), with ``.ok``, ``.failed``, ``.table()``,
        ``.aggregate()``, ``.history(run_id)``.
    """
    stream = stream or sys.stdout
    specs = as_specs(runs)
    ids = [run_id(spec) for spec in specs]
    remove_stale_partials(out_dir)
    done = finished_runs(out_dir, ids)
    pending = []
    for spec, key in zip(specs, ids):
        if key in done:
            continue
        previous = read_summary(out_dir, key)
        if previous is not None and not retry_failed:
            done[key] = previous
            continue
        pending.append(spec)
    _say(stream, f"sweep: {len(specs)} runs, {len(specs) - len(pending)} finished before, "
                 f"{len(pending)} to run; results in {runs_dir(out_dir)}")
    ran = 0
    if pending:
        ran = _run_pending(pending, out_dir, done, specs, n_workers, scheduler_address, client,
                           threads_per_run, progress, stream, dashboard_address,
                           cluster_options or {})
    return SweepResults([done[key] for key in ids if key in done], out_dir, ran)


def _run_pending(pending, out_dir, done, specs, n_workers, scheduler_address, client,
                 threads_per_run, progress, stream, dashboard_address, cluster_options):
    from distributed import as_completed
    workers = min(n_workers or default_workers(), len(pending))
    with connect(workers, scheduler_address, client, threads_per_run, dashboard_address,
                 **cluster_options) as (client, own_cluster):
        _say(stream, _describe(client, own_cluster))
        by_key = {}
        # The run id names the task on the dashboard; the suffix keeps a resubmitted run
        # (after Ctrl-C on a client that stays open, e.g. a notebook's) apart from the old one.
        suffix = uuid.uuid4().hex[:6]
        for spec in pending:
            future = client.submit(run_one, spec, threads_per_run,
                                   key=f"setcourse-run-{run_id(spec)}-{suffix}", pure=False)
            by_key[future.key] = (spec, future)
        bar = make_progress(progress, len(pending), stream,
                            shown=varying_keys(specs) or ["topology", "seed"])
        ran = 0
        try:
            for future in as_completed([f for _, f in by_key.values()]):
                spec = by_key[future.key][0]
                try:
                    result = future.result()
                except Exception as error:  # the worker died, or the task could not run
                    result = _lost(spec, error)
                future.release()
                write_run(out_dir, result)
                summary = result["summary"]
                done[summary["run_id"]] = summary
                ran += 1
                bar.update(summary)
        except BaseException:
            for _, future in by_key.values():
                future.cancel()
            raise
        finally:
            bar.close()
        return ran


def _lost(spec, error):
    """The result of a run whose task gave no result (worker killed, unpicklable, ...)."""
    from .task import _now, _versions
    return {"summary": {"run_id": run_id(spec), "status": "failed", "spec": spec,
                        "phase": "dask", "error": f"{type(error).__name__}: {error}".strip(),
                        "finished": _now(), "versions": _versions(), "warnings": []},
            "history": {}, "records": {},
            "traceback": "".join(traceback.format_exception(type(error), error,
                                                            error.__traceback__))}


def _describe(client, cluster):
    info = client.scheduler_info()
    workers = info.get("workers", {})
    threads = sum(w.get("nthreads", 0) for w in workers.values())
    where = "local cluster" if cluster is not None else f"scheduler {client.scheduler.address}"
    text = f"dask: {where}, {len(workers)} workers, {threads} threads"
    try:
        link = client.dashboard_link
    except Exception:  # no dashboard service on that scheduler
        link = None
    if not link:
        text += "\ndask dashboard: none"
    elif cluster is not None and not _has_bokeh():
        text += f"\ndask dashboard: {link} (needs bokeh>=3.1 installed: pip install bokeh)"
    elif link:
        text += f"\ndask dashboard: {link}"
    return text


def _has_bokeh():
    try:
        import bokeh  # noqa: F401
        return True
    except ImportError:
        return False


def _say(stream, text):
    print(text, file=stream, flush=True)


# --------------------------------------------------------------------------- progress

def make_progress(mode, total, stream, shown=()):
    """The progress display of a sweep: ``update(summary)`` per finished run, ``close()``."""
    if mode == "auto":
        mode = "widget" if _in_notebook() else (
            "bar" if hasattr(stream, "isatty") and stream.isatty() else "lines")
    if mode == "widget":
        try:
            return WidgetProgress(total, stream, shown)
        except ImportError:
            mode = "lines"
    if mode in ("bar", "lines"):
        return TextProgress(total, stream, shown, bar=mode == "bar")
    if mode is None:
        return TextProgress(total, stream, shown, bar=False, quiet=True)
    raise ValueError(f"progress must be 'auto', 'bar', 'lines', 'widget' or None; got {mode!r}")


def _in_notebook():
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and type(shell).__name__ == "ZMQInteractiveShell"


def describe_run(summary, shown):
    """One line for a finished run: status, id, the varying keys, accuracy, time, memory."""
    spec = summary.get("spec", {})
    keys = " ".join(f"{key}={_short(spec[key])}" for key in shown if key in spec)
    if summary.get("status") == "ok":
        parts = [f"ok      {summary['run_id']}  {keys}"]
        if summary.get("final_test_accuracy") is not None:
            parts.append(f"test acc {summary['final_test_accuracy']:.4f} "
                         f"(best {summary.get('best_test_accuracy', float('nan')):.4f})")
        if summary.get("seconds_per_epoch") is not None:
            parts.append(f"{summary['seconds_per_epoch']:.3g} s/epoch")
        if summary.get("peak_rss_mb") is not None:
            parts.append(f"{summary['peak_rss_mb']:.0f} MB")
        if summary.get("diverged"):
            parts.append("DIVERGED (non-finite loss)")
        return "  ".join(parts)
    return f"FAILED  {summary['run_id']}  {keys}  {summary.get('error', '')}"


def _short(value):
    text = str(value) if not isinstance(value, list) else ",".join(map(str, value))
    return text if len(text) <= 30 else text[:27] + "..."


class TextProgress:
    """A bar redrawn in place on a terminal, or one line per finished run."""

    width = 30

    def __init__(self, total, stream, shown=(), bar=False, quiet=False):
        self.total, self.stream, self.shown = total, stream, list(shown)
        self.bar, self.quiet = bar, quiet
        self.done = self.failed = 0
        self.start = time.monotonic()
        if self.bar:
            self._draw()

    def update(self, summary):
        self.done += 1
        self.failed += summary.get("status") != "ok"
        if self.quiet:
            return
        line = describe_run(summary, self.shown)
        if self.bar:
            self.stream.write("\r\033[K")
            if summary.get("status") != "ok":
                self.stream.write(line + "\n")  # failures stay on screen above the bar
            self._draw()
        else:
            self.stream.write(f"[{self.done}/{self.total}] {line}\n")
        self.stream.flush()

    def _draw(self):
        filled = int(self.width * self.done / max(self.total, 1))
        elapsed = time.monotonic() - self.start
        text = (f"runs [{'#' * filled}{'.' * (self.width - filled)}] {self.done}/{self.total}"
                f"  {self.failed} failed  {_clock(elapsed)}")
        if 0 < self.done < self.total:
            text += f"  ~{_clock(elapsed / self.done * (self.total - self.done))} left"
        self.stream.write(text)
        self.stream.flush()

    def close(self):
        if self.quiet:
            return
        if self.bar:
            self.stream.write("\n")
        self.stream.write(f"sweep: {self.done - self.failed} ok, {self.failed} failed "
                          f"in {_clock(time.monotonic() - self.start)}\n")
        self.stream.flush()


class WidgetProgress(TextProgress):
    """An ipywidgets bar in a notebook; failures print below it."""

    def __init__(self, total, stream, shown=()):
        import ipywidgets
        from IPython.display import display
        super().__init__(total, stream, shown, bar=False, quiet=True)
        self.widget = ipywidgets.IntProgress(value=0, min=0, max=total, description="runs")
        self.label = ipywidgets.Label(f"0/{total}")
        display(ipywidgets.HBox([self.widget, self.label]))

    def update(self, summary):
        super().update(summary)
        self.widget.value = self.done
        self.label.value = (f"{self.done}/{self.total}, {self.failed} failed, "
                            f"{_clock(time.monotonic() - self.start)}")
        if summary.get("status") != "ok":
            self.stream.write(describe_run(summary, self.shown) + "\n")
            self.stream.flush()

    def close(self):
        self.widget.bar_style = "danger" if self.failed else "success"


def _clock(seconds):
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"
