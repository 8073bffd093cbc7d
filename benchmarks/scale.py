"""One epoch of a SET-MLP with over a million hidden neurons; prints seconds and peak memory.

    python benchmarks/scale.py [--hidden 330000,330000,330000] [--samples 5000] [--epsilon 20]

The original tutorial README reports 49 minutes per epoch for 903,317 neurons with its
scipy.sparse implementation; the target here is at most 5 minutes and 4 GiB on 2 cores.
Random inputs (the cost does not depend on the values); one SET evolution step is timed too.
"""
import argparse
import resource
import sys
import time

import numpy as np

from setcourse.nn import kernels
from setcourse import MLP


def peak_rss_gib():
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 ** 3 if sys.platform == "darwin" else 1024 ** 2)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hidden", default="330000,330000,330000")
    parser.add_argument("--samples", type=int, default=5000)
    parser.add_argument("--epsilon", type=float, default=20)
    parser.add_argument("--batch-size", type=int, default=128)
    args = parser.parse_args(argv)
    hidden = tuple(int(h) for h in args.hidden.split(","))
    rng = np.random.default_rng(0)
    X = rng.normal(size=(args.samples, 784)).astype(np.float32)
    y = rng.integers(0, 10, size=args.samples)
    kernels.warm_up()
    MLP(hidden=(64, 64), epochs=1).fit(X[:256], y[:256])  # compile every specialisation first

    start = time.perf_counter()
    model = MLP(hidden=hidden, topology="set", epsilon=args.epsilon, zeta=0.3, dropout=0.3,
                batch_size=args.batch_size, epochs=1, seed=0)
    model.build(784, 10)
    build_s = time.perf_counter() - start
    print(f"built in {build_s:.1f} s: {sum(hidden) + 794:,} neurons, {sum(model.nnz_):,} connections",
          flush=True)
    model.set_params(warm_start=True)
    start = time.perf_counter()
    model.fit(X, y)
    epoch_s = time.perf_counter() - start
    start = time.perf_counter()
    model.strategy_.at_epoch_end(model, 0)
    evolution_s = time.perf_counter() - start
    h = model.history_
    print(f"\n{'neurons':>11} {'connections':>12} {'build s':>8} {'epoch s':>8} {'fwd s':>7} "
          f"{'bwd s':>7} {'update s':>8} {'evolution s':>11} {'peak RSS GiB':>12}")
    print(f"{sum(hidden) + 794:11,} {sum(model.nnz_):12,} {build_s:8.1f} {epoch_s:8.1f} "
          f"{h['seconds_forward'][0]:7.1f} {h['seconds_backward'][0]:7.1f} "
          f"{h['seconds_update'][0]:8.1f} {evolution_s:11.1f} {peak_rss_gib():12.2f}")


if __name__ == "__main__":
    main()
