"""Command line: ``python -m setcourse train ...`` and ``python -m setcourse data ...``."""
import argparse
import contextlib
import sys
import warnings

from .evolution import STRATEGIES
from .callbacks import Callback
from .progress import BatchProgress


class TerminalProgress(BatchProgress, Callback):
    """A progress bar within each epoch (on a terminal) and one summary line per epoch."""

    width = 30

    def __init__(self, epochs, stream=None):
        super().__init__(epochs)
        self.stream = stream or sys.stderr
        self.bar = hasattr(self.stream, "isatty") and self.stream.isatty()

    def show_batch(self, model, epoch, done, total, logs):
        if not self.bar:
            return
        n_batches = logs["n_batches"]
        in_epoch = done - epoch * n_batches
        filled = int(self.width * in_epoch / n_batches)
        self.stream.write(f"\repoch {epoch + 1}/{self.epochs} "
                          f"[{'#' * filled}{'.' * (self.width - filled)}] "
                          f"{in_epoch}/{n_batches} loss {logs['loss']:.3f}")
        self.stream.flush()

    def on_epoch_end(self, model, epoch, logs):
        if self.bar:
            self.stream.write("\r" + " " * 79 + "\r")
        nnz = "+".join(str(n) for n in logs["nnz"])
        print(f"epoch {epoch + 1}/{self.epochs}  train loss {logs['train_loss']:.4f} "
              f"acc {logs['train_accuracy']:.4f}  test loss {logs['test_loss']:.4f} "
              f"acc {logs['test_accuracy']:.4f}  {logs['seconds_epoch']:.2f} s  nnz {nnz}",
              flush=True)


def positive_int_list(text):
    """Parse ``1000,1000,1000`` into a tuple of positive ints (argparse type)."""
    try:
        values = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None
    if not values or min(values) <= 0:
        raise argparse.ArgumentTypeError(f"hidden sizes must be positive, got {text!r}")
    return values


def add_train_parser(subparsers):
    from .data import DATASETS
    p = subparsers.add_parser("train", help="train a dense, FixProb or SET MLP",
                              description="Train an MLP and print one line per epoch.")
    p.add_argument("--model", default="set", choices=["dense", *STRATEGIES],
                   help="topology / evolution strategy (default: set)")
    p.add_argument("--dataset", default="fashion_mnist", choices=sorted(DATASETS),
                   help="dataset name (default: fashion_mnist)")
    p.add_argument("--data-dir", help="folder holding the dataset's files (e.g. IDX .gz)")
    p.add_argument("--hidden", type=positive_int_list, default=(1000, 1000, 1000),
                   help="hidden sizes, comma-separated (default: 1000,1000,1000)")
    p.add_argument("--epsilon", type=float, default=20.0, help="Erdős–Rényi ε (default: 20)")
    p.add_argument("--zeta", type=float, default=0.3, help="SET rewiring fraction ζ (default: 0.3)")
    p.add_argument("--dropout", type=float, default=0.3, help="dropout rate (default: 0.3)")
    p.add_argument("--activation", default="relu", help="relu, leaky_relu, all_relu, sigmoid, tanh")
    p.add_argument("--loss", default="cross_entropy", help="cross_entropy or mse")
    p.add_argument("--lr", type=float, default=0.01, help="learning rate (default: 0.01)")
    p.add_argument("--momentum", type=float, default=0.9)
    p.add_argument("--weight-decay", type=float, default=2e-4)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--init", default="actual_fan_in", help="actual_fan_in or dense_fan_in")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--n-train", type=int, help="training samples (stratified subset)")
    p.add_argument("--n-test", type=int, help="test samples (stratified subset)")
    p.add_argument("--preprocess", default="standardize", choices=["standardize", "scale", "none"],
                   help="per-feature z-score with training statistics, scaling to [0, 1], or none")
    p.add_argument("--save", metavar="PATH", help="save the trained model (.npz)")
    p.add_argument("--history", metavar="PATH.json", help="write the per-epoch history as JSON")
    p.add_argument("--monitor", metavar="PATH.json",
                   help="sample CPU and memory while training; write the result as JSON")
    p.set_defaults(run=run_train)


def run_train(args):
    from .data import DATASETS, load
    from .data.sources import import_folder
    from .model import MLP
    if args.data_dir:
        # Same as `data import`: verified, then copied into the cache, where load finds it.
        import_folder(DATASETS[args.dataset], args.data_dir)
    data = load(args.dataset, n_train=args.n_train, n_test=args.n_test, seed=args.seed,
                preprocess=None if args.preprocess == "none" else args.preprocess)
    print(f"{data.name}: {len(data.y_train)} train / {len(data.y_test)} test samples, "
          f"{data.X_train.shape[1]} features (from {data.source})", flush=True)
    model = MLP(hidden=args.hidden, topology=args.model, epsilon=args.epsilon, zeta=args.zeta,
                dropout=args.dropout, activation=args.activation, loss=args.loss, lr=args.lr,
                momentum=args.momentum, weight_decay=args.weight_decay,
                batch_size=args.batch_size, epochs=args.epochs, init=args.init, seed=args.seed,
                n_classes=len(data.class_names))
    callbacks = [TerminalProgress(args.epochs)]
    monitor = None
    if args.monitor:
        from .monitor import Monitor
        # Writes its JSON atomically when it stops, also if training raises or is interrupted.
        monitor = Monitor(interval=0.1, path=args.monitor)
        callbacks.append(monitor)
    with monitor if monitor is not None else contextlib.nullcontext():
        model.fit(data.X_train, data.y_train, validation_data=(data.X_test, data.y_test),
                  callbacks=callbacks)
    if args.history:
        model.history_.to_json(args.history)
        print(f"history written to {args.history}")
    if monitor is not None:
        print(f"monitor written to {args.monitor}")
    if args.save:
        model.save(args.save)
        print(f"model saved to {args.save}")
    return 0


def build_parser():
    parser = argparse.ArgumentParser(prog="python -m setcourse",
                                     description="Sparse training course: train models, manage data.")
    subparsers = parser.add_subparsers(dest="command", required=True)
    add_train_parser(subparsers)
    from .data.cli import add_parser as add_data_parser
    add_data_parser(subparsers)
    return parser


def _one_line_warning(message, category, filename, lineno, line=None):
    return f"note: {message}\n"


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    # Notices such as "this layer is dense" read as one line on a terminal, not a traceback.
    default_format, warnings.formatwarning = warnings.formatwarning, _one_line_warning
    try:
        return _run(args)
    finally:
        warnings.formatwarning = default_format


def _run(args):
    if args.command == "data":
        from .data.cli import run as run_data
        return run_data(args)
    from .data.errors import DataUnavailableError
    try:
        return args.run(args)
    except (ValueError, OSError, DataUnavailableError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
