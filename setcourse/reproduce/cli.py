"""``python -m setcourse reproduce PROTOCOL``: run it, print ours beside the original."""
import argparse

from .protocols import PROTOCOLS


def add_parser(subparsers):
    parser = subparsers.add_parser(
        "reproduce", help="re-run an experiment of the original and compare",
        description="Run a protocol of the original (every model x seeds) on the sweep runner "
                    "(a Dask LocalCluster, or --scheduler ADDRESS), then print our mean ± sd "
                    "beside the original's and write the figure. Resumes: finished runs in "
                    "--out are kept.", formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("protocol", choices=sorted(PROTOCOLS))
    parser.add_argument("--seeds", type=int, default=5, help="number of seeds (0..N-1)")
    parser.add_argument("--epochs", type=int, default=None,
                        help="shorten the runs (default: the protocol's 400)")
    parser.add_argument("--models", default=None,
                        help="comma-separated subset of the protocol's models, e.g. SET,FixProb")
    parser.add_argument("--out", default=None, help="results folder (default reproduce-runs/NAME)")
    parser.add_argument("--workers", type=int, default=None, help="local worker processes")
    parser.add_argument("--scheduler", default=None, help="address of a running Dask scheduler")
    parser.add_argument("--figure", default=None, help="write the figure here (PNG)")
    parser.add_argument("--pack", default=None, metavar="FILE",
                        help="also write the finished runs as a pretrained-runs file")
    parser.set_defaults(run=run)
    return parser


def run(args):
    from .pretrained import pack
    from .run import reproduce
    models = None if args.models is None else [m.strip() for m in args.models.split(",")]
    result = reproduce(args.protocol, args.out, seeds=args.seeds, epochs=args.epochs,
                       models=models, n_workers=args.workers, scheduler_address=args.scheduler)
    print(result.table())
    if args.figure:
        result.figure(args.figure)
        print(f"figure: {args.figure}")
    if args.pack:
        print(f"packed: {pack(result, args.pack)}")
    return 0
