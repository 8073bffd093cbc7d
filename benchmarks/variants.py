"""Compare SET, DSR, Sparse Momentum, DST, RigL and FixProb on Fashion-MNIST, in one table.

784-1000-1000-1000-10 MLP at SET's Erdős–Rényi density (epsilon = 20) for the fixed-density
methods (DST's density emerges from its penalty), several seeds, same hyper-parameters for all:
final and best test accuracy (mean ± std over seeds; each epoch's network is evaluated before
its evolution step, as the engine does), connections, seconds per training epoch
(forward, backward, update and evolution; no evaluation), peak memory of training and evolution
above what was allocated before ``fit`` (tracemalloc: every numpy array, temporaries included;
the data set itself is not counted; evaluation is done outside the measured span).

Usage::

    python benchmarks/variants.py [--data-dir DIR] [--epochs 10] [--seeds 0 1 2]
        [--train-samples N] [--test-samples N] [--methods set dsr ...] [--update-period 100]
        [--preprocess scale] [--json results.json]

``DIR`` holds the four Fashion-MNIST IDX files (``train-images-idx3-ubyte.gz``, ...); they are
checked and read by :func:`setcourse.data.load` (which also caches the parsed arrays), with
its default preprocessing (pixels scaled to [0, 1], as the original SET code) unless
``--preprocess`` says otherwise (until issue 13 this benchmark standardised every pixel, which
gives rare border pixels values up to 185).
"""
import argparse
import json
import os
import time
import tracemalloc

import numpy as np

from setcourse.data import load
from setcourse.evolution import DSR, DST, FixProb, RigL, SET, SparseMomentum
from setcourse import MLP
from setcourse.callbacks import Callback

METHODS = ("set", "dsr", "sparse_momentum", "dst", "rigl", "fixprob")
TRAINING_PHASES = ("forward", "backward", "update", "evolution")


def load_fashion_mnist(data_dir=None, train_samples=None, test_samples=None, preprocess=None):
    """Fashion-MNIST from ``data_dir`` (or setcourse's cache), optionally a stratified subset:
    ``(X_train, y_train, X_test, y_test)``; ``preprocess``: as :func:`setcourse.data.load`
    (``None``: its default)."""
    if data_dir is not None:
        # setcourse.data looks for system copies in $SETCOURSE_DATA_PATH first (and verifies them).
        previous = os.environ.get("SETCOURSE_DATA_PATH")
        os.environ["SETCOURSE_DATA_PATH"] = os.pathsep.join(filter(None, [data_dir, previous]))
    options = {} if preprocess is None else {"preprocess": preprocess}
    return tuple(load("fashion_mnist", n_train=train_samples, n_test=test_samples, seed=0,
                      **options))


def make_strategy(method, update_period):
    """A fresh strategy object; DSR and RigL get the same ``update_period``."""
    return {"set": lambda: SET(),
            "fixprob": lambda: FixProb(),
            "dsr": lambda: DSR(update_period=update_period),
            "sparse_momentum": lambda: SparseMomentum(),
            "dst": lambda: DST(),
            "rigl": lambda: RigL(update_period=update_period)}[method]()


class EpochProbe(Callback):
    """Per epoch: test accuracy of the trained network (before evolution, as the engine's own
    evaluation) and the peak traced memory of training and of evolution, evaluation excluded.
    """

    def __init__(self, X_test, y_test):
        self.X_test, self.y_test = X_test, y_test
        self.peaks, self.accuracies = [], []

    def on_epoch_begin(self, model, epoch):
        tracemalloc.reset_peak()

    def before_evolution(self, model, epoch):
        self.peaks.append(tracemalloc.get_traced_memory()[1])
        self.accuracies.append(model.score(self.X_test, self.y_test))
        # Each layer keeps its last forward input for backward; after evaluation that is an
        # (n_in, 2048) test chunk per layer, alive until the next training batch replaces it.
        # Drop it so that the peaks measured next are the training method's own.
        for layer in model.layers_:
            layer.input = None
        tracemalloc.reset_peak()

    def on_epoch_end(self, model, epoch, logs):
        self.peaks[-1] = max(self.peaks[-1], tracemalloc.get_traced_memory()[1])


def warm_up(data, methods, update_period):
    """Compile every numba kernel (and load numba itself) outside the measured runs."""
    X, y = data[0][:256], data[1][:256]
    for method in methods:
        MLP(hidden=(100, 100, 100), topology=make_strategy(method, update_period), epsilon=5.0,
            epochs=2, batch_size=64).fit(X, y)


def run(method, seed, data, epochs, update_period):
    """Train one model; returns its metrics."""
    X, y, X_test, y_test = data
    model = MLP(hidden=(1000, 1000, 1000), topology=make_strategy(method, update_period),
                epsilon=20.0, epochs=epochs, seed=seed)
    probe = EpochProbe(X_test, y_test)
    tracemalloc.start()
    baseline = tracemalloc.get_traced_memory()[0]
    start = time.perf_counter()
    model.fit(X, y, callbacks=[probe])
    wall = time.perf_counter() - start
    tracemalloc.stop()
    history = model.history_
    accuracy = probe.accuracies
    train_seconds = np.sum([history[f"seconds_{p}"] for p in TRAINING_PHASES], axis=0)
    return {"method": method, "seed": seed, "final_accuracy": accuracy[-1],
            "best_accuracy": max(accuracy), "nnz": int(sum(model.nnz_)),
            "nnz_per_epoch": [int(sum(row)) for row in history["nnz"]],
            "seconds_per_epoch": float(np.mean(train_seconds)), "wall_seconds": wall,
            "peak_mb": (max(probe.peaks) - baseline) / 2**20,
            "parameter_mb": model.parameter_bytes() / 2**20,
            "dense_buffer_mb": getattr(model.strategy_, "dense_buffer_bytes_", 0) / 2**20,
            "test_accuracy": accuracy}


def summarise(results, methods):
    """One row per method: mean ± std over seeds."""
    lines = [f"{'method':16s} {'final acc %':>13s} {'best acc %':>13s} {'nnz':>9s} "
             f"{'s/epoch':>8s} {'peak MB':>8s} {'param MB':>8s} {'dense buf MB':>12s}"]
    for method in methods:
        rows = [r for r in results if r["method"] == method]
        if not rows:
            continue

        def stat(key, scale=1.0):
            values = np.array([r[key] for r in rows]) * scale
            return f"{values.mean():6.2f} ± {values.std():4.2f}"
        lines.append(
            f"{method:16s} {stat('final_accuracy', 100):>13s} {stat('best_accuracy', 100):>13s} "
            f"{np.mean([r['nnz'] for r in rows]):9.0f} "
            f"{np.mean([r['seconds_per_epoch'] for r in rows]):8.2f} "
            f"{np.mean([r['peak_mb'] for r in rows]):8.1f} "
            f"{np.mean([r['parameter_mb'] for r in rows]):8.2f} "
            f"{np.mean([r['dense_buffer_mb'] for r in rows]):12.1f}")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=None,
                        help="directory with the Fashion-MNIST IDX .gz files (default: "
                             "setcourse's data cache, see python -m setcourse data fetch)")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--train-samples", type=int, default=None,
                        help="a stratified random subset of N training images")
    parser.add_argument("--test-samples", type=int, default=None,
                        help="a stratified random subset of N test images")
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    parser.add_argument("--update-period", type=int, default=100,
                        help="DSR's and RigL's rewiring period in steps (reference: 100)")
    parser.add_argument("--preprocess", default=None,
                        help="preprocessing passed to setcourse.data.load (default: its own, "
                             "scaling to [0, 1])")
    parser.add_argument("--json", help="also write every run's metrics to this file")
    args = parser.parse_args(argv)
    if args.epochs < 1:
        parser.error(f"--epochs must be >= 1; got {args.epochs}")
    data = load_fashion_mnist(args.data_dir, args.train_samples, args.test_samples,
                              args.preprocess)
    print(f"Fashion-MNIST: {data[0].shape[0]} train / {data[2].shape[0]} test images, "
          f"{args.epochs} epochs, seeds {args.seeds}, update period {args.update_period}",
          flush=True)
    warm_up(data, args.methods, args.update_period)
    results = []
    for seed in args.seeds:
        for method in args.methods:
            result = run(method, seed, data, args.epochs, args.update_period)
            results.append(result)
            print(f"  {method:16s} seed {seed}: final {100 * result['final_accuracy']:.2f} %, "
                  f"best {100 * result['best_accuracy']:.2f} %, nnz {result['nnz']}, "
                  f"{result['seconds_per_epoch']:.1f} s/epoch, {result['wall_seconds']:.0f} s",
                  flush=True)
    print(summarise(results, args.methods))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(results, handle, indent=1)


if __name__ == "__main__":
    main()
