"""Seconds per epoch of SET, FixProb and Dense MLPs, measured side by side in one run.

    python benchmarks/epoch_time.py [--data-dir DIR] [--epochs 2] [--rounds 3]
                                    [--models set,fixprob,dense] [--against DIR]

``--against DIR`` compares this checkout with another one (e.g. ``git worktree add /tmp/prev
<commit>``): every round trains each model once with this code and once with DIR's
``setcourse`` (a fresh process each, alternating which goes first), and prints both medians
and the ratio.

Default configuration (issue 2): 784-1000-1000-1000-10, epsilon=20, zeta=0.3, dropout 0.3,
batch 128, 60,000 samples. With ``--data-dir`` pointing at Fashion-MNIST's IDX ``.gz`` files
the real data is used and test accuracy is reported; otherwise random data of that shape.
The first-call compilation of the kernels is done before any timing.

On a shared machine the load drifts within minutes, so one model timed after another can
give any ratio: every round trains each model afresh, in alternating order (set, fixprob,
dense, then dense, fixprob, set, ...). The table shows each model's median over the rounds;
the speed-up is the ratio of the medians, with the range of the per-round ratios beside it.
"""
import argparse
import resource
import sys
import time

import numpy as np

from setcourse.nn import kernels
from setcourse import MLP


def peak_rss_mb():
    """Peak resident set size of this process so far, in MB (Linux/macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024 if sys.platform == "darwin" else 1024)


def load_data(args):
    if args.data_dir:
        from setcourse.data import DATASETS, load
        from setcourse.data.sources import import_folder
        import_folder(DATASETS["fashion_mnist"], args.data_dir)  # verified, then cached
        ds = load("fashion_mnist", n_train=min(args.n_train, 60000))
        return ds.X_train, ds.y_train, ds.X_test, ds.y_test, True
    rng = np.random.default_rng(0)
    X = rng.normal(size=(args.n_train, 784)).astype(np.float32)
    y = rng.integers(0, 10, size=args.n_train)
    return X, y, X[:10000], y[:10000], False


def time_model(name, args, hidden, X, y, X_test, y_test, real):
    """Train a fresh model of topology ``name``; its per-epoch means as a table row."""
    model = MLP(hidden=hidden, topology=name, epsilon=20, zeta=0.3, dropout=0.3,
                lr=args.lr, batch_size=128, epochs=args.epochs, seed=args.seed)
    # A one-batch run compiles every kernel specialisation before the timed run.
    model.fit(X[:256], y[:256], epochs=1)
    start = time.perf_counter()
    model.fit(X, y, validation_data=(X_test, y_test) if real else None)
    wall = time.perf_counter() - start
    h = model.history_
    train = np.mean([f + b + u for f, b, u in zip(h["seconds_forward"], h["seconds_backward"],
                                                    h["seconds_update"])])
    return {"model": name, "train_s": train, "evolution_s": np.mean(h["seconds_evolution"]),
            "evaluation_s": np.mean(h["seconds_evaluation"]) if real else float("nan"),
            "wall_s": wall / args.epochs, "nnz": sum(model.nnz_), "peak_rss_mb": peak_rss_mb(),
            "test_acc": h["test_accuracy"][-1] if real else float("nan")}


def compare(args, argv):
    """Alternate fresh processes of this checkout and of ``args.against``; print the table."""
    import json
    import os
    import subprocess
    trees = {"this": os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
             "other": os.path.abspath(args.against)}
    rest = [a for a in argv if not a.startswith("--against") and a != args.against]
    runs = {tree: [] for tree in trees}
    for round_index in range(args.rounds):
        order = list(trees) if round_index % 2 == 0 else list(trees)[::-1]
        for tree in order:
            env = dict(os.environ, PYTHONPATH=trees[tree])
            command = [sys.executable, os.path.abspath(__file__), *rest, "--rounds", "1",
                       "--rows-json"]
            result = subprocess.run(command, env=env, stdout=subprocess.PIPE, text=True,
                                    check=True)
            rows = json.loads(result.stdout.strip().splitlines()[-1])
            runs[tree].append({r["model"]: r["train_s"] + r["evolution_s"] for r in rows})
            print(f"  round {round_index + 1}, {tree} ({trees[tree]}): "
                  + ", ".join(f"{m} {v:.2f} s" for m, v in runs[tree][-1].items()),
                  file=sys.stderr, flush=True)
    print(f"\ntrain + evolution s/epoch, medians of {args.rounds} alternated rounds")
    print(f"{'model':8} {'this':>8} {'other':>8} {'other/this':>10}  this = {trees['this']}, "
          f"other = {trees['other']}")
    for model in runs["this"][0]:
        a = float(np.median([r[model] for r in runs["this"]]))
        b = float(np.median([r[model] for r in runs["other"]]))
        print(f"{model:8} {a:8.2f} {b:8.2f} {b / a:10.2f}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", help="folder with Fashion-MNIST IDX .gz files")
    parser.add_argument("--models", default="set,fixprob,dense")
    parser.add_argument("--epochs", type=int, default=2,
                        help="epochs per run; SET evolves after every epoch but the last")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--n-train", type=int, default=60000)
    parser.add_argument("--hidden", default="1000,1000,1000")
    parser.add_argument("--lr", type=float, default=0.01)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--against", help="another checkout to alternate with (see above)")
    parser.add_argument("--rows-json", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.against:
        return compare(args, sys.argv[1:] if argv is None else list(argv))
    X, y, X_test, y_test, real = load_data(args)
    hidden = tuple(int(h) for h in args.hidden.split(","))
    kernels.warm_up()
    names = args.models.split(",")
    runs = {name: [] for name in names}
    for round_index in range(args.rounds):
        order = names if round_index % 2 == 0 else names[::-1]
        for name in order:
            runs[name].append(time_model(name, args, hidden, X, y, X_test, y_test, real))
            print(f"  round {round_index + 1}, {name}: {runs[name][-1]['train_s']:.2f} s/epoch "
                  "train", file=sys.stderr, flush=True)
    rows = [{key: (runs[name][0][key] if key in ("model", "nnz", "test_acc", "peak_rss_mb")
                   else float(np.median([run[key] for run in runs[name]])))
             for key in runs[name][0]} for name in names]
    print(f"\n{'model':8} {'train s/ep':>10} {'evol s':>7} {'eval s':>7} {'wall s/ep':>9} "
          f"{'nnz':>9} {'peak RSS MB':>11} {'test acc':>8}")
    for r in rows:
        print(f"{r['model']:8} {r['train_s']:10.2f} {r['evolution_s']:7.3f} {r['evaluation_s']:7.2f} "
              f"{r['wall_s']:9.2f} {r['nnz']:9d} {r['peak_rss_mb']:11.0f} {r['test_acc']:8.4f}")
    by_name = {r["model"]: r for r in rows}
    if "set" in by_name and "dense" in by_name:
        s, d = by_name["set"], by_name["dense"]
        per_round = [(dr["train_s"] + dr["evolution_s"]) / (sr["train_s"] + sr["evolution_s"])
                     for sr, dr in zip(runs["set"], runs["dense"])]
        print(f"\nSET speed-up over dense (train + evolution, medians of {args.rounds} rounds "
              f"in one run): {(d['train_s'] + d['evolution_s']) / (s['train_s'] + s['evolution_s']):.1f}x"
              f" (per round {min(per_round):.1f}x-{max(per_round):.1f}x)")
    print("(peak RSS is cumulative over the run: read it for the first model only)")
    if args.rows_json:
        import json
        print(json.dumps([{k: (float(v) if isinstance(v, (float, np.floating)) else v)
                           for k, v in r.items()} for r in rows]))


if __name__ == "__main__":
    main()
