"""Progress of a training run, shared by the command line and the notebooks.

:class:`Throttle` keeps updates few; :class:`BatchProgress` counts the batches of a run and
asks for a redraw at most every ``seconds``. Every progress display builds on it: the
terminal bar (:class:`setcourse.cli.TerminalProgress`), the notebook bar
(:class:`setcourse.widgets.progress.TrainingProgress`) and the dashboards' background
trainer. A foundation module: it imports neither ipywidgets nor the engine (the displays
mix it into a :class:`~setcourse.callbacks.Callback`).
"""
import time

__all__ = ["BatchProgress", "Throttle"]


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


class BatchProgress:
    """Counts the batches of a run of ``epochs`` epochs; calls :meth:`show_batch`, throttled.

    A mixin for training callbacks: ``class Bar(BatchProgress, Callback)``.

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
