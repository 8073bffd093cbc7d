"""Command line: ``python -m setcourse sweep --out DIR --set topology=set,fixprob --set
seed=0..4 --epochs 400``.

``add_parser(subparsers)`` registers the ``sweep`` command on the main CLI; ``run(args)``
executes it and returns the exit status (0: every run finished, 1: some failed).

``--set KEY=VALUES`` takes one value (the same in every run) or several, comma-separated (an
axis of the grid; the axes multiply in the order given). Values are JSON where they parse as
JSON (``0.05``, ``true``, ``null``, ``[1000,1000]``), text otherwise; ``A..B`` is the integers
A to B inclusive; commas inside brackets belong to the value: ``--set hidden=[16],[32,32]``
is two values. Any key of a run spec works: the data keys, ``recorders`` and every parameter
of :class:`setcourse.MLP`. ``--grid FILE.json`` reads a grid (``{"base": {...}, "vary":
{...}, "overrides": [{"when": {...}, "set": {...}}]}``, a list of grids and specs, or
``{"runs": [...]}``); the shorthands and ``--set`` apply on top of every run of it.
"""
import argparse
import json
import re
import sys

__all__ = ["add_parser", "run", "parse_assignment", "parse_values", "grid_from_args", "main"]

RANGE = re.compile(r"^(-?\d+)\.\.(-?\d+)$")


def split_top_level(text):
    """Split at the commas outside brackets and quotes."""
    parts, depth, quote, current = [], 0, None, []
    for char in text:
        if quote:
            quote = None if char == quote else quote
        elif char in "\"'":
            quote = char
        elif char in "[{(":
            depth += 1
        elif char in "]})":
            depth -= 1
        elif char == "," and depth == 0:
            parts.append("".join(current))
            current = []
            continue
        current.append(char)
    parts.append("".join(current))
    return parts


def parse_values(text):
    """The values of ``--set KEY=TEXT`` (see the module doc)."""
    values = []
    for token in split_top_level(text):
        token = token.strip()
        if not token:
            raise ValueError(f"empty value in {text!r}")
        match = RANGE.match(token)
        if match:
            first, last = int(match.group(1)), int(match.group(2))
            if last < first:
                raise ValueError(f"range {token!r} is empty (A..B needs A <= B)")
            values.extend(range(first, last + 1))
            continue
        try:
            values.append(json.loads(token))
        except ValueError:
            values.append(token)
    return values


def parse_assignment(text):
    """``"KEY=VALUES"`` -> ``(key, [values])`` (argparse type of ``--set``)."""
    key, sep, values = text.partition("=")
    key = key.strip()
    if not sep or not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", key):
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE[,VALUE...], got {text!r}")
    try:
        return key, parse_values(values)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"{text!r}: {error}") from None


def _hidden(text):
    try:
        values = [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") \
            from None
    if not values or min(values) <= 0:
        raise argparse.ArgumentTypeError(f"hidden sizes must be positive, got {text!r}")
    return values


def add_parser(subparsers):
    """Add the ``sweep`` command to an argparse ``subparsers`` object; returns its parser."""
    parser = subparsers.add_parser(
        "sweep", help="run a grid of models x seeds x hyper-parameters on Dask",
        description="Run every combination of the --set values (and/or a --grid file) as "
                    "independent Dask tasks, on a local cluster (one process per core) or on "
                    "the cluster of --scheduler. Each run is written to OUT/runs/<run_id>/ "
                    "when it finishes; a rerun skips the finished runs.",
        epilog="example: python -m setcourse sweep --out runs/fmnist --dataset fashion_mnist "
               "--n-train 5000 --n-test 1000 --preprocess scale --hidden 1000,1000,1000 "
               "--set topology=set,fixprob --set seed=0..4 --set lr=0.05 --epochs 400",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, metavar="DIR", help="results folder")
    grid = parser.add_argument_group("the runs")
    grid.add_argument("--grid", metavar="FILE.json", help="a grid or list of run specs (JSON)")
    grid.add_argument("--set", dest="assignments", action="append", default=[],
                      type=parse_assignment, metavar="KEY=V1[,V2...]",
                      help="a spec key: one value (fixed) or several (an axis); repeatable")
    grid.add_argument("--dataset", help="data set (e.g. fashion_mnist, digits, or FILE.npz)")
    grid.add_argument("--n-train", type=int, help="training samples (stratified subset)")
    grid.add_argument("--n-test", type=int, help="test samples (stratified subset)")
    grid.add_argument("--preprocess", choices=["standardize", "scale", "none"])
    grid.add_argument("--hidden", type=_hidden, metavar="N,N,...", help="hidden sizes")
    grid.add_argument("--epochs", type=int)
    grid.add_argument("--recorder", dest="recorders", action="append", metavar="NAME",
                      help="per-epoch extra of every run (e.g. feature_selection, or "
                           "package.module:factory); repeatable")
    where = parser.add_argument_group("where they run")
    where.add_argument("--workers", type=int, metavar="N",
                       help="worker processes of the local cluster (default: one per core)")
    where.add_argument("--scheduler", metavar="ADDRESS",
                       help="use the Dask cluster of this scheduler (tcp://host:8786)")
    where.add_argument("--threads-per-run", type=int, default=1, metavar="N",
                       help="numba and BLAS threads of each run (default 1)")
    where.add_argument("--dashboard-address", default=":8787",
                       help="the local cluster's dashboard (default :8787; :0 any free port)")
    what = parser.add_argument_group("what to do")
    what.add_argument("--no-retry-failed", dest="retry_failed", action="store_false",
                      help="keep failed runs as they are instead of running them again")
    what.add_argument("--list", action="store_true",
                      help="list the runs and their status; run nothing")
    what.add_argument("--aggregate", action="store_true",
                      help="print mean ± sd of the finished runs of the grid (all runs in "
                           "OUT without --set/--grid); run nothing")
    what.add_argument("--by", type=lambda text: [k for k in text.split(",") if k],
                      metavar="KEY,...", help="group keys of the table (default: the keys "
                                              "that vary, except seed)")
    what.add_argument("--progress", default="auto", choices=["auto", "bar", "lines", "none"])
    parser.set_defaults(run=run)
    return parser


def grid_from_args(args):
    """The run specs the arguments describe (a list of dicts)."""
    from .grid import Grid, as_specs
    if args.grid:
        with open(args.grid, encoding="utf-8") as handle:
            try:
                base_specs = as_specs(Grid.from_json(json.load(handle)))
            except json.JSONDecodeError as error:
                raise ValueError(f"{args.grid}: not valid JSON ({error})") from None
    else:
        base_specs = [{}]
    fixed = {}
    shorthands = {"dataset": args.dataset, "n_train": args.n_train, "n_test": args.n_test,
                  "preprocess": None if args.preprocess == "none" else args.preprocess,
                  "hidden": args.hidden, "epochs": args.epochs, "recorders": args.recorders}
    fixed.update({key: value for key, value in shorthands.items() if value is not None})
    if args.preprocess == "none":
        fixed["preprocess"] = None
    axes = {}
    seen = set()
    for key, values in args.assignments:
        if key in seen:
            raise ValueError(f"--set {key}=... is given twice; list all its values once")
        seen.add(key)
        if len(values) == 1:
            fixed[key] = values[0]
            axes.pop(key, None)
        else:
            axes[key] = values
            fixed.pop(key, None)
    overlay = Grid(base=fixed, vary=axes).specs()
    return as_specs([{**spec, **extra} for spec in base_specs for extra in overlay])


def run(args):
    """Execute a parsed ``sweep`` command; returns the exit status."""
    from .aggregate import aggregate, format_table
    from .grid import run_id, varying_keys
    from .store import all_summaries, read_summary
    described = bool(args.grid or args.assignments or any(
        getattr(args, key) is not None for key in
        ("dataset", "n_train", "n_test", "preprocess", "hidden", "epochs", "recorders")))
    if args.aggregate:
        if described:
            summaries = [s for s in (read_summary(args.out, run_id(spec))
                                     for spec in grid_from_args(args)) if s]
        else:
            summaries = all_summaries(args.out)
        print(format_table(aggregate(summaries, by=args.by)))
        return 0
    if not described:
        raise ValueError("say which runs: --set KEY=V1,V2 ..., shorthands such as --epochs, "
                         "or --grid FILE.json")
    specs = grid_from_args(args)
    if args.list:
        shown = varying_keys(specs)
        for spec in specs:
            summary = read_summary(args.out, run_id(spec))
            status = "pending" if summary is None else summary.get("status", "?")
            keys = " ".join(f"{key}={_text(spec[key])}" for key in shown if key in spec)
            print(f"{status:8s} {run_id(spec)}  {keys}")
        print(f"{len(specs)} runs")
        return 0
    from .runner import run_sweep
    try:
        results = run_sweep(specs, args.out, n_workers=args.workers,
                            scheduler_address=args.scheduler,
                            threads_per_run=args.threads_per_run, retry_failed=args.retry_failed,
                            progress=None if args.progress == "none" else args.progress,
                            dashboard_address=args.dashboard_address)
    except KeyboardInterrupt:
        print("\ninterrupted: the runs that finished are kept; the same command resumes",
              file=sys.stderr)
        return 130
    if results.ok:
        print(format_table(aggregate(results, by=args.by)))
    for summary in results.failed:
        print(f"failed: {summary['run_id']}: {summary.get('error')} "
              f"(traceback in {args.out}/runs/{summary['run_id']}/error.txt)", file=sys.stderr)
    return 1 if results.failed else 0


def _text(value):
    return value if isinstance(value, str) else json.dumps(value)


def main(argv=None):
    """Stand-alone entry point: ``python -m setcourse.sweep.cli --out DIR ...``."""
    parser = argparse.ArgumentParser(prog="setcourse")
    add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["sweep", *(sys.argv[1:] if argv is None else argv)])
    try:
        return args.run(args)
    except (ValueError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
