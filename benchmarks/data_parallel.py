"""Data-parallel SET on Dask: 1 worker vs 2 workers vs one process with two threads, one run.

    flock /tmp/heavy.lock python benchmarks/data_parallel.py [--data-dir DIR] [--n-train 10000]
        [--n-test 2000] [--epochs 4] [--rounds 2]
        [--out setcourse/analysis/measured/data_parallel.json]

784-1000-1000-1000-10 SET (epsilon 20, zeta 0.3, dropout 0.3, batch 128, lr 0.05: the library's
defaults) on Fashion-MNIST (``--data-dir``: its IDX ``.gz`` files; by default ``load()`` finds
them where the system keeps them). Three configurations, each trained afresh in every round,
in rotating order (the load of a shared machine drifts within minutes):

* ``process``: one ordinary process, ``MLP.fit``, numba at two threads;
* ``1 worker``: :class:`~setcourse.parallel.DataParallelSET`, one training worker;
* ``2 workers``: two training workers.

The workers are processes of one LocalCluster (server + 2 workers, one thread each, numba at one
thread per process). Phase 1 (asynchronous) and phase 2 (local) epochs are reported apart;
the first epoch of every run is left out of the medians (it carries the tasks' start-up). Each
worker step is split into compute (forward + backward on the worker) and wait (the push's round
trip: serialising the gradient, the server's update, the weights coming back), and the server's
own update time is given, so the table says where the time goes; the actor round trip alone
and what a second core gives the engine (one epoch on two workers at once vs one alone) are
measured first. Written as JSON (atomically)
with machine, command and date for notebook 04's extrapolation.
"""
import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
OUT = HERE.parent / "setcourse" / "analysis" / "measured" / "data_parallel.json"
CONFIGS = ("process", "1 worker", "2 workers")


def parse(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", default=None, help="folder of Fashion-MNIST's IDX .gz files")
    parser.add_argument("--dataset", default="fashion_mnist",
                        help="a data set of setcourse.data.load (digits: a smoke run)")
    parser.add_argument("--n-train", type=int, default=10000)
    parser.add_argument("--n-test", type=int, default=2000)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--hidden", default="1000,1000,1000")
    parser.add_argument("--local-fraction", type=float, default=0.3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=str(OUT), help="JSON result ('' for none)")
    return parser.parse_args(argv)


def machine():
    """What ran the benchmark: CPU, cores, memory, Python and library versions."""
    import dask
    import distributed
    import numba
    cpu = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=HERE, text=True,
                                capture_output=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        commit = None
    return {"cpu": cpu, "cores": len(os.sched_getaffinity(0)), "memory_gib": round(memory, 1),
            "platform": platform.platform(), "python": platform.python_version(),
            "numpy": np.__version__, "numba": numba.__version__, "dask": dask.__version__,
            "distributed": distributed.__version__, "commit": commit,
            "load_average_at_start": os.getloadavg()}


def template(args):
    from setcourse import MLP
    hidden = tuple(int(h) for h in args.hidden.split(","))
    return MLP(hidden=hidden, topology="set", epsilon=20, zeta=0.3, dropout=0.3, lr=0.05,
               batch_size=128, epochs=args.epochs, seed=args.seed)


def run_process(args, data):
    """One ordinary process: MLP.fit at numba's two threads."""
    import numba
    numba.set_num_threads(min(2, numba.config.NUMBA_NUM_THREADS))
    model = template(args)
    X, y, X_test, y_test = data
    start = time.perf_counter()
    model.fit(X, y, validation_data=(X_test, y_test))
    wall = time.perf_counter() - start
    h = model.history_
    train = [f + b + u + e for f, b, u, e in zip(h["seconds_forward"], h["seconds_backward"],
                                                 h["seconds_update"], h["seconds_evolution"])]
    return {"config": "process", "threads": numba.get_num_threads(),
            "epoch_seconds": train, "test_accuracy": h["test_accuracy"],
            "final_test_accuracy": h["test_accuracy"][-1], "wall_seconds": wall}


def run_parallel(args, data, client, n_workers):
    """DataParallelSET on the shared cluster; numba at one thread in this (driver) process
    too, so that its evaluation of each epoch takes one core at most."""
    import numba
    from setcourse.parallel import DataParallelSET
    numba.set_num_threads(1)
    X, y, X_test, y_test = data
    est = DataParallelSET(template(args), n_workers=n_workers,
                          local_fraction=args.local_fraction, seed=args.seed, client=client)
    start = time.perf_counter()
    est.fit(X, y, validation_data=(X_test, y_test))
    wall = time.perf_counter() - start
    h = est.history_
    steps = [sum(s) for s in h["steps_by_worker"]]
    return {"config": f"{n_workers} worker{'s' if n_workers > 1 else ''}", "workers": n_workers,
            "epoch_seconds": h["seconds_epoch"], "phase": h["phase"],
            "test_accuracy": h["test_accuracy"], "final_test_accuracy": h["test_accuracy"][-1],
            "wall_seconds": wall, "steps": steps,
            "compute_seconds": h["seconds_compute"], "wait_seconds": h["seconds_wait"],
            "server_seconds": h["seconds_server"], "rejected_stale": h["rejected_stale"],
            "dropped_gradients": h["dropped_gradients"], "mean_staleness": h["mean_staleness"],
            "failures": est.failures_}


class Echo:
    """An actor that answers a push as the server does, without training: the transport."""

    def __init__(self, reply):
        self.reply = reply

    def push(self, grads):
        return [(w.copy(), b.copy()) for w, b in self.reply]  # the server replies with copies


def echo_round_trips(echo, grads, calls):
    """Median seconds of ``calls`` pushes of ``grads`` to ``echo``, from a worker's task."""
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        echo.push(grads).result()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def measure_transport(client, model, calls=200):
    """The actor round trip alone, worker -> server process -> worker: a push of the model's
    gradient size answered with its weights, and an 8-byte one (Dask's fixed cost)."""
    from setcourse.parallel.cluster import worker_addresses
    server, worker = worker_addresses(client)[:2]
    full = [(layer.weight_values().copy(), layer.bias.copy()) for layer in model.layers_]
    tiny = [(np.zeros(1, np.float32), np.zeros(1, np.float32))]
    result = {}
    for name, payload in (("full", full), ("tiny", tiny)):
        echo = client.submit(Echo, payload, actor=True, workers=[server], pure=False).result()
        seconds = client.submit(echo_round_trips, echo, payload, calls, workers=[worker],
                                pure=False).result()
        result[f"ms_round_trip_{name}"] = 1e3 * seconds
        del echo
    return result


def engine_epoch(params, X, y):
    """Seconds of one ordinary epoch of ``params``'s model on ``(X, y)``, in this process."""
    from setcourse import MLP
    model = MLP(**{**params, "epochs": 1})
    model.fit(X[:256], y[:256])  # builds, and every kernel specialisation is loaded
    model.set_params(warm_start=True).fit(X, y)
    return model.history_["seconds_epoch"][-1]


def measure_core_scaling(client, args, data, repeats=3):
    """What two cores give the engine here: one epoch on half the data, on one worker alone
    (one thread), then on two workers at once; ``scaling`` = 2 x alone / together (2.0 when
    the second core is a whole core for this memory-bound work); medians of ``repeats``."""
    from setcourse.parallel.cluster import worker_addresses
    workers = worker_addresses(client)[:2]
    X, y = data[0], data[1]
    half = X.shape[0] // 2
    params = template(args).get_params()
    shards = [client.scatter([X[i * half:(i + 1) * half], y[i * half:(i + 1) * half]],
                             workers=[w], direct=True) for i, w in enumerate(workers)]
    alone, together = [], []
    for _ in range(repeats):  # alternated: the machine's load drifts
        alone.append(client.submit(engine_epoch, params, *shards[0], workers=[workers[0]],
                                   pure=False).result())
        together.append(float(np.mean(client.gather([
            client.submit(engine_epoch, params, *shard, workers=[w], pure=False)
            for shard, w in zip(shards, workers)]))))
    return {"seconds_alone": alone, "seconds_together": together,
            "scaling": 2 * float(np.median(alone)) / float(np.median(together)),
            "samples": half}


def median_after_first(values, phases=None, phase=None):
    chosen = [v for i, v in enumerate(values) if i > 0 and (phase is None or phases[i] == phase)]
    return float(np.median(chosen)) if chosen else float("nan")


def summarise(runs, n_train, payload_mb):
    """Per configuration: medians over rounds of the per-run medians, and the split of a step."""
    table = []
    for config in CONFIGS:
        mine = [r for r in runs if r["config"] == config]
        if not mine:
            continue
        row = {"config": config, "rounds": len(mine),
               "final_test_accuracy": [r["final_test_accuracy"] for r in mine]}
        if config == "process":
            row["seconds_per_epoch"] = float(np.median([median_after_first(r["epoch_seconds"])
                                                        for r in mine]))
        else:
            for phase in ("async", "local"):
                row[f"seconds_per_{phase}_epoch"] = float(np.median([
                    median_after_first(r["epoch_seconds"], r["phase"], phase) for r in mine]))
            row["seconds_per_epoch"] = float(np.median([median_after_first(r["epoch_seconds"])
                                                        for r in mine]))
            # a phase-1 step, per worker: compute vs waiting for the server's reply
            per_step = []
            for r in mine:
                for i, phase in enumerate(r["phase"]):
                    if phase == "async" and i > 0 and r["steps"][i]:
                        per_step.append((r["compute_seconds"][i] / r["steps"][i],
                                         r["wait_seconds"][i] / r["steps"][i],
                                         r["server_seconds"][i] / r["steps"][i]))
            if per_step:
                compute, wait, server = np.median(np.array(per_step), axis=0)
                row.update({"ms_compute_per_step": 1e3 * compute, "ms_wait_per_step": 1e3 * wait,
                            "ms_server_update_per_step": 1e3 * server,
                            "ms_transfer_per_step": 1e3 * max(wait - server, 0.0),
                            "wait_share_of_worker_time": wait / (compute + wait)})
            row["rejected_stale"] = sum(sum(r["rejected_stale"]) for r in mine)
            row["mean_staleness"] = float(np.mean([  # phase 1 only: phase 2 has none
                s for r in mine for i, s in enumerate(r["mean_staleness"])
                if i > 0 and r["phase"][i] == "async"]))
            row["failures"] = sum(len(r["failures"]) for r in mine)
        row["samples_per_second"] = n_train / row["seconds_per_epoch"]
        table.append(row)
    base = {r["config"]: r["seconds_per_epoch"] for r in table}
    for row in table:
        row["speedup_vs_process"] = base["process"] / row["seconds_per_epoch"]
        if "1 worker" in base:
            row["speedup_vs_1_worker"] = base["1 worker"] / row["seconds_per_epoch"]
    return {"table": table, "message_mb_each_way": payload_mb}


def print_table(summary):
    print(f"\nmessage per push, each way: {summary['message_mb_each_way']:.2f} MB; the actor round "
          f"trip alone: {summary['transport']['ms_round_trip_full']:.1f} ms with it, "
          f"{summary['transport']['ms_round_trip_tiny']:.1f} ms with 8 bytes")
    scaling = summary["core_scaling"]
    print(f"one engine epoch on {scaling['samples']} samples, one thread: "
          f"{'/'.join(f'{t:.2f}' for t in scaling['seconds_alone'])} s alone, "
          f"{'/'.join(f'{t:.2f}' for t in scaling['seconds_together'])} s two at once: "
          f"the second core gives {scaling['scaling']:.2f}x")
    print(f"{'config':<10} {'s/epoch':>8} {'async':>7} {'local':>7} {'speed-up':>9} "
          f"{'vs 1w':>6} {'acc':>13} {'compute':>8} {'wait':>7} {'server':>7}")
    for row in summary["table"]:
        acc = "/".join(f"{a:.3f}" for a in row["final_test_accuracy"])
        print(f"{row['config']:<10} {row['seconds_per_epoch']:8.2f} "
              f"{row.get('seconds_per_async_epoch', float('nan')):7.2f} "
              f"{row.get('seconds_per_local_epoch', float('nan')):7.2f} "
              f"{row['speedup_vs_process']:9.2f} "
              f"{row.get('speedup_vs_1_worker', float('nan')):6.2f} "
              f"{acc:>13} {row.get('ms_compute_per_step', float('nan')):7.1f}ms "
              f"{row.get('ms_wait_per_step', float('nan')):5.1f}ms "
              f"{row.get('ms_server_update_per_step', float('nan')):5.1f}ms")


def main(argv=None):
    args = parse(argv)
    from distributed import Client
    from setcourse._atomic import atomic_file
    from setcourse.data import load
    from setcourse.nn import kernels
    from setcourse.sweep import local_cluster
    info = machine()
    ds = load(args.dataset, n_train=args.n_train, n_test=args.n_test, seed=args.seed,
              data_dir=args.data_dir)
    data = (ds.X_train, ds.y_train, ds.X_test, ds.y_test)
    kernels.warm_up()
    model = template(args).build(ds.X_train.shape[1], int(ds.y_train.max()) + 1)
    payload_mb = sum(layer.weight_values().nbytes + layer.bias.nbytes
                     for layer in model.layers_) / 2**20
    runs = []
    cluster = local_cluster(3, threads_per_run=1, dashboard_address=None)
    try:
        with Client(cluster) as client:
            client.wait_for_workers(3)
            transport = measure_transport(client, model)
            print(f"actor round trip: {transport}", flush=True)
            scaling = measure_core_scaling(client, args, data)
            print(f"two single-threaded workers at once: {scaling}", flush=True)
            for round_ in range(args.rounds):
                order = CONFIGS[round_ % 3:] + CONFIGS[:round_ % 3]
                for config in order:
                    print(f"round {round_ + 1}/{args.rounds}: {config} ...", flush=True)
                    if config == "process":
                        result = run_process(args, data)
                    else:
                        result = run_parallel(args, data, client, int(config[0]))
                    result["round"] = round_
                    runs.append(result)
                    print(f"  {np.round(result['epoch_seconds'], 2).tolist()} s/epoch, "
                          f"test acc {result['final_test_accuracy']:.4f}", flush=True)
    finally:
        cluster.close()
    summary = summarise(runs, args.n_train, payload_mb)
    summary["transport"] = transport
    summary["core_scaling"] = scaling
    print_table(summary)
    result = {"what": "data-parallel SET (WASAP-SGD phases) on Dask: 1 vs 2 workers vs one "
                      "process with two threads", "command": " ".join([sys.executable, *sys.argv]),
              "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
              "machine": info, "settings": {**vars(args), "model": template(args).get_params()},
              **summary, "runs": runs}
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        with atomic_file(args.out) as temp:
            Path(temp).write_text(json.dumps(result, indent=1, default=float) + "\n")
        print(f"written {args.out}")
    return result


if __name__ == "__main__":
    main()
