"""Progress bars for long loops in the notebooks: one training run, or a loop over several."""
import time

import ipywidgets as widgets

from ..callbacks import Callback
from ..progress import BatchProgress

__all__ = ["TrainingProgress", "progress"]


class TrainingProgress(BatchProgress, Callback):
    """A progress bar and a one-line summary for ``model.fit`` in a notebook.

    Parameters
    ----------
    label : str
        Shown in front of the bar, e.g. ``"SET-MLP"``.
    epochs : int
        Number of epochs of the run (the bar counts batches over all of them).
    """

    def __init__(self, label, epochs):
        super().__init__(epochs)
        self.label = label
        self.bar = widgets.IntProgress(value=0, min=0, max=1, description=label,
                                       style={"description_width": "initial"})
        self.text = widgets.Label("starting…")
        self.widget = widgets.HBox([self.bar, self.text])
        self._shown = False

    def on_train_begin(self, model):
        if not self._shown:
            from IPython.display import display
            display(self.widget)
            self._shown = True
        super().on_train_begin(model)

    def show_batch(self, model, epoch, done, total, logs):
        self.bar.max = total
        self.bar.value = done

    def on_epoch_end(self, model, epoch, logs):
        self.text.value = (f"epoch {epoch - self._first_epoch + 1}/{self.epochs} · "
                           f"test accuracy {100 * logs['test_accuracy']:.1f}% · "
                           f"{logs['seconds_epoch']:.1f} s/epoch")


def progress(items, label="runs"):
    """Iterate over ``items`` while a progress bar counts them (for loops over several runs).

    Parameters
    ----------
    items : sized iterable
    label : str
        Shown in front of the bar.
    """
    from IPython.display import display
    items = list(items)
    bar = widgets.IntProgress(value=0, min=0, max=max(len(items), 1), description=label,
                              style={"description_width": "initial"})
    text = widgets.Label(f"0/{len(items)}")
    display(widgets.HBox([bar, text]))
    started = time.perf_counter()
    for index, item in enumerate(items):
        yield item
        bar.value = index + 1
        text.value = f"{index + 1}/{len(items)} · {time.perf_counter() - started:.0f} s"
