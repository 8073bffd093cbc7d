"""The shared progress logic: the throttle, and the batch counting every progress display uses."""
import io

from setcourse.cli import TerminalProgress
from setcourse.progress import BatchProgress, Throttle


def test_throttle_says_yes_once_per_interval_or_when_forced():
    throttle = Throttle(seconds=3600)
    assert throttle() is True
    assert throttle() is False
    assert throttle(force=True) is True


class Recorder(BatchProgress):
    def __init__(self, epochs):
        super().__init__(epochs, seconds=3600)
        self.shown = []

    def show_batch(self, model, epoch, done, total, logs):
        self.shown.append((epoch, done, total))


class Model:
    epoch_ = 5  # a model trained before: this fit's epochs count from 0 again


def test_batch_progress_counts_over_the_run_and_always_shows_the_last_batch():
    progress, model = Recorder(epochs=2), Model()
    progress.on_train_begin(model)
    for epoch in (5, 6):
        for batch in range(4):
            progress.on_batch_end(model, epoch, batch, {"n_batches": 4, "loss": 0.1})
    # The first batch passes the throttle, then only each epoch's last one (forced).
    assert progress.shown == [(0, 1, 8), (0, 4, 8), (1, 8, 8)]


def test_terminal_progress_draws_a_bar_only_on_a_terminal():
    class Terminal(io.StringIO):
        def isatty(self):
            return True
    for stream, drawn in ((Terminal(), True), (io.StringIO(), False)):
        progress = TerminalProgress(epochs=1, stream=stream)
        progress.on_train_begin(Model())
        progress.on_batch_end(Model(), 5, 1, {"n_batches": 2, "loss": 0.25})
        assert ("[" + "#" * 30 + "] 2/2 loss 0.250" in stream.getvalue()) is drawn
