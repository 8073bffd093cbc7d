"""Benchmark of the analysis instruments: degree statistics, NNSTD and the monitor's overhead.

Run:  python benchmarks/topology.py            (full sizes, a few minutes on a laptop)
      python benchmarks/topology.py --quick    (smaller sizes, seconds)

Prints one table. Targets (issue 4): degree statistics of a 100,000 x 100,000 ε=20 layer in
under a second; NNSTD between two 784-1000-1000-1000 networks in seconds; the monitor's
overhead on an epoch below 2 %.
"""
import argparse
import statistics
import time

import numpy as np
import psutil

from setcourse.monitor import Monitor
from setcourse.nn.layers import SparseLayer
from setcourse import MLP
from setcourse.nn.sparsity import erdos_renyi_density
from setcourse.analysis.degrees import layer_degrees
from setcourse.analysis.heavy_tail import heavy_tail_test
from setcourse.analysis.nnstd import neuron_distances, nnstd
from setcourse.analysis.pattern import connection_pattern


def best_of(repeats, function):
    """Smallest wall time of ``repeats`` calls (the least disturbed by other processes)."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


def degree_rows(n, epsilon, repeats):
    rng = np.random.default_rng(0)
    start = time.perf_counter()
    layer = SparseLayer(n, n, erdos_renyi_density(epsilon, n, n), rng)
    build = time.perf_counter() - start
    matrix = layer.to_scipy()

    def statistics_of(source):
        stats = layer_degrees(source)
        for direction in ("in", "out"):
            k, _ = stats.distribution(direction)
            stats.expectation(direction, k)
        return stats

    stats = statistics_of(layer)
    tail = heavy_tail_test(stats.in_degrees, n_trials=n)
    size = f"{n:,} x {n:,}, ε={epsilon:g}, {layer.nnz:,} connections"
    return [
        ("building the layer (reference, not analysis)", size, build),
        ("degrees + distributions + ER expectation, engine layer", size,
         best_of(repeats, lambda: statistics_of(layer))),
        ("the same from a scipy CSR (n_in, n_out)", size,
         best_of(repeats, lambda: statistics_of(matrix))),
        ("heavy-tail test of the in-degrees", f"{n:,} neurons, verdict: {tail.verdict}",
         best_of(1, lambda: heavy_tail_test(stats.in_degrees, n_trials=n))),
    ]


def loop_distance(a, b):
    """The reference code's per-pair normalised edit distance (= Jaccard distance)."""
    if len(a) == 0 and len(b) == 0:
        return 0.0
    common = np.intersect1d(a, b).size
    return 1.0 - common / np.union1d(a, b).size if common else 1.0


def nnstd_rows(hidden, epsilon, loop_neurons):
    nets = [MLP(hidden=hidden, epsilon=epsilon, seed=seed).build(784, 10) for seed in (0, 1)]
    shape = "-".join(map(str, (784, *hidden, 10)))
    start = time.perf_counter()
    distance = nnstd(*nets)
    seconds = time.perf_counter() - start
    # The Python double loop of the reference code, on a slice of the first layer's cost matrix.
    a, b = (connection_pattern(net.layers_[0]).tocsc() for net in nets)
    inputs_a = [a.indices[a.indptr[j]:a.indptr[j + 1]] for j in range(loop_neurons)]
    inputs_b = [b.indices[b.indptr[j]:b.indptr[j + 1]] for j in range(b.shape[1])]
    start = time.perf_counter()
    for x in inputs_a:
        for y in inputs_b:
            loop_distance(x, y)
    loop = (time.perf_counter() - start) * b.shape[1] / loop_neurons  # whole 1000 x 1000 matrix
    vectorised = best_of(3, lambda: neuron_distances(nets[0].layers_[0], nets[1].layers_[0]))
    return [
        ("NNSTD, two random networks (all layers, with matching)",
         f"{shape}, ε={epsilon:g}, NNSTD = {distance:.3f}", seconds),
        ("cost matrix of layer 1, vectorised (A^T B)", f"784 -> {hidden[0]}", vectorised),
        (f"cost matrix of layer 1, reference double loop (extrapolated from {loop_neurons} rows)",
         f"784 -> {hidden[0]}; {loop / vectorised:,.0f}x slower", loop),
    ]


def sampler_cpu_seconds(monitor):
    """CPU seconds used so far by the monitor's own thread (per-thread times: Linux, Windows)."""
    try:
        native = monitor._thread.native_id
        for thread in psutil.Process().threads():
            if thread.id == native:
                return thread.user_time + thread.system_time
    except (psutil.Error, AttributeError, NotImplementedError):
        pass
    return float("nan")


def monitor_rows(hidden, n_samples, repeats, interval):
    rng = np.random.default_rng(0)
    X = rng.random((n_samples, 784), dtype=np.float32)
    y = rng.integers(0, 10, n_samples)
    model = MLP(hidden=hidden, epsilon=20, epochs=1, warm_start=True, seed=0)
    model.fit(X, y)  # build and compile once
    process = psutil.Process()

    def cpu_seconds():
        times = process.cpu_times()
        return times.user + times.system

    plain, monitored, own_cpu, cpu_plain, cpu_monitored = [], [], [], [], []
    for _ in range(repeats):  # interleaved, so slow drifts of the machine hit both alike
        start, cpu = time.perf_counter(), cpu_seconds()
        model.fit(X, y)
        plain.append(time.perf_counter() - start)
        cpu_plain.append(cpu_seconds() - cpu)
        monitor = Monitor(interval=interval, uss_interval=1.0)
        start, cpu = time.perf_counter(), cpu_seconds()
        with monitor:
            model.fit(X, y, callbacks=[monitor])
            own = sampler_cpu_seconds(monitor)
        monitored.append(time.perf_counter() - start)
        cpu_monitored.append(cpu_seconds() - cpu)
        own_cpu.append(own / monitored[-1])
    shape = "-".join(map(str, (784, *hidden, 10)))
    setting = f"{shape} SET, {n_samples:,} samples, {repeats} interleaved runs each"

    def spread(times):
        return f"median {statistics.median(times):.3f} s, all: " + " ".join(f"{t:.2f}" for t in times)

    best_plain, best_monitored = min(plain), min(monitored)
    share = statistics.median(own_cpu)
    return [
        ("epoch without monitor (best run)", f"{setting}; {spread(plain)}", best_plain),
        (f"epoch with monitor, interval {interval:g} s (best run)",
         f"{100 * (best_monitored / best_plain - 1):+.2f} % vs without; {spread(monitored)}",
         best_monitored),
        ("process CPU time per epoch without monitor (median)", "user + system, all threads",
         statistics.median(cpu_plain)),
        ("process CPU time per epoch with monitor (median)",
         f"{100 * (statistics.median(cpu_monitored) / statistics.median(cpu_plain) - 1):+.2f} % "
         "vs without (less sensitive to other processes than wall time)",
         statistics.median(cpu_monitored)),
        ("monitor thread's own CPU time per epoch (direct)",
         f"{100 * share:.3f} % of the epoch's wall time, on one core", share * best_monitored),
    ]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes, for a smoke run")
    parser.add_argument("--repeats", type=int, default=None, help="timing repeats")
    args = parser.parse_args()
    quick = args.quick
    repeats = args.repeats or (2 if quick else 5)
    rows = []
    rows += degree_rows(10_000 if quick else 100_000, 20.0, repeats)
    rows += nnstd_rows((300, 300) if quick else (1000, 1000, 1000), 20.0, 20 if quick else 50)
    rows += monitor_rows((300, 300) if quick else (1000, 1000, 1000), 2000, repeats, 0.1)
    width = max(len(r[0]) for r in rows)
    print(f"{'measurement':<{width}}  {'seconds':>9}  setting")
    for name, setting, seconds in rows:
        print(f"{name:<{width}}  {seconds:>9.4f}  {setting}")


if __name__ == "__main__":
    main()
