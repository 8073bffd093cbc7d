"""Training callbacks and the per-epoch history they see."""
import json

from ._atomic import atomic_file

#: The timed phases of a training step; the history has ``seconds_<phase>`` for each.
PHASES = ("forward", "backward", "update", "evolution", "evaluation")


class History(dict):
    """Per-epoch metrics, one list per key (``train_loss``, ``test_accuracy``, ``nnz``, ...)."""

    def append(self, row):
        for key, value in row.items():
            self.setdefault(key, []).append(value)

    @property
    def n_epochs(self):
        return len(self.get("epoch", []))

    def last(self):
        """The latest epoch's row as a dict."""
        return {key: values[-1] for key, values in self.items() if values}

    def to_json(self, path=None):
        """The history as JSON text (and written to ``path`` when given, atomically)."""
        text = json.dumps(self, indent=1, default=float)
        if path is not None:
            with atomic_file(path) as temp, open(temp, "w", encoding="utf-8") as handle:
                handle.write(text)
        return text


class Callback:
    """Hooks called by :func:`fit`; override the ones you need.

    Set ``model.stop_training_ = True`` from any hook to stop after the current batch.
    """

    def on_train_begin(self, model):
        pass

    def on_epoch_begin(self, model, epoch):
        pass

    def on_batch_end(self, model, epoch, batch, logs):
        """``logs``: ``loss``, ``accuracy``, ``n_batches`` of the batch just trained."""

    def before_evolution(self, model, epoch):
        """After the last batch of an epoch, before the topology changes."""

    def on_epoch_end(self, model, epoch, logs):
        """After evolution and evaluation; ``logs`` is the epoch's history row."""

    def on_train_end(self, model):
        pass
