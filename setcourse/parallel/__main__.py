"""Command line: ``python -m setcourse.parallel --workers 2 [options]`` trains data-parallel SET.

The options are ``python -m setcourse train``'s usual ones (a subset), plus the run's:
``--workers``, ``--local-fraction``, ``--max-staleness``, ``--scheduler`` (a running Dask
scheduler; default: a LocalCluster of workers + 1 processes). Prints one line per epoch and
any lost worker; ``--save`` writes the trained model, ``--history`` its history (both atomic).
"""
import argparse
import sys


def parse(argv=None):
    from ..data import DATASETS
    p = argparse.ArgumentParser(prog="python -m setcourse.parallel", description=__doc__)
    p.add_argument("--workers", type=int, default=2, help="training workers (default: 2)")
    p.add_argument("--local-fraction", type=float, default=0.3,
                   help="share of the epochs trained locally, phase 2 (default: 0.3)")
    p.add_argument("--max-staleness", type=int, default=None,
                   help="largest staleness accepted (default: 2 x workers)")
    p.add_argument("--scheduler", default=None, help="address of a running Dask scheduler")
    p.add_argument("--dataset", default="fashion_mnist", choices=sorted(DATASETS))
    p.add_argument("--data-dir", help="folder holding the dataset's files (e.g. IDX .gz)")
    p.add_argument("--n-train", type=int, help="training samples (stratified subset)")
    p.add_argument("--n-test", type=int, help="test samples (stratified subset)")
    p.add_argument("--hidden", default="1000,1000,1000",
                   help="hidden sizes (default: 1000,1000,1000)")
    p.add_argument("--epsilon", type=float, default=20.0)
    p.add_argument("--zeta", type=float, default=0.3)
    p.add_argument("--dropout", type=float, default=0.3)
    p.add_argument("--lr", type=float, default=0.05)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--save", metavar="PATH", help="save the trained model (.npz)")
    p.add_argument("--history", metavar="PATH.json", help="write the per-epoch history as JSON")
    return p.parse_args(argv)


def main(argv=None):
    from ..data import load
    from ..model import MLP
    from .estimator import DataParallelSET
    args = parse(argv)
    try:
        hidden = tuple(int(h) for h in args.hidden.split(","))
    except ValueError:
        sys.exit(f"--hidden must be comma-separated integers; got {args.hidden!r}")
    data = load(args.dataset, n_train=args.n_train, n_test=args.n_test, seed=args.seed,
                data_dir=args.data_dir)
    mlp = MLP(hidden=hidden, epsilon=args.epsilon, zeta=args.zeta, dropout=args.dropout,
              lr=args.lr, batch_size=args.batch_size, epochs=args.epochs)
    run = DataParallelSET(mlp, n_workers=args.workers, local_fraction=args.local_fraction,
                          max_staleness=args.max_staleness, seed=args.seed,
                          scheduler_address=args.scheduler)
    run.fit(data.X_train, data.y_train, validation_data=(data.X_test, data.y_test))
    h = run.history_
    for i in range(h.n_epochs):
        print(f"epoch {i + 1}/{h.n_epochs} {h['phase'][i]:<5}  train loss {h['train_loss'][i]:.4f}"
              f"  test acc {h['test_accuracy'][i]:.4f}  {h['seconds_epoch'][i]:.2f} s  "
              f"staleness {h['mean_staleness'][i]:.2f}  rejected {h['rejected_stale'][i]}  "
              f"dropped {h['dropped_gradients'][i]}")
    if args.save:
        run.model_.save(args.save)
    if args.history:
        h.to_json(args.history)
    return 0


if __name__ == "__main__":
    sys.exit(main())
