import json
import threading
import time

import numpy as np
import pytest
from memory_profiler import memory_usage

from setcourse.monitor import MIB, Monitor, MonitorResult
from setcourse import MLP
from setcourse.callbacks import PHASES


def monitor_threads():
    return [t for t in threading.enumerate() if t.name == "setcourse-monitor"]


def hold_memory(mebibytes, seconds):
    block = np.ones(mebibytes * MIB // 8)  # np.ones writes every page: really resident
    time.sleep(seconds)
    return float(block[-1])


def test_records_a_known_allocation():
    with Monitor(interval=0.01, uss_interval=0.05) as monitor:
        time.sleep(0.05)
        hold_memory(120, 0.3)
    result = monitor.result()
    assert result.peak_rss_bytes - result.baseline_rss_bytes >= 100 * MIB
    assert result.peak_uss_bytes is not None
    assert len(result.times) >= 10
    assert np.all(np.diff(result.times) > 0)
    assert all(c >= 0 for c in result.cpu_percent)
    assert result.mean_cpu_percent == pytest.approx(100 * result.cpu_seconds / result.wall_seconds)


@pytest.mark.parametrize("error", [RuntimeError("boom"), KeyboardInterrupt()])
def test_thread_stops_when_the_block_raises(error, tmp_path):
    path = tmp_path / "run.json"
    monitor = Monitor(interval=0.01, path=str(path))
    with pytest.raises(type(error)):
        with monitor:
            time.sleep(0.03)
            raise error
    assert not monitor.running and not monitor_threads()
    assert type(error).__name__ in monitor.result().error
    assert MonitorResult.from_json(path).error == monitor.result().error


def test_training_raising_inside_the_block(digits):
    from setcourse.callbacks import Callback

    class Explode(Callback):
        def on_epoch_end(self, model, epoch, logs):
            raise ValueError("stop here")

    X, y, _, _ = digits
    monitor = Monitor(interval=0.01)
    with pytest.raises(ValueError, match="stop here"):
        with monitor:
            MLP(hidden=(10,), epsilon=3, epochs=2).fit(X[:100], y[:100],
                                                       callbacks=[monitor, Explode()])
    assert not monitor.running and not monitor_threads()


def test_callback_with_phases_and_parameters(digits):
    X, y, X_test, y_test = digits
    model = MLP(hidden=(20, 20), epsilon=3, epochs=2)
    monitor = Monitor(interval=0.01)
    model.fit(X, y, validation_data=(X_test, y_test), callbacks=[monitor])
    assert not monitor.running and not monitor_threads()
    result = monitor.result()
    assert result.epochs == [0, 1] and len(result.epoch_end_times) == 2
    for phase in PHASES:
        assert result.phase_seconds[phase] == pytest.approx(sum(model.history_[f"seconds_{phase}"]))
    assert result.phase_seconds["epoch"] <= result.wall_seconds
    assert result.parameter_bytes == model.parameter_bytes()
    assert result.dense_parameter_bytes == model.dense_parameter_bytes()
    assert result.n_parameters == sum(model.nnz_) + 20 + 20 + 10
    assert result.dense_n_parameters == 64 * 20 + 20 * 20 + 20 * 10 + 50
    assert result.label == "set 64-20-20-10"
    # A second fit with the same callback starts a fresh record of that fit only.
    model.set_params(warm_start=True).fit(X, y, epochs=1, callbacks=[monitor])
    assert monitor.result().epochs == [2]


def test_callback_inside_with_keeps_running_until_the_block_ends(digits):
    X, y, _, _ = digits
    monitor = Monitor(interval=0.01)
    with monitor:
        MLP(hidden=(10,), epsilon=3, epochs=1).fit(X[:100], y[:100], callbacks=[monitor])
        assert monitor.running
    assert not monitor.running
    assert monitor.result().epochs == [0]


def test_summary_table_and_json_round_trip(tmp_path, digits):
    X, y, _, _ = digits
    path = tmp_path / "monitor.json"
    monitor = Monitor(interval=0.02, label="tiny", path=str(path))
    with monitor:
        MLP(hidden=(10,), epsilon=3, epochs=1).fit(X[:100], y[:100], callbacks=[monitor])
    result = monitor.result()
    rows = result.summary_rows()
    assert all(set(row) == {"quantity", "value", "unit", "note"} for row in rows)
    quantities = [row["quantity"] for row in rows]
    for name in ("wall time", "peak RSS", "forward time", "evolution time", "parameter memory",
                 "parameter memory, dense equivalent"):
        assert name in quantities
    text = result.summary()
    assert text.startswith("Resource use: tiny") and "MiB" in text and "% of one core" in text
    loaded = MonitorResult.from_json(path)
    assert loaded.rss_bytes == result.rss_bytes and loaded.phase_seconds == result.phase_seconds
    data = json.loads(path.read_text())
    assert data["peak_rss_bytes"] == result.peak_rss_bytes and data["summary"] == rows
    assert not list(tmp_path.glob("*.tmp"))


def test_without_uss():
    with Monitor(interval=0.01, uss_interval=None) as monitor:
        time.sleep(0.03)
    result = monitor.result()
    assert result.peak_uss_bytes is None and all(u is None for u in result.uss_bytes)
    assert "peak USS" not in result.summary()


def test_memory_profiler_keeps_working_alongside():
    with Monitor(interval=0.01):
        usage = memory_usage((hold_memory, (40, 0.2), {}), interval=0.02, max_usage=True)
        own = memory_usage(-1, interval=0.01, timeout=0.05)
    assert float(np.max(usage)) > 40 and len(own) >= 1


def test_lifecycle_errors():
    with pytest.raises(ValueError, match="interval"):
        Monitor(interval=0)
    with pytest.raises(ValueError, match="uss_interval"):
        Monitor(uss_interval=-1)
    monitor = Monitor(interval=0.01)
    with pytest.raises(RuntimeError, match="never started"):
        monitor.result()
    monitor.start()
    with pytest.raises(RuntimeError, match="already running"):
        monitor.start()
    first = monitor.stop()
    assert monitor.stop().wall_seconds == first.wall_seconds  # stopping twice is harmless


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # memory_profiler's own LooseVersion
def test_memit_magic_alongside(capsys):
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    try:
        shell.run_line_magic("load_ext", "memory_profiler")
        with Monitor(interval=0.01) as monitor:
            shell.run_line_magic("memit", "-r 1 import numpy; block = numpy.ones(2**22)")
            assert monitor.running
        assert "peak memory" in capsys.readouterr().out
        assert not monitor.running
    finally:
        InteractiveShell.clear_instance()
