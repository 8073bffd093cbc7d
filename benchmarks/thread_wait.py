"""How the OpenMP wait policy trades idle speed against robustness when the cores are busy.

    python benchmarks/thread_wait.py [--steps 200] [--rounds 5] [--policies ...]

Each policy runs in a fresh process (GNU OpenMP reads its settings once, at start-up): SET
training steps of 784-1000-1000-1000-10, batch 128, on random data. Every round runs every
policy once, first on an idle machine, then beside ``--busy`` processes that spin on one core
each (a browser tab, a second notebook). Prints the median seconds per policy and load.
"""
import argparse
import multiprocessing
import os
import statistics
import subprocess
import sys
import time

POLICIES = {
    "PASSIVE": {"OMP_WAIT_POLICY": "PASSIVE"},
    "spin 3000 (default)": {"GOMP_SPINCOUNT": "3000"},
    "spin 30000": {"GOMP_SPINCOUNT": "30000"},
    "spin 200000": {"GOMP_SPINCOUNT": "200000"},
}

CHILD = """
import sys, time, warnings
import numpy as np
from setcourse import MLP
warnings.simplefilter("ignore")
steps = int(sys.argv[1])
rng = np.random.default_rng(0)
X = rng.random((steps * 128, 784), dtype=np.float32)
y = rng.integers(0, 10, steps * 128)
model = MLP(hidden=(1000, 1000, 1000), topology="set", epochs=1, seed=0)
model.fit(X[:256], y[:256])  # compile / load the kernels outside the timing
model.warm_start = True
start = time.perf_counter()
model.fit(X, y)
print(time.perf_counter() - start)
"""


def spin(seconds):
    end = time.time() + seconds
    while time.time() < end:
        pass


def run_policy(env_update, steps):
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}
    env.update(env_update)
    out = subprocess.run([sys.executable, "-c", CHILD, str(steps)], env=env, check=True,
                         capture_output=True, text=True).stdout
    return float(out.split()[-1])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--busy", type=int, default=1, help="spinning processes beside the run")
    parser.add_argument("--policies", default=",".join(POLICIES),
                        help=f"comma-separated subset of: {', '.join(POLICIES)}")
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.policies.split(",")]
    unknown = [n for n in names if n not in POLICIES]
    if unknown:
        parser.error(f"--policies: unknown {unknown}; known: {', '.join(POLICIES)}")
    times = {(n, load): [] for n in names for load in (0, args.busy)}
    for round_ in range(args.rounds):
        for load in (0, args.busy):
            for name in names:
                burners = [multiprocessing.Process(target=spin, args=(3600,), daemon=True)
                           for _ in range(load)]
                for b in burners:
                    b.start()
                try:
                    times[name, load].append(run_policy(POLICIES[name], args.steps))
                finally:
                    for b in burners:
                        b.terminate()
                        b.join()
        print(f"  round {round_ + 1}/{args.rounds} done", file=sys.stderr, flush=True)
    print(f"\n{args.steps} SET steps, median of {args.rounds} runs (seconds)")
    print(f"{'policy':22} {'idle':>8} {f'{args.busy} busy':>8}")
    for name in names:
        print(f"{name:22} {statistics.median(times[name, 0]):8.3f} "
              f"{statistics.median(times[name, args.busy]):8.3f}")


if __name__ == "__main__":
    main()
