"""Recorders for the sweep tests, importable on the workers as ``sweep_helpers:NAME`` (the
cluster fixture puts this folder on the workers' PYTHONPATH)."""
import os

from setcourse.callbacks import Callback


class EpochLog(Callback):
    """Records the epochs it saw."""

    def __init__(self, data, spec, tag="x"):
        self.tag = tag
        self.epochs = []

    def on_epoch_end(self, model, epoch, logs):
        self.epochs.append(int(epoch))

    def as_dict(self):
        return {"tag": self.tag, "epochs": self.epochs, "n_train": None}


class FailAtEpoch(EpochLog):
    """Raises at the end of epoch ``at``: a run that fails after some history exists."""

    def __init__(self, data, spec, at=1):
        super().__init__(data, spec)
        self.at = at

    def on_epoch_end(self, model, epoch, logs):
        if epoch == self.at:
            raise RuntimeError(f"injected failure at epoch {epoch}")


class ExitAtEpoch(EpochLog):
    """Kills its process at the end of epoch ``at`` (a worker that dies mid-run)."""

    def __init__(self, data, spec, at=0):
        super().__init__(data, spec)
        self.at = at

    def on_epoch_end(self, model, epoch, logs):
        if epoch == self.at:
            os._exit(17)

