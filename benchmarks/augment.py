"""CIFAR-10 augmentation cost versus one training step of the 3072-4000-1000-4000-10 SET-MLP.

The issue's target: augmenting a batch must cost less than the training step it feeds.
Random data (the cost does not depend on the pixels). Run:

    python benchmarks/augment.py [--batches 20] [--repeats 50] [--fits 2]

Prints one table; every number is measured in this run, side by side. Fits with and without
augmentation alternate and the fastest of each is kept, so a busy machine disturbs both alike.
"""
import argparse
import time
import warnings

import numpy as np

from setcourse.data.augment import Cifar10Augmentation
from setcourse import MLP

BATCH = 128
HIDDEN = (4000, 1000, 4000)


def time_augmentation(augment, repeats, rng):
    """Median seconds to augment one batch of 128 flattened 32×32×3 images."""
    X = rng.standard_normal((BATCH, 3072)).astype(np.float32)
    augment(X, rng)  # warm caches
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        augment(X, rng)
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def time_training(batches, batch_transform=None, seed=0):
    """Seconds per batch of one epoch of SET-MLP training (no evolution: a single epoch),
    the fit's own phase timers, and the model."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((BATCH * batches, 3072)).astype(np.float32)
    y = rng.integers(0, 10, len(X))
    model = MLP(hidden=HIDDEN, topology="set", epsilon=20, epochs=1, batch_size=BATCH, seed=seed)
    start = time.perf_counter()
    model.fit(X, y, batch_transform=batch_transform)
    wall = (time.perf_counter() - start) / batches
    history = model.history_
    step = sum(history[f"seconds_{phase}"][-1] for phase in ("forward", "backward", "update"))
    return wall, step / batches


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=20, help="training batches per fit")
    parser.add_argument("--repeats", type=int, default=50, help="augmentation repeats")
    parser.add_argument("--fits", type=int, default=2, help="fits of each kind (fastest kept)")
    args = parser.parse_args()
    # The 4000->10 output layer is dense at epsilon=20 (p >= 1); the engine says so each build.
    warnings.filterwarnings("ignore", message=".*so this layer is dense")
    rng = np.random.default_rng(0)
    augment = Cifar10Augmentation()

    # Compile the engine's kernels on a small model first, so no timing includes numba's JIT.
    MLP(hidden=(64, 32, 64), epsilon=20, epochs=1, batch_size=BATCH, seed=0).fit(
        rng.standard_normal((2 * BATCH, 3072)).astype(np.float32), rng.integers(0, 10, 2 * BATCH))

    seconds_augment = time_augmentation(augment, args.repeats, rng)
    plain, augmented = [], []
    for _ in range(args.fits):
        plain.append(time_training(args.batches))
        augmented.append(time_training(args.batches, batch_transform=augment))
    wall_plain, step_plain = min(plain)
    wall_augmented = min(wall for wall, _ in augmented)

    rows = [
        ("augmentation of one batch (median)", seconds_augment),
        ("training step: forward+backward+update", step_plain),
        ("fit wall time per batch, no augmentation", wall_plain),
        ("fit wall time per batch, with augmentation", wall_augmented),
    ]
    print(f"SET-MLP 3072-{'-'.join(map(str, HIDDEN))}-10, epsilon=20, batch {BATCH}, "
          f"{args.batches} batches per fit")
    print(f"{'what':<46}{'ms/batch':>10}{'x step':>9}")
    for label, seconds in rows:
        print(f"{label:<46}{seconds * 1e3:>10.2f}{seconds / step_plain:>9.2f}")
    verdict = "meets" if seconds_augment < step_plain else "MISSES"
    print(f"augmentation / training step = {seconds_augment / step_plain:.2f} "
          f"({verdict} the target < 1)")


if __name__ == "__main__":
    main()
