"""Command line: ``python -m setcourse train|data|sweep ...``.

``train`` never throws a run away: every output path (``--save``, ``--history``,
``--monitor``) is checked before the data is loaded; the first Ctrl-C stops after the current
batch and still writes every output (exit 130), a second one aborts at once and writes the
history of the finished epochs; a diverged run writes that history too (exit 1).
"""
import argparse
import contextlib
import os
import signal
import sys
import tempfile
import time
import warnings
from pathlib import Path

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
    p.add_argument("--lr", type=float, default=0.05, help="learning rate (default: 0.05, the SET tutorial's)")
    p.add_argument("--momentum", type=float, default=0.9)
    p.add_argument("--weight-decay", type=float, default=2e-4)
    p.add_argument("--weight-decay-mode", default="decoupled", choices=["decoupled", "l2"],
                   help="decoupled: w <- w + v - decay * w every step (the SET tutorial's); "
                        "l2: decay * w added to the gradient (default: decoupled)")
    p.add_argument("--no-decay-biases", dest="decay_biases", action="store_false",
                   help="leave the biases undecayed (the tutorial decays them)")
    p.add_argument("--regrow-init", default="zero",
                   choices=["zero", "init", "dense_fan_in", "actual_fan_in"],
                   help="value of the connections SET regrows (default: zero)")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--init", default="actual_fan_in", help="actual_fan_in or dense_fan_in")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--n-train", type=int, help="training samples (stratified subset)")
    p.add_argument("--n-test", type=int, help="test samples (stratified subset)")
    p.add_argument("--subset", default="stratified", choices=["stratified", "tutorial"],
                   help="how --n-train/--n-test rows are picked: stratified, or the SET "
                        "tutorial's first rows after its shuffle (default: stratified)")
    p.add_argument("--data-seed", type=int, default=None,
                   help="seed of the subset (default: --seed; the tutorial keeps 0 for all seeds)")
    p.add_argument("--preprocess", default="scale",
                   choices=["standardize", "scale", "binarize", "none"],
                   help="per-feature z-score with training statistics, scaling to [0, 1], "
                        "scaling then 0/1 at 0.5 (binarize), or none")
    p.add_argument("--save", metavar="PATH", help="save the trained model (.npz)")
    p.add_argument("--history", metavar="PATH.json", help="write the per-epoch history as JSON")
    p.add_argument("--monitor", metavar="PATH.json",
                   help="sample CPU and memory while training; write the result as JSON")
    p.set_defaults(run=run_train)


OUTPUT_OPTIONS = (("save", "--save"), ("history", "--history"), ("monitor", "--monitor"))
INTERRUPTED, DIVERGED = 130, 1


class OutputPathError(ValueError):
    """An output path given on the command line cannot be written."""


def check_output_path(option, path):
    """Raise :class:`OutputPathError` unless a file can be written at ``path`` (nothing is left).

    The parent folder must exist and accept a new file (a temporary is created and removed,
    which also catches read-only file systems); ``path`` itself must not be a folder.
    """
    if not str(path).strip():
        raise OutputPathError(f"{option}: the path is empty")
    target = Path(path)
    if target.is_dir():
        raise OutputPathError(f"{option} {path}: is a folder; give a file name")
    folder = target.parent
    if not folder.exists():
        raise OutputPathError(f"{option} {path}: the folder {folder} does not exist")
    if not folder.is_dir():
        raise OutputPathError(f"{option} {path}: {folder} is not a folder")
    if target.exists() and not os.access(target, os.W_OK):
        raise OutputPathError(f"{option} {path}: the file exists and is not writable")
    try:
        handle, probe = tempfile.mkstemp(prefix=".setcourse-probe-", dir=folder)
    except OSError as error:
        raise OutputPathError(f"{option} {path}: cannot write in {folder} "
                              f"({error.strerror or error})") from None
    os.close(handle)
    os.unlink(probe)


def check_output_paths(args):
    """Check every output option of ``train`` before anything slow happens."""
    seen = {}
    for attribute, option in OUTPUT_OPTIONS:
        path = getattr(args, attribute, None)
        if path is None:
            continue
        check_output_path(option, path)
        key = os.path.realpath(path)
        if key in seen:
            raise OutputPathError(f"{seen[key]} and {option} both write {path}")
        seen[key] = option


class InterruptToStop(Callback):
    """While installed, the first Ctrl-C stops training after the current batch; a second aborts."""

    def __init__(self):
        self.requested = False
        self.previous = None

    def __enter__(self):
        try:
            self.previous = signal.signal(signal.SIGINT, self._handle)
        except ValueError:  # not the main thread: Ctrl-C stays a KeyboardInterrupt
            self.previous = None
        return self

    def __exit__(self, *exc):
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)
        return False

    def _handle(self, signum, frame):
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        print("\nstopping after this batch (Ctrl-C again to abort without saving the model)",
              file=sys.stderr, flush=True)

    def on_batch_end(self, model, epoch, batch, logs):
        if self.requested:
            model.stop_training_ = True


def default_history_path(args):
    """Where the history of an interrupted or diverged run goes without ``--history``."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    name = f"history-{args.dataset}-{args.model}-{stamp}.json"
    return name if os.access(".", os.W_OK) else os.path.join(tempfile.gettempdir(), name)


def finished_epochs(model):
    """The history of the epochs ``model`` finished (empty if it never started)."""
    from .callbacks import History
    return getattr(model, "history_", None) or History()


def write_partial_history(model, args):
    """Write the finished epochs' history after a failed run; returns a one-line report."""
    history = finished_epochs(model)
    if not history.n_epochs:
        return "no epoch finished: no history written"
    path = args.history or default_history_path(args)
    try:
        history.to_json(path)
    except OSError as error:
        return f"could not write the history to {path}: {error}"
    return f"history of the {history.n_epochs} finished epoch(s) written to {path}"


def run_train(args):
    check_output_paths(args)  # before loading data or training: a typo must not cost a run
    from .data import DATASETS, load
    from .data.sources import import_folder
    from .model import MLP
    if args.data_dir:
        # Same as `data import`: verified, then copied into the cache, where load finds it.
        import_folder(DATASETS[args.dataset], args.data_dir)
    data = load(args.dataset, n_train=args.n_train, n_test=args.n_test,
                seed=args.seed if args.data_seed is None else args.data_seed,
                preprocess=None if args.preprocess == "none" else args.preprocess,
                subset=args.subset)
    print(f"{data.name}: {len(data.y_train)} train / {len(data.y_test)} test samples, "
          f"{data.X_train.shape[1]} features (from {data.source})", flush=True)
    model = MLP(hidden=args.hidden, topology=args.model, epsilon=args.epsilon, zeta=args.zeta,
                dropout=args.dropout, activation=args.activation, loss=args.loss, lr=args.lr,
                momentum=args.momentum, weight_decay=args.weight_decay,
                weight_decay_mode=args.weight_decay_mode, decay_biases=args.decay_biases,
                regrow_init=args.regrow_init,
                batch_size=args.batch_size, epochs=args.epochs, init=args.init, seed=args.seed,
                n_classes=len(data.class_names))
    interrupt = InterruptToStop()
    callbacks = [TerminalProgress(args.epochs), interrupt]
    monitor = None
    if args.monitor:
        from .monitor import Monitor
        # Writes its JSON atomically when it stops, also if training raises or is interrupted.
        monitor = Monitor(interval=0.1, path=args.monitor)
        callbacks.append(monitor)
    try:
        with interrupt, monitor if monitor is not None else contextlib.nullcontext():
            model.fit(data.X_train, data.y_train, validation_data=(data.X_test, data.y_test),
                      callbacks=callbacks)
    except KeyboardInterrupt:  # the second Ctrl-C: the model is mid-update, not worth saving
        print(f"\ninterrupted: {write_partial_history(model, args)}; model not saved",
              file=sys.stderr)
        if monitor is not None:
            print(f"monitor written to {args.monitor}", file=sys.stderr)
        return INTERRUPTED
    except FloatingPointError as error:  # divergence: non-finite weights are not worth saving
        print(f"error: {error}; {write_partial_history(model, args)}; model not saved",
              file=sys.stderr)
        return DIVERGED
    if args.history:
        model.history_.to_json(args.history)
        print(f"history written to {args.history}")
    if monitor is not None:
        print(f"monitor written to {args.monitor}")
    if args.save:
        model.save(args.save)
        print(f"model saved to {args.save}")
    if interrupt.requested:
        if not args.history:
            print(write_partial_history(model, args))
        print(f"stopped by Ctrl-C after {model.history_.n_epochs} epoch(s) "
              "(the last one partial)", file=sys.stderr)
        return INTERRUPTED
    return 0


def build_parser():
    parser = argparse.ArgumentParser(prog="python -m setcourse",
                                     description="Sparse training course: train models, manage data.")
    subparsers = parser.add_subparsers(dest="command", required=True)
    add_train_parser(subparsers)
    from .data.cli import add_parser as add_data_parser
    add_data_parser(subparsers)
    from .sweep.cli import add_parser as add_sweep_parser
    add_sweep_parser(subparsers)
    from .reproduce.cli import add_parser as add_reproduce_parser
    add_reproduce_parser(subparsers)
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
    except KeyboardInterrupt:  # e.g. while the data loads: nothing trained, nothing lost
        print("\ninterrupted", file=sys.stderr)
        return INTERRUPTED
    except (ValueError, OSError, DataUnavailableError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
