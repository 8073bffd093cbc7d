"""Training in the background behind Train/Stop buttons: the base of the SET dashboard and the
algorithm chooser.

Training started by a button runs in a background thread so that Stop works and the kernel
stays responsive; ``display()`` trains once in the foreground with the defaults, so a headless
run (nbval, nbconvert) ends with a trained model and its plots.

Drawing never holds up training: at the end of each epoch the training thread takes a cheap
snapshot (``_snapshot``: copies of a few arrays) and hands it to a drawing thread
(:class:`Drawer`), which renders the latest one (``_render``) and skips snapshots that were
overtaken while it drew. The status line's s/epoch is the training time recorded by the
engine (``seconds_epoch``: training, evaluation and evolution), never the drawing. The
figures are pyplot-free (:func:`setcourse.plots.new_figure`), so drawing from a thread is safe.
"""
import html
import threading
import time

import ipywidgets as widgets
import numpy as np

from .._validation import check_features, check_labels
from ..callbacks import Callback
from ..progress import BatchProgress

__all__ = ["BACKGROUND_NOTE", "BackgroundTrainer", "Drawer", "TrainerHooks", "check_data",
           "layers_text", "training_size_slider"]

#: Said in the dashboards: JupyterLab's kernel indicator cannot see a background thread.
BACKGROUND_NOTE = ("Training runs in the background: the kernel indicator says Idle meanwhile, "
                   "and you can keep using the notebook; this line and the plots show the run.")


class Drawer:
    """A thread that renders the latest submitted snapshot, dropping those overtaken.

    ``render(snapshot)`` runs in the drawing thread; ``flush()`` waits until everything
    submitted so far is drawn. ``seconds_`` keeps the duration of every render.
    """

    def __init__(self, render):
        self.render = render
        self.seconds_ = []
        self.error_ = None
        self._condition = threading.Condition()
        self._pending = None
        self._has_pending = False
        self._drawing = False
        self._thread = None

    def submit(self, snapshot):
        with self._condition:
            self._pending, self._has_pending = snapshot, True
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._loop, name="setcourse-drawing",
                                                daemon=True)
                self._thread.start()
            self._condition.notify_all()

    def flush(self, timeout=30):
        """Block until the drawing thread is idle with nothing pending; True if it is."""
        deadline = time.monotonic() + timeout
        with self._condition:
            while self._has_pending or self._drawing:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._condition.wait(left)
        return True

    def _loop(self):
        while True:
            with self._condition:
                while not self._has_pending:
                    self._condition.wait()
                snapshot, self._pending, self._has_pending = self._pending, None, False
                self._drawing = True
            started = time.perf_counter()
            try:
                self.render(snapshot)
            except Exception as error:  # kept for the status line; drawing goes on
                self.error_ = error
            finally:
                self.seconds_.append(time.perf_counter() - started)
                with self._condition:
                    self._drawing = False
                    self._condition.notify_all()


def layers_text(model):
    """``784-1000-10``: the layer sizes of ``model``."""
    return "-".join(str(size) for size in [model.layers_[0].n_in]
                    + [layer.n_out for layer in model.layers_])


class TrainerHooks(BatchProgress, Callback):
    """The callback of one background run: status line, progress bar, Stop, redraw per epoch."""

    def __init__(self, trainer, run, epochs, description):
        super().__init__(epochs)
        self.trainer, self.run, self.description = trainer, run, description

    def on_train_begin(self, model):
        super().on_train_begin(model)
        self.trainer._draw(model)  # the initial topology, before the first epoch

    def on_epoch_begin(self, model, epoch):
        self.trainer._epoch_clock = time.perf_counter()
        if self.trainer._stop_requested:  # keep "stopping…" on screen
            return
        seconds = model.history_.get("seconds_epoch") or []
        timing = (f" · training {np.mean(seconds[-5:]):.2f} s/epoch"
                  if seconds else "")
        self.trainer._show_status(f"Run {self.run} · Training epoch {epoch + 1}/{self.epochs}"
                                  f"{timing} · {self.description}")

    def show_batch(self, model, epoch, done, total, logs):
        self.trainer.progress.max = total
        self.trainer.progress.value = done

    def on_batch_end(self, model, epoch, batch, logs):
        super().on_batch_end(model, epoch, batch, logs)
        if self.trainer._stop_requested:
            model.stop_training_ = True
            return
        self.trainer._after_batch(model, epoch - self._first_epoch, batch, logs["n_batches"])

    def on_epoch_end(self, model, epoch, logs):
        self.trainer._draw(model)


class BackgroundTrainer:
    """Train/Stop buttons, a progress bar and a status line around a background training run.

    Subclasses provide ``_make_run()`` → (model, fit kwargs, description) and the drawing hooks.
    """

    def _snapshot(self, model):
        """What ``_render`` needs, copied in the training thread (default: the model)."""
        return model

    def _render(self, snapshot):
        """Draw ``snapshot`` (in the drawing thread)."""

    def _draw(self, model):
        """Hand this moment of the run to the drawing thread (returns at once)."""
        self._drawer.submit(self._snapshot(model))

    def _after_batch(self, model, epoch, batch, n_batches):
        """Called in the training thread after every batch (``epoch`` counted in this run)."""

    def _build_controls(self):
        self.train_button = widgets.Button(description="Train", button_style="primary",
                                           icon="play")
        self.train_button.add_class("setcourse-train")
        self.stop_button = widgets.Button(description="Stop", button_style="warning",
                                          icon="stop", disabled=True)
        self.stop_button.add_class("setcourse-stop")
        self.progress = widgets.IntProgress(value=0, min=0, max=1, description="progress")
        self.progress.add_class("setcourse-progress")
        self.status = widgets.HTML("Ready: press Train.")
        self.status.add_class("setcourse-status")
        self.train_button.on_click(self._on_train_click)
        self.stop_button.on_click(self._on_stop_click)
        self.background_note = widgets.HTML(
            f"<small><b>Note:</b> {html.escape(BACKGROUND_NOTE)}</small>")
        self.background_note.add_class("setcourse-background-note")
        self._drawer = Drawer(self._render)
        self._lock = threading.Lock()
        self._thread = None
        self._epoch_clock = time.perf_counter()
        self._busy = False
        self._stop_requested = False
        self._note = ""
        self._status_text = "Ready: press Train."
        self.runs_ = 0
        self.error_ = None

    # public control -----------------------------------------------------------------------
    @property
    def is_training(self):
        """Whether a run is in progress."""
        return self._busy

    def train(self, background=True):
        """Start a run with the current control values; returns False if one is running.

        ``background=False`` trains in the calling thread (what ``display()`` does).
        """
        with self._lock:
            if self._busy:
                self._note = " · ⚠ already training: wait for this run or press Stop first"
                self._show_status(self._status_text)
                return False
            self._busy = True
            self._stop_requested = False
            self._note = ""
            self.runs_ += 1
        self.train_button.disabled = True
        self.stop_button.disabled = False
        if background:
            self._thread = threading.Thread(target=self._run, args=(False,),
                                            name="setcourse-training", daemon=True)
            self._thread.start()
        else:
            self._run(raise_errors=True)
        return True

    def stop(self):
        """Ask the running training to stop after its current batch."""
        if self._busy:
            self._stop_requested = True
            self._show_status(self._status_text + " · stopping…")

    def wait(self, timeout=None):
        """Block until the background run (if any) ends; returns True if nothing is running."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
        self._drawer.flush(30 if timeout is None else timeout)
        return not self._busy

    def _on_train_click(self, _button=None):
        self.train()

    def _on_stop_click(self, _button=None):
        self.stop()

    # the run ------------------------------------------------------------------------------
    def _show_status(self, text):
        self._status_text = text
        self.status.value = html.escape(text + self._note)

    def _run(self, raise_errors):
        run = self.runs_
        model = None
        try:
            model, fit_kwargs, description = self._make_run()
            epochs = self._planned_epochs = fit_kwargs["epochs"]
            self._description = description
            self.progress.value = 0
            self._show_status(f"Run {run} · Training epoch 1/{epochs} · {description}")
            started = time.perf_counter()
            model.fit(callbacks=[*self._callbacks(), TrainerHooks(self, run, epochs, description)],
                      **fit_kwargs)
            self.wall_seconds_ = time.perf_counter() - started
            self.model_ = model
            self._finished(model, run, float(np.sum(model.history_["seconds_epoch"])))
            self._drawer.flush()
        except Exception as error:  # shown to the student instead of dying silently in a thread
            self.error_ = error
            self._show_status(f"Run {run} · Error: {type(error).__name__}: {error}")
            if raise_errors:
                raise
        finally:
            with self._lock:
                self._busy = False
            self.train_button.disabled = False
            self.stop_button.disabled = True

    def _callbacks(self):
        """Extra callbacks of a run (recorders), created per run."""
        return []

    def _finished(self, model, run, seconds):
        """``seconds``: training time of the run as the engine measured it (no drawing)."""
        history = model.history_
        n_epochs = history.n_epochs
        accuracy = 100 * history["test_accuracy"][-1]
        if history["stopped"][-1]:
            done = f"Stopped by you in epoch {n_epochs} of {self._planned_epochs}"
        else:
            done = f"Finished {n_epochs} epoch{'s' if n_epochs != 1 else ''}"
        self._show_status(
            f"Run {run} · {done} · test accuracy {accuracy:.1f}% · nnz={sum(model.nnz_)} · "
            f"layers={layers_text(model)} · training {seconds / max(n_epochs, 1):.2f} s/epoch")
        self._note = ""
        self._show_status(self._status_text)

    def display(self, autorun=True):
        """Show the widget; with ``autorun`` train once now, in the foreground, with the defaults."""
        from IPython.display import display
        display(self.widget)
        if autorun:
            self.train(background=False)

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)


def check_data(X_train, y_train, X_test, y_test):
    X_train = check_features(X_train, name="X_train")
    X_test = check_features(X_test, X_train.shape[1], name="X_test")
    n_classes = int(max(np.max(y_train), np.max(y_test))) + 1
    y_train = check_labels(y_train, X_train.shape[0], n_classes, "y_train")
    y_test = check_labels(y_test, X_test.shape[0], n_classes, "y_test")
    return X_train, y_train, X_test, y_test, n_classes


def training_size_slider(n_samples, value):
    """Slider over nested training subsets: multiples of a round step up to ``n_samples``."""
    step = max(1, 10 ** int(np.floor(np.log10(max(n_samples, 10)))) // 10)
    low = min(n_samples, step)
    value = n_samples if value is None else int(np.clip(value, low, n_samples))
    return widgets.IntSlider(value=value, min=low, max=n_samples, step=step,
                             description="train size", continuous_update=False,
                             style={"description_width": "initial"})
