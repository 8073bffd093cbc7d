"""A resource monitor for training runs: CPU and memory over time, next to the phase timings.

A background thread samples the process's CPU time and memory with psutil (the library
memory-profiler is built on) every ``interval`` seconds; the engine's own per-phase timings
(forward, backward, update, evolution, evaluation) come from the model's ``history_``. Use it
as a context manager, as a training callback, or both (the safest: the ``with`` block stops
the thread even when training raises or is interrupted)::

    monitor = Monitor(interval=0.1)
    with monitor:
        model.fit(X, y, callbacks=[monitor])
    result = monitor.result()
    print(result.summary())
    plot_monitor(result)          # from setcourse.plots (this module draws nothing)

Memory is reported in MiB (2**20 bytes, as memory-profiler does). CPU is in percent of one
core: 200 % means two cores fully busy. Only portable psutil calls are used (no
``cpu_affinity``), so it runs on Linux, macOS and Windows, in scripts and notebooks, next to
memory-profiler's ``%memit``.

One concept in one file (over 350 lines): the sampler and the result it measures
(:class:`MonitorResult`, with its summary and JSON form). Figures of a result are in
:func:`setcourse.plots.plot_monitor`; this module draws nothing.
"""
import json
import os
import platform
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import psutil

from ._atomic import atomic_file
from ._validation import check_in_range
from .callbacks import PHASES, Callback

MIB = 2**20


def _unique_size(process):
    """USS in bytes (memory freed if the process ended), or None where the platform refuses."""
    try:
        return process.memory_full_info().uss
    except (psutil.Error, NotImplementedError, AttributeError, OSError):
        return None


def write_text_atomically(path, text):
    """Write ``text`` to ``path`` via a temporary file and ``os.replace``: never half-written."""
    with atomic_file(path) as temp:
        Path(temp).write_text(text, encoding="utf-8")
    return path


class Monitor(Callback):
    """Samples this process's CPU and memory in a background thread; also a training callback.

    Parameters
    ----------
    interval : float > 0
        Seconds between samples of CPU time and RSS (each costs about 50 µs).
    uss_interval : float > 0 or None
        Seconds between samples of USS (unique set size), which costs milliseconds on Linux;
        ``None`` skips USS.
    label : str, optional
        Name of the run in summaries and plots.
    path : str, optional
        When given, the result is written there as JSON whenever the monitor stops
        (also after an exception inside a ``with`` block).

    Notes
    -----
    As a callback alone, the monitor starts in ``on_train_begin`` and stops in
    ``on_train_end``. If ``fit`` raises, ``on_train_end`` never runs: inside a ``with`` block
    the thread is still stopped and joined; without one, call :meth:`stop` (the thread is a
    daemon, so it never blocks the interpreter from exiting, and the next ``fit`` restarts it).

    Attributes
    ----------
    model_ : the model seen by ``on_train_begin`` (when used as a callback)
    error_ : str or None
        Why sampling ended early (psutil error) or what interrupted the ``with`` block.
    """

    def __init__(self, interval=0.1, uss_interval=1.0, label=None, path=None):
        check_in_range("interval", interval, 0, None, low_open=True)
        if uss_interval is not None:
            check_in_range("uss_interval", uss_interval, 0, None, low_open=True)
        self.interval = interval
        self.uss_interval = uss_interval
        self.label = label
        self.path = path
        self._thread = None
        self._owned_by_training = False
        self.model_ = None

    # -- sampling ---------------------------------------------------------------------------
    @property
    def running(self):
        return self._thread is not None and self._thread.is_alive()

    def start(self):
        """Start sampling (clears earlier samples); returns ``self``."""
        if self.running:
            raise RuntimeError("this Monitor is already running; call stop() first")
        self._process = psutil.Process()
        self._samples = []  # (time, cpu %, rss, uss) tuples: one append per sample is atomic
        self._epoch_marks = []
        self._epoch_range = None
        self.error_ = None
        self._measure_uss = self.uss_interval is not None
        self._next_uss = 0.0
        self._start_time = time.perf_counter()
        self._start_cpu = self._cpu_seconds()
        self._last = (self._start_time, self._start_cpu)
        self._end_time = None
        self._sample()
        self._stop_event = threading.Event()
        # A daemon thread never keeps the interpreter alive if a monitor is left running.
        self._thread = threading.Thread(target=self._run, name="setcourse-monitor", daemon=True)
        self._thread.start()
        return self

    def _cpu_seconds(self):
        times = self._process.cpu_times()
        return times.user + times.system

    def _sample(self):
        now = time.perf_counter()
        cpu = self._cpu_seconds()
        last_time, last_cpu = self._last
        elapsed = now - last_time
        percent = 100.0 * (cpu - last_cpu) / elapsed if elapsed > 0 else 0.0
        self._last = (now, cpu)
        rss = self._process.memory_info().rss
        uss = None
        if self._measure_uss and now >= self._next_uss:
            uss = _unique_size(self._process)
            self._measure_uss = uss is not None
            self._next_uss = now + self.uss_interval
        self._samples.append((now - self._start_time, percent, int(rss), uss))

    def _run(self):
        try:
            while not self._stop_event.wait(self.interval):
                self._sample()
        except Exception as error:  # psutil failing mid-run ends sampling, not training
            self.error_ = f"sampling stopped: {error!r}"

    def stop(self):
        """Stop sampling, join the thread and return the :class:`MonitorResult`."""
        if self._thread is None:
            raise RuntimeError("this Monitor was never started")
        if self._end_time is None:
            self._stop_event.set()
            self._thread.join()
            self._sample()
            self._end_time = time.perf_counter()
            self._end_cpu = self._cpu_seconds()
            self._owned_by_training = False
            if self.path is not None:
                self.result().to_json(self.path)
        return self.result()

    def __enter__(self):
        return self.start()

    def __exit__(self, exc_type, exc, traceback):
        if exc_type is not None and self.error_ is None:
            self.error_ = f"interrupted by {exc_type.__name__}"
        if self._end_time is None:
            self.stop()
        return False

    # -- callback hooks ---------------------------------------------------------------------
    def on_train_begin(self, model):
        self.model_ = model
        if self._owned_by_training and self.running:
            self.stop()  # a previous fit raised before on_train_end: start afresh
        if not self.running:
            self.start()
            self._owned_by_training = True
        history = getattr(model, "history_", None)
        first = history.n_epochs if history is not None else 0
        self._epoch_range = (first, None)

    def on_epoch_end(self, model, epoch, logs):
        self._epoch_marks.append((time.perf_counter() - self._start_time, int(epoch)))

    def on_train_end(self, model):
        if self._epoch_range is not None:
            self._epoch_range = (self._epoch_range[0], model.history_.n_epochs)
        if self._owned_by_training:
            self.stop()

    # -- result -----------------------------------------------------------------------------
    def result(self, model=None):
        """The samples so far, with the phase timings and parameter memory of ``model``.

        ``model`` defaults to the one seen as a callback; its ``history_`` rows of the
        monitored ``fit`` (all rows when the monitor was not a callback) give the phase times.
        """
        if self._thread is None:
            raise RuntimeError("this Monitor was never started")
        model = self.model_ if model is None else model
        end = self._end_time if self._end_time is not None else time.perf_counter()
        end_cpu = self._end_cpu if self._end_time is not None else self._cpu_seconds()
        phases, parameters, epochs = {}, {}, []
        if model is not None and hasattr(model, "history_"):
            first, last = self._epoch_range or (0, None)
            rows = {key: values[first:last] for key, values in model.history_.items()}
            epochs = [int(e) for e in rows.get("epoch", [])]
            for phase in (*PHASES, "epoch"):
                phases[phase] = float(np.sum(rows.get(f"seconds_{phase}", [])))
        if model is not None and hasattr(model, "layers_"):
            parameters = {
                "parameter_bytes": int(model.parameter_bytes()),
                "dense_parameter_bytes": int(model.dense_parameter_bytes()),
                "n_parameters": int(sum(layer.nnz + layer.n_out for layer in model.layers_)),
                "dense_n_parameters": int(sum(layer.n_in * layer.n_out + layer.n_out
                                              for layer in model.layers_))}
        samples = list(self._samples)
        return MonitorResult(
            label=self.label if self.label is not None else run_label(model),
            interval=self.interval, times=[s[0] for s in samples],
            cpu_percent=[s[1] for s in samples], rss_bytes=[s[2] for s in samples],
            uss_bytes=[None if s[3] is None else int(s[3]) for s in samples],
            wall_seconds=end - self._start_time, cpu_seconds=end_cpu - self._start_cpu,
            epoch_end_times=[t for t, _ in self._epoch_marks], epochs=epochs,
            phase_seconds=phases, n_cpus=psutil.cpu_count() or 1,
            platform=platform.platform(terse=True), error=self.error_, **parameters)


def run_label(model):
    """A short run label such as ``set 784-1000-10``."""
    if model is None or not hasattr(model, "layers_"):
        return "run"
    topology = getattr(model, "topology", "")
    topology = getattr(topology, "name", topology)
    sizes = [model.layers_[0].n_in] + [layer.n_out for layer in model.layers_]
    return f"{topology} {'-'.join(map(str, sizes))}".strip()


@dataclass
class MonitorResult:
    """What a :class:`Monitor` measured: samples over time and a summary of the run.

    Times are seconds since the monitor started; memory in bytes (shown in MiB); CPU in
    percent of one core over each sampling interval. ``uss_bytes`` holds ``None`` where USS
    was not sampled.
    """

    label: str
    interval: float
    times: list
    cpu_percent: list
    rss_bytes: list
    uss_bytes: list
    wall_seconds: float
    cpu_seconds: float
    epoch_end_times: list = field(default_factory=list)
    epochs: list = field(default_factory=list)
    phase_seconds: dict = field(default_factory=dict)
    parameter_bytes: int = None
    dense_parameter_bytes: int = None
    n_parameters: int = None
    dense_n_parameters: int = None
    n_cpus: int = 1
    platform: str = ""
    error: str = None

    # -- derived quantities -----------------------------------------------------------------
    @property
    def peak_rss_bytes(self):
        """Largest sampled RSS (a spike shorter than ``interval`` can be missed)."""
        return int(max(self.rss_bytes))

    @property
    def baseline_rss_bytes(self):
        """RSS when the monitor started."""
        return int(self.rss_bytes[0])

    @property
    def peak_uss_bytes(self):
        """Largest sampled USS, or None where the platform does not report it."""
        values = [u for u in self.uss_bytes if u is not None]
        return int(max(values)) if values else None

    @property
    def mean_cpu_percent(self):
        """Process CPU time over wall time, in percent of one core."""
        return 100.0 * self.cpu_seconds / self.wall_seconds if self.wall_seconds > 0 else 0.0

    # -- summaries --------------------------------------------------------------------------
    def summary_rows(self):
        """The summary as a tidy table: one dict per quantity (``quantity``, ``value``, ``unit``, ``note``)."""
        rows = []

        def add(quantity, value, unit, note=""):
            if isinstance(value, float):
                value = float(f"{value:.4g}")  # four significant digits, also for tiny times
            rows.append({"quantity": quantity, "value": value, "unit": unit, "note": note})

        add("wall time", self.wall_seconds, "s")
        add("process CPU time", self.cpu_seconds, "s")
        add("mean CPU", self.mean_cpu_percent, "% of one core",
            f"{self.n_cpus} logical CPUs")
        add("peak CPU", float(max(self.cpu_percent)), "% of one core",
            f"over {self.interval:g} s samples")
        add("RSS at start", self.baseline_rss_bytes / MIB, "MiB")
        add("peak RSS", self.peak_rss_bytes / MIB, "MiB",
            f"+{(self.peak_rss_bytes - self.baseline_rss_bytes) / MIB:.1f} MiB during the run")
        if self.peak_uss_bytes is not None:
            add("peak USS", self.peak_uss_bytes / MIB, "MiB", "memory unique to this process")
        if self.phase_seconds:
            total = self.phase_seconds.get("epoch", 0.0)
            add("epochs", len(self.epochs), "count")
            for phase in PHASES:
                seconds = self.phase_seconds.get(phase, 0.0)
                share = f"{100 * seconds / total:.1f}% of training time" if total > 0 else ""
                add(f"{phase} time", seconds, "s", share)
            add("training time", total, "s", "sum of the phases")
        if self.n_parameters is not None:
            add("parameters", self.n_parameters, "count", "weights + biases")
            add("parameters, dense equivalent", self.dense_n_parameters, "count",
                f"{self.dense_n_parameters / max(self.n_parameters, 1):.1f}x more")
            add("parameter memory", self.parameter_bytes / MIB, "MiB",
                "values + indices + biases")
            add("parameter memory, dense equivalent", self.dense_parameter_bytes / MIB,
                "MiB", "float32")
        if self.error:
            add("note", self.error, "")
        return rows

    def summary(self):
        """The summary table as text."""
        rows = self.summary_rows()
        width = max(len(r["quantity"]) for r in rows)
        values = [str(r["value"]) for r in rows]
        value_width = max(len(v) for v in values)
        lines = [f"Resource use: {self.label}"]
        for row, value in zip(rows, values):
            line = f"  {row['quantity']:<{width}}  {value:>{value_width}} {row['unit']}"
            if row["note"]:
                line += f"  ({row['note']})"
            lines.append(line.rstrip())
        return "\n".join(lines)

    def __str__(self):
        return self.summary()

    # -- persistence ------------------------------------------------------------------------
    def to_dict(self):
        data = asdict(self)
        data.update(peak_rss_bytes=self.peak_rss_bytes, peak_uss_bytes=self.peak_uss_bytes,
                    mean_cpu_percent=self.mean_cpu_percent, summary=self.summary_rows())
        return data

    def to_json(self, path=None):
        """The result as JSON text; written atomically to ``path`` when given."""
        text = json.dumps(self.to_dict(), indent=1, default=float)
        if path is not None:
            write_text_atomically(path, text)
        return text

    @classmethod
    def from_dict(cls, data):
        names = cls.__dataclass_fields__
        return cls(**{key: value for key, value in data.items() if key in names})

    @classmethod
    def from_json(cls, path):
        """Read a result written by :meth:`to_json`."""
        with open(path, encoding="utf-8") as handle:
            return cls.from_dict(json.load(handle))
