"""Progress of a training run, shared by the command line and the notebooks (no ipywidgets here).

:class:`Throttle` keeps updates few; :class:`BatchProgress` is the callback both progress bars
build on (it counts the batches of a run and asks for a redraw at most every ``seconds``);
:class:`TerminalProgress` is the command line's bar. The notebook bar is
:class:`setcourse.widgets.progress.TrainingProgress`, built on the same base.
"""
import sys
import time

from .callbacks import Callback

__all__ = ["BatchProgress", "TerminalProgress", "Throttle"]


class Throttle:
    """Says yes at most every ``seconds`` (or when forced): keeps display updates few.

    A progress bar updated on every batch sends thousands of messages per run; a notebook
    kernel's output queue then drops some (and a dropped "idle" leaves the cell looking busy
    forever), and a terminal spends its time redrawing.
    """

    def __init__(self, seconds=0.1):
        self.seconds = seconds
        self._last = float("-inf")

    def __call__(self, force=False):
        now = time.monotonic()
        if force or now - self._last >= self.seconds:
            self._last = now
            return True
        return False


class BatchProgress(Callback):
    """Counts the batches of a run of ``epochs`` epochs; calls :meth:`show_batch`, throttled.

    Subclasses draw in ``show_batch(model, epoch, done, total, logs)``: ``done`` batches of
    ``total`` over the whole run (``epoch`` counts from the first epoch of this ``fit``), so
    the last batch of every epoch is always shown.
    """

    def __init__(self, epochs, seconds=0.1):
        self.epochs = epochs
        self._throttle = Throttle(seconds)
        self._first_epoch = 0

    def on_train_begin(self, model):
        self._first_epoch = model.epoch_

    def on_batch_end(self, model, epoch, batch, logs):
        n_batches = logs["n_batches"]
        if self._throttle(force=batch + 1 == n_batches):
            run_epoch = epoch - self._first_epoch
            self.show_batch(model, run_epoch, run_epoch * n_batches + batch + 1,
                            self.epochs * n_batches, logs)

    def show_batch(self, model, epoch, done, total, logs):
        """Draw the progress: ``done`` of ``total`` batches, in epoch ``epoch`` of this run."""


class TerminalProgress(BatchProgress):
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
