"""SET-MLPs of 10 thousand to 10 million neurons: seconds and bytes per connection, measured.

    python benchmarks/scale.py [--hidden 330000,330000,330000] [--samples 5000] [--epsilon 20]
    python benchmarks/scale.py --bytes [--hidden ...] [--batch-size 128]
    python benchmarks/scale.py --kernels [--widths 3333,...] [--rounds 3]
    python benchmarks/scale.py --sweep [--widths 3333,10000,...] [--samples 5000]
                               [--samples-from 3000000:2000] [--json PATH] [--lock FILE]

One run trains one epoch of a 784-h-h-h-10 SET-MLP (ε = 20, ζ = 0.3, dropout 0.3, batch 128)
on random inputs (the cost does not depend on the values), then times one SET evolution step;
it prints build, epoch, forward, backward and evolution seconds, nanoseconds per
connection-sample (training seconds / (connections x samples)) and the peak RSS of the process
(build included) and of the epoch alone.

``--bytes`` prints where every byte goes: each array a sparse layer keeps, per connection and
per neuron (from :meth:`~setcourse.nn.layers.SparseLayer.storage`, checked against a built
layer), and the activations per neuron at the batch size, with the totals for ``--hidden``.

``--kernels`` times the forward and the backward (with the fused update) of one h x h layer
alone per width: the latency- and bandwidth-bound regime without the rest of the step.

``--sweep`` runs one width after the other, each in a fresh process (its own peak RSS), from
10 k to 10 M neurons by default, and prints the cost curve; ``--samples-from N:S`` trains the
widths of at least N neurons on S samples (said in each row); ``--lock FILE`` runs each width
under ``flock FILE`` (one heavy measurement at a time on a shared machine). ``--json PATH`` writes the
table with the machine, the command and the byte model (atomically, the schema of
:mod:`setcourse.analysis.scaling`).

The original tutorial README reports 49 minutes per epoch for 903,317 neurons with its
scipy.sparse implementation.
"""
import argparse
import datetime
import json
import os
import platform
import resource
import subprocess
import sys
import time

import numpy as np

N_INPUTS, N_CLASSES, DEPTH = 784, 10, 3
#: hidden widths of the default sweep: 10.8 k to 10 M neurons (784 + 3 h + 10)
SWEEP_WIDTHS = (3333, 10000, 33333, 100000, 333333, 1000000, 3333333)


def peak_rss_bytes():
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak * (1 if sys.platform == "darwin" else 1024)


def neurons_of(hidden):
    return N_INPUTS + sum(hidden) + N_CLASSES


def run_one(hidden, samples, epsilon, batch_size, evolve=True):
    """Train one epoch of the model of ``hidden``; the row of measurements (a dict)."""
    from setcourse import MLP
    from setcourse.nn import kernels
    from setcourse.sweep.task import PeakRSS
    rng = np.random.default_rng(0)
    X = rng.normal(size=(samples, N_INPUTS)).astype(np.float32)
    y = rng.integers(0, N_CLASSES, size=samples)
    kernels.warm_up()
    MLP(hidden=(64, 64), epochs=1).fit(X[:256], y[:256])  # compile every specialisation first

    start = time.perf_counter()
    model = MLP(hidden=hidden, topology="set", epsilon=epsilon, zeta=0.3, dropout=0.3,
                batch_size=batch_size, epochs=1, seed=0)
    model.build(N_INPUTS, N_CLASSES, n_samples=samples)
    build_s = time.perf_counter() - start
    connections = int(sum(model.nnz_))
    sparse = int(sum(layer.nnz for layer in model.layers_ if layer.sparse))
    print(f"built in {build_s:.1f} s: {neurons_of(hidden):,} neurons, {connections:,} "
          f"connections ({sparse:,} sparse)", file=sys.stderr, flush=True)
    model.set_params(warm_start=True)
    with PeakRSS() as train_peak:
        start = time.perf_counter()
        model.fit(X, y)
        epoch_s = time.perf_counter() - start
    stored = sum(layer.stored_bytes() for layer in model.layers_ if layer.sparse)
    evolution_s = float("nan")
    if evolve:
        for layer in model.layers_:
            layer.input = None  # the last batch's activations are not needed to evolve
        start = time.perf_counter()
        model.strategy_.at_epoch_end(model, 0)
        evolution_s = time.perf_counter() - start
    h = model.history_
    forward, backward, update = (h[f"seconds_{p}"][0] for p in ("forward", "backward", "update"))
    work = connections * samples
    return {"neurons": neurons_of(hidden), "hidden": list(hidden), "connections": connections,
            "sparse_connections": sparse, "samples": samples, "batch_size": batch_size,
            "build_seconds": build_s, "epoch_seconds": epoch_s, "seconds_forward": forward,
            "seconds_backward": backward, "seconds_update": update,
            "evolution_seconds": None if evolution_s != evolution_s else evolution_s,
            "ns_per_connection_sample": 1e9 * (forward + backward + update) / work,
            "ns_forward": 1e9 * forward / work, "ns_backward": 1e9 * (backward + update) / work,
            "peak_rss_bytes": peak_rss_bytes(), "train_peak_rss_bytes": int(train_peak.peak),
            "stored_sparse_bytes": int(stored),
            "bytes_per_connection": peak_rss_bytes() / connections}


def time_kernels(widths, batch_size, rounds):
    """Forward and backward of one h x h sparse layer (ε = 20) alone, per width: the
    memory-bound regime measured without the rest of the step. Best of ``rounds``."""
    from setcourse.nn import kernels
    from setcourse.nn.layers import SparseLayer
    from setcourse.nn.sparsity import erdos_renyi_density
    f32 = np.float32
    kernels.warm_up()
    print(f"{'width':>9} {'connections':>12} {'act. MiB':>8} {'fwd ns':>7} {'bwd ns':>7}"
          f"  (per connection-sample, batch {batch_size}, best of {rounds})")
    for h in widths:
        rng = np.random.default_rng(0)
        layer = SparseLayer(h, h, erdos_renyi_density(20, h, h), rng)
        x = np.maximum(rng.normal(size=(h, batch_size)), 0).astype(f32)
        delta = rng.normal(size=(h, batch_size)).astype(f32)
        out, dx = np.empty_like(x), np.empty_like(x)
        bias_grad = np.empty(h, f32)
        seed = np.uint64(5)
        forward, backward = [], []
        for _ in range(rounds + 1):
            start = time.perf_counter()
            kernels.sparse_forward(layer.indptr, layer.indices, layer.data, layer.bias, x, out,
                                   kernels.EMPTY_ROWS, f32(0), 0.7, seed, True)
            forward.append(time.perf_counter() - start)
            start = time.perf_counter()
            kernels.sparse_backward(
                layer.indptr, layer.indices, layer.t_indptr, layer.t_indices, layer.t_perm,
                layer.data, delta, x, kernels.NO_GRADIENT, bias_grad, dx,
                kernels.RELU_FROM_OUTPUT, kernels.EMPTY_ROWS, f32(0), 0.7, seed, 64,
                layer.weight_velocity, kernels.DECOUPLED_UPDATE, f32(0.05), f32(0.9), f32(2e-4))
            backward.append(time.perf_counter() - start)
        work = 1e-9 * layer.nnz * batch_size
        print(f"{h:9,} {layer.nnz:12,} {x.nbytes / 2**20:8.1f} {min(forward[1:]) / work:7.3f} "
              f"{min(backward[1:]) / work:7.3f}", flush=True)


def print_rows(rows):
    print(f"\n{'neurons':>11} {'connections':>12} {'samples':>7} {'build s':>8} {'epoch s':>8} "
          f"{'fwd ns':>7} {'bwd ns':>7} {'ns/conn':>7} {'evol s':>7} {'peak GiB':>8} "
          f"{'B/conn':>6}")
    for r in rows:
        print(f"{r['neurons']:11,} {r['connections']:12,} {r['samples']:7,} "
              f"{r['build_seconds']:8.1f} {r['epoch_seconds']:8.1f} {r['ns_forward']:7.3f} "
              f"{r['ns_backward']:7.3f} {r['ns_per_connection_sample']:7.3f} "
              f"{float('nan') if r['evolution_seconds'] is None else r['evolution_seconds']:7.1f} "
              f"{r['peak_rss_bytes'] / 2**30:8.2f} "
              f"{r['bytes_per_connection']:6.1f}")
    if len(rows) > 1:
        base = rows[0]["ns_per_connection_sample"]
        print("\ncost per connection-sample relative to the smallest width: "
              + ", ".join(f"{r['neurons']:,}: {r['ns_per_connection_sample'] / base:.2f}x"
                          for r in rows))


def bytes_model(batch_size):
    """The byte model of :mod:`setcourse.analysis.memory`, as stored in the sweep's JSON."""
    from setcourse.analysis import memory
    return {"per_connection": memory.bytes_per_connection(),
            "per_connection_arrays": memory.connection_arrays(),
            "per_connection_int64": memory.bytes_per_connection(index64=True),
            "per_neuron": memory.bytes_per_neuron(),
            "per_activation": memory.ACTIVATION_BYTES, "batch_size": batch_size}


def print_bytes(hidden, epsilon, batch_size):
    from setcourse.analysis import memory
    from setcourse.nn.layers import SparseLayer
    print(f"Arrays of a sparse layer (bytes per connection; int64 from 2^31 connections):")
    print(f"{'array':16} {'dtype':7} {'per':11} {'bytes':>5} {'int64 layer':>11}  kept")
    wide = {name: dtype for name, dtype, _, _ in SparseLayer.storage(1, 1, 2**31, True)}
    for name, dtype, _, per in SparseLayer.storage(1, 1, 1, gradient=True):
        kept = ("no: fused into the backward (made only for L2 / RigL / SM layers)"
                if name == "weight_grad" else "yes")
        print(f"{name:16} {str(dtype):7} {per:11} {dtype.itemsize:5d} "
              f"{wide[name].itemsize:11d}  {kept}")
    print(f"{'total kept':16} {'':7} {'connection':11} {memory.bytes_per_connection():5d} "
          f"{memory.bytes_per_connection(index64=True):11d}")
    print(f"\nActivations in training, per hidden neuron and sample: {memory.ACTIVATION_BYTES} B "
          f"(float32) kept as the next layer's input, plus the backward's delta and input "
          f"gradient of the layer being processed; at batch {batch_size}: "
          f"{memory.ACTIVATION_BYTES * batch_size} B per neuron kept")
    sizes = (N_INPUTS, *hidden, N_CLASSES)
    table = memory.training_memory(sizes, epsilon, batch_size)
    print(f"\n784-{'-'.join(map(str, hidden))}-10, ε = {epsilon:g}, batch {batch_size}:")
    for key, label in (("sparse_bytes", "sparse layers (kept arrays)"),
                       ("dense_bytes", "dense layers (weights, gradient, velocity)"),
                       ("activation_bytes", "activations at the peak of a training step"),
                       ("total_bytes", "total (without build/rewiring temporaries)")):
        print(f"  {label:45} {table[key] / 2**30:8.2f} GiB")
    print(f"  {'connections':45} {table['connections']:14,}")
    layer = SparseLayer(3000, 2000, 0.01, np.random.default_rng(0))
    layer.release_gradient()
    expected = sum(n * d.itemsize for _, d, n, _ in SparseLayer.storage(3000, 2000, layer.nnz))
    assert layer.stored_bytes() == expected, "the byte model no longer matches the engine"


def machine():
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError):
        ram = None
    return {"cpu": cpu, "cores": os.cpu_count(), "ram_bytes": ram,
            "system": f"{platform.system()} {platform.release()}",
            "python": platform.python_version(), "numpy": np.__version__,
            "numba": __import__("numba").__version__}


def commit():
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, cwd=os.path.dirname(os.path.abspath(__file__)),
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def sweep(args):
    widths = [int(w) for w in args.widths.split(",")]
    rules = sorted((int(n), int(s)) for n, s in (pair.split(":") for pair in
                                                 args.samples_from.split(","))) \
        if args.samples_from else []
    rows = []
    for width in widths:
        hidden = (width,) * DEPTH
        samples = args.samples
        for limit, count in rules:  # the rule of the largest threshold reached
            if neurons_of(hidden) >= limit:
                samples = count
        command = [sys.executable, os.path.abspath(__file__), "--row", "--hidden",
                   ",".join(map(str, hidden)), "--samples", str(samples), "--epsilon",
                   str(args.epsilon), "--batch-size", str(args.batch_size)]
        if args.evolution_below and neurons_of(hidden) >= args.evolution_below:
            command.append("--no-evolution")
        if args.lock:  # one heavy measurement at a time on a shared machine
            command = ["flock", args.lock, *command]
        print(f"{neurons_of(hidden):,} neurons, {samples} samples ...", file=sys.stderr,
              flush=True)
        result = subprocess.run(command, stdout=subprocess.PIPE, text=True)
        if result.returncode != 0:
            print(f"  failed (exit {result.returncode}); the sweep stops here", file=sys.stderr)
            break
        rows.append(json.loads(result.stdout.strip().splitlines()[-1]))
        print_rows(rows[-1:])
        if args.json:  # rewritten after every width: an interrupted sweep keeps what it has
            write_json(args, rows)
    print_rows(rows)
    return rows


def write_json(args, rows):
    from setcourse._atomic import atomic_file
    document = {
        "schema": 1, "provisional": bool(args.provisional),
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "command": "python benchmarks/scale.py " + " ".join(sys.argv[1:]),
        "commit": commit(), "machine": machine(),
        "settings": {"architecture": f"{N_INPUTS}-h-h-h-{N_CLASSES}", "epsilon": args.epsilon,
                     "zeta": 0.3, "dropout": 0.3, "batch_size": args.batch_size,
                     "samples": args.samples, "samples_from": args.samples_from,
                     "data": "random normal inputs, random labels", "threads": os.cpu_count()},
        "bytes": bytes_model(args.batch_size),
        "rows": rows}
    with atomic_file(args.json) as temp:
        with open(temp, "w", encoding="utf-8") as handle:
            json.dump(document, handle, indent=1)
            handle.write("\n")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hidden", default="330000,330000,330000")
    parser.add_argument("--samples", type=int, default=5000)
    parser.add_argument("--epsilon", type=float, default=20)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--no-evolution", action="store_true",
                        help="skip the timed SET evolution step after the epoch")
    parser.add_argument("--bytes", action="store_true", help="print the bytes table only")
    parser.add_argument("--sweep", action="store_true")
    parser.add_argument("--kernels", action="store_true",
                        help="time forward and backward of one h x h layer per width alone")
    parser.add_argument("--rounds", type=int, default=3, help="--kernels: best of this many")
    parser.add_argument("--widths", default=",".join(map(str, SWEEP_WIDTHS)),
                        help="hidden width of each of the 3 layers, one run each")
    parser.add_argument("--samples-from", help="N:S[,N:S...]: widths of at least N neurons "
                        "train on S samples (the largest N reached applies)")
    parser.add_argument("--lock", help="--sweep: run each width under flock LOCK")
    parser.add_argument("--evolution-below", type=int,
                        help="--sweep: time the evolution step only below this many neurons")
    parser.add_argument("--json", help="write the sweep's table here (atomically)")
    parser.add_argument("--provisional", action="store_true",
                        help="mark the JSON as provisional (a partial or busy-machine sweep)")
    parser.add_argument("--row", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    for name in ("samples", "batch_size"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be >= 1; got {getattr(args, name)}")
    if not args.epsilon > 0:
        parser.error(f"--epsilon must be > 0; got {args.epsilon}")
    hidden = tuple(int(h) for h in args.hidden.split(","))
    if args.bytes:
        print_bytes(hidden, args.epsilon, args.batch_size)
    elif args.kernels:
        time_kernels([int(w) for w in args.widths.split(",")], args.batch_size, args.rounds)
    elif args.sweep:
        sweep(args)
    elif args.row:
        row = run_one(hidden, args.samples, args.epsilon, args.batch_size,
                      not args.no_evolution)
        print(json.dumps(row))
    else:
        print_rows([run_one(hidden, args.samples, args.epsilon, args.batch_size,
                            not args.no_evolution)])


if __name__ == "__main__":
    main()
