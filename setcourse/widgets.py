"""The course's interactive widgets: the ε demo (01), the SET dashboard (02), the epoch
scrubber (03) and the algorithm chooser (04).

Figures are drawn on matplotlib's Agg canvas into PNG bytes shown by ``ipywidgets.Image``:
no front-end extension is needed, and drawing from the training thread is safe because no
pyplot state is touched. Training started by a button runs in a background thread so that
Stop works and the kernel stays responsive; ``display()`` trains once in the foreground with
the defaults, so a headless run (nbval, nbconvert) ends with a trained model and its plots.
"""
import html
import inspect
import io
import threading
import time

import ipywidgets as widgets
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from .evolution import STRATEGIES
from .model import MLP
from .nn.sparsity import erdos_renyi_density, n_connections
from ._validation import check_features, check_in_range, check_labels, check_positive_int
from .plots import plot_input_connectivity, plot_learning_curves
from .analysis.input_connectivity import as_image, input_connections
from .callbacks import Callback

__all__ = ["AlgorithmChooser", "EpochScrubber", "EpsilonDemo", "SETDashboard", "progress",
           "TrainingProgress", "figure_png", "sparsity_table"]

DPI = 80


# -- drawing ---------------------------------------------------------------------------------
def new_figure(width=5.0, height=3.2):
    """A pyplot-free Figure with an Agg canvas (safe to draw from any thread)."""
    figure = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def figure_png(figure, dpi=DPI):
    """PNG bytes of ``figure``; closes it if pyplot manages it (no figure leaks into the cell)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi)
    if getattr(figure.canvas, "manager", None) is not None:
        import matplotlib.pyplot as plt
        plt.close(figure)
    return buffer.getvalue()


def draw_nnz(layers, title="Connections per layer"):
    """Bar chart: connections of each layer next to what the dense layer would have."""
    figure = new_figure(4.2, 3.0)
    axes = figure.subplots()
    names = [f"{layer.n_in}→{layer.n_out}" for layer in layers]
    dense = [layer.n_in * layer.n_out for layer in layers]
    nnz = [layer.nnz for layer in layers]
    x = np.arange(len(layers))
    axes.bar(x, dense, 0.8, color="none", edgecolor="grey", hatch="//", label="dense")
    axes.bar(x, nnz, 0.5, color="tab:blue", label="this model")
    axes.set_yscale("log")
    axes.set_xticks(x, names, fontsize="small")
    axes.set(title=title, xlabel="layer (inputs→outputs)", ylabel="connections (count, log scale)")
    axes.legend(fontsize="small", loc="lower left")
    return figure


def connectivity_png(counts, image_shape=None, title=None, vmax=None):
    """PNG of :func:`setcourse.plots.plot_input_connectivity`, colour scale fixed to ``[0, vmax]``."""
    figure = plot_input_connectivity(np.asarray(counts), image_shape=image_shape, title=title)
    if vmax is not None:
        for axes in figure.axes:
            for image in axes.images:
                image.set_clim(0, vmax)
            if not axes.images and axes.patches:
                axes.set_ylim(0, vmax)
    return figure_png(figure)


def layers_text(model):
    """``784-1000-10``: the layer sizes of ``model``."""
    return "-".join(str(size) for size in [model.layers_[0].n_in]
                    + [layer.n_out for layer in model.layers_])


# -- module 01: ε → density, parameters and memory --------------------------------------------
def sparsity_table(sizes, epsilon):
    r"""Per layer of an Erdős–Rényi MLP: probability, connections and bytes, sparse vs dense.

    A layer with :math:`p = \varepsilon (n_{in} + n_{out}) / (n_{in} n_{out}) \ge 1` is dense.
    Sparse bytes count what :class:`~setcourse.nn.layers.SparseLayer` stores: float32 values
    and int32 column indices per connection, int32 row pointers and the float32 bias.

    Parameters
    ----------
    sizes : sequence of int, e.g. ``(784, 1000, 1000, 1000, 10)``
    epsilon : float > 0

    Returns
    -------
    list of dict with keys ``n_in, n_out, p, sparse, connections, dense_connections, bytes,
    dense_bytes``, one per layer.
    """
    check_in_range("epsilon", epsilon, 0, None, low_open=True)
    sizes = [int(s) for s in sizes]
    if len(sizes) < 2 or min(sizes) < 1:
        raise ValueError(f"sizes must list at least 2 positive layer sizes; got {sizes!r}")
    rows = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        p = erdos_renyi_density(epsilon, n_in, n_out)
        dense_bytes = 4 * (n_in * n_out + n_out)
        if p >= 1:
            connections, stored = n_in * n_out, dense_bytes
        else:
            connections = n_connections(p, n_in, n_out)
            indptr = 4 if connections < 2**31 else 8
            stored = 8 * connections + indptr * (n_out + 1) + 4 * n_out
        rows.append(dict(n_in=n_in, n_out=n_out, p=min(p, 1.0), sparse=p < 1,
                         connections=connections, dense_connections=n_in * n_out,
                         bytes=stored, dense_bytes=dense_bytes))
    return rows


def _megabytes(n_bytes):
    return f"{n_bytes / 1e6:,.2f} MB"


class EpsilonDemo:
    """An ε slider that shows each layer's density, parameter count and memory, live.

    Parameters
    ----------
    sizes : sequence of int
        Layer sizes from input to output.
    epsilon : float
        Initial ε.
    """

    def __init__(self, sizes=(784, 1000, 1000, 1000, 10), epsilon=20.0):
        self.sizes = tuple(int(s) for s in sizes)
        sparsity_table(self.sizes, epsilon)  # validates
        self.slider = widgets.FloatSlider(value=epsilon, min=1, max=200, step=1,
                                          description="ε", readout_format=".0f",
                                          continuous_update=True)
        self.slider.add_class("setcourse-epsilon")
        self.table = widgets.HTML()
        self.chart = widgets.Image(format="png")
        self.slider.observe(self._update, names="value")
        self.widget = widgets.VBox([self.slider, widgets.HBox([self.table, self.chart])])
        self._update()

    def _update(self, _change=None):
        rows = sparsity_table(self.sizes, self.slider.value)
        self.rows_ = rows
        cells = "".join(
            f"<tr><td>{r['n_in']}→{r['n_out']}</td><td>{r['p']:.4f}</td>"
            f"<td>{r['connections']:,}</td><td>{r['dense_connections']:,}</td>"
            f"<td>{_megabytes(r['bytes'])}</td><td>{_megabytes(r['dense_bytes'])}</td></tr>"
            for r in rows)
        total = sum(r["connections"] for r in rows)
        dense = sum(r["dense_connections"] for r in rows)
        stored = sum(r["bytes"] for r in rows)
        dense_bytes = sum(r["dense_bytes"] for r in rows)
        self.table.value = (
            "<table><tr><th>layer</th><th>density p</th><th>connections</th>"
            "<th>dense</th><th>memory</th><th>dense memory</th></tr>" + cells
            + f"<tr><th>total</th><th>{total / dense:.4f}</th><th>{total:,}</th><th>{dense:,}</th>"
            f"<th>{_megabytes(stored)}</th><th>{_megabytes(dense_bytes)}</th></tr></table>"
            f"<p>The sparse model stores <b>{stored / dense_bytes:.1%}</b> of the dense "
            f"model's bytes ({dense_bytes / stored:.1f}× less).</p>")
        figure = new_figure(4.4, 3.0)
        axes = figure.subplots()
        x = np.arange(len(rows))
        axes.bar(x - 0.2, [r["dense_bytes"] / 1e6 for r in rows], 0.4, label="dense", color="grey")
        axes.bar(x + 0.2, [r["bytes"] / 1e6 for r in rows], 0.4, label="sparse (CSR)")
        axes.set_xticks(x, [f"{r['n_in']}→{r['n_out']}" for r in rows], fontsize="small")
        axes.set(title=f"Parameter memory per layer, ε = {self.slider.value:.0f}",
                 xlabel="layer (inputs→outputs)", ylabel="memory (MB)")
        axes.legend(fontsize="small")
        self.chart.value = figure_png(figure)

    def display(self):
        """Show the demo."""
        from IPython.display import display
        display(self.widget)

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)


# -- progress for long loops in the notebooks ----------------------------------------------------
class Throttle:
    """Says yes at most every ``seconds`` (or when forced): keeps widget updates few.

    A progress bar updated on every batch sends thousands of messages per run; the kernel's
    output queue then drops some, and a dropped "idle" leaves the cell looking busy forever.
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


class TrainingProgress(Callback):
    """A progress bar and a one-line summary for ``model.fit`` in a notebook.

    Parameters
    ----------
    label : str
        Shown in front of the bar, e.g. ``"SET-MLP"``.
    epochs : int
        Number of epochs of the run (the bar counts batches over all of them).
    """

    def __init__(self, label, epochs):
        self.label = label
        self.epochs = epochs
        self.bar = widgets.IntProgress(value=0, min=0, max=1, description=label,
                                       style={"description_width": "initial"})
        self.text = widgets.Label("starting…")
        self.widget = widgets.HBox([self.bar, self.text])
        self._shown = False
        self._throttle = Throttle()

    def on_train_begin(self, model):
        if not self._shown:
            from IPython.display import display
            display(self.widget)
            self._shown = True
        self._first_epoch = model.epoch_

    def on_batch_end(self, model, epoch, batch, logs):
        n_batches = logs["n_batches"]
        if self._throttle(force=batch + 1 == n_batches):
            self.bar.max = self.epochs * n_batches
            self.bar.value = (epoch - self._first_epoch) * n_batches + batch + 1

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


# -- modules 02 and 04: training in the background ------------------------------------------------
class _BackgroundTrainer:
    """Train/Stop buttons, a progress bar and a status line around a background training run.

    Subclasses provide ``_make_run()`` → (model, fit kwargs, description) and the drawing hooks.
    """

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
        self._lock = threading.Lock()
        self._thread = None
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
            trainer = self
            throttle = Throttle()

            class _Hooks(Callback):
                def on_epoch_begin(self, model, epoch):
                    trainer._show_status(
                        f"Run {run} · Training epoch {epoch + 1}/{epochs} · {description}")

                def on_batch_end(self, model, epoch, batch, logs):
                    if throttle(force=batch + 1 == logs["n_batches"]):
                        trainer.progress.max = epochs * logs["n_batches"]
                        trainer.progress.value = epoch * logs["n_batches"] + batch + 1
                    if trainer._stop_requested:
                        model.stop_training_ = True

                def on_epoch_end(self, model, epoch, logs):
                    trainer._draw(model)

            started = time.perf_counter()
            model.fit(callbacks=[_Hooks()], **fit_kwargs)
            seconds = time.perf_counter() - started
            self.model_ = model
            self._finished(model, run, seconds)
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

    def _finished(self, model, run, seconds):
        history = model.history_
        n_epochs = history.n_epochs
        accuracy = 100 * history["test_accuracy"][-1]
        if history["stopped"][-1]:
            done = f"Stopped by you in epoch {n_epochs} of {self._planned_epochs}"
        else:
            done = f"Finished {n_epochs} epoch{'s' if n_epochs != 1 else ''}"
        self._show_status(
            f"Run {run} · {done} · test accuracy {accuracy:.1f}% · nnz={sum(model.nnz_)} · "
            f"layers={layers_text(model)} · {seconds / max(n_epochs, 1):.2f} s/epoch")
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


def _check_data(X_train, y_train, X_test, y_test):
    X_train = check_features(X_train, name="X_train")
    X_test = check_features(X_test, X_train.shape[1], name="X_test")
    n_classes = int(max(np.max(y_train), np.max(y_test))) + 1
    y_train = check_labels(y_train, X_train.shape[0], n_classes, "y_train")
    y_test = check_labels(y_test, X_test.shape[0], n_classes, "y_test")
    return X_train, y_train, X_test, y_test, n_classes


def _training_size_slider(n_samples, value):
    """Slider over nested training subsets: multiples of a round step up to ``n_samples``."""
    step = max(1, 10 ** int(np.floor(np.log10(max(n_samples, 10)))) // 10)
    low = min(n_samples, step)
    value = n_samples if value is None else int(np.clip(value, low, n_samples))
    return widgets.IntSlider(value=value, min=low, max=n_samples, step=step,
                             description="train size", continuous_update=False,
                             style={"description_width": "initial"})


class SETDashboard(_BackgroundTrainer):
    """Train a SET-MLP with sliders for ε, ζ, dropout, learning rate, epochs and data size.

    Every epoch redraws the learning curves, the connections per layer and the input
    connectivity. The controls carry the CSS classes of the course's DOM contract
    (``setcourse-epsilon``, ``setcourse-train``, ``setcourse-status``, ...).

    Parameters
    ----------
    X_train, y_train, X_test, y_test : arrays
        Batch-major features ``(n_samples, n_features)`` and int labels.
    image_shape : tuple, optional
        Shape of one input image (e.g. ``(28, 28)``) for the input-connectivity map.
    hidden : tuple of int
        Hidden layer sizes.
    epsilon, zeta, dropout, lr : float
        Initial slider values (see :class:`~setcourse.model.MLP`).
    epochs : int
        Initial number of epochs.
    n_train : int, optional
        Initial training-set size (a subset of ``X_train``; all of it by default).
    batch_size, seed : int
        Passed to the model; subsets are nested (the first ``n`` of one fixed permutation).
    """

    def __init__(self, X_train, y_train, X_test, y_test, image_shape=None,
                 hidden=(1000, 1000, 1000), epsilon=20.0, zeta=0.3, dropout=0.3, lr=0.01,
                 epochs=3, n_train=None, batch_size=128, seed=0):
        (self.X_train, self.y_train, self.X_test, self.y_test,
         self.n_classes) = _check_data(X_train, y_train, X_test, y_test)
        check_positive_int("epochs", epochs)
        as_image(np.zeros(self.X_train.shape[1]), image_shape)  # validates image_shape
        self.image_shape = image_shape
        self.hidden = tuple(hidden)
        self.batch_size = batch_size
        self.seed = seed
        MLP(hidden=self.hidden, epsilon=epsilon, zeta=zeta, dropout=dropout, lr=lr,
            epochs=epochs, batch_size=batch_size, seed=seed).validate_params()
        self._order = np.random.default_rng(seed).permutation(self.X_train.shape[0])
        self.controls = {
            "epsilon": widgets.FloatSlider(value=epsilon, min=1, max=100, step=1,
                                           description="ε", readout_format=".0f"),
            "zeta": widgets.FloatSlider(value=zeta, min=0, max=0.9, step=0.05,
                                        description="ζ", readout_format=".2f"),
            "dropout": widgets.FloatSlider(value=dropout, min=0, max=0.8, step=0.05,
                                           description="dropout", readout_format=".2f"),
            "lr": widgets.FloatLogSlider(value=lr, base=10, min=-4, max=0, step=0.1,
                                         description="learning rate", readout_format=".4f"),
            "epochs": widgets.IntSlider(value=epochs, min=1, max=max(50, epochs),
                                        description="epochs"),
            "ntrain": _training_size_slider(self.X_train.shape[0], n_train),
        }
        for name, control in self.controls.items():
            control.continuous_update = False
            control.style = {"description_width": "initial"}
            control.add_class(f"setcourse-{name}")
        self._build_controls()
        self.curves = widgets.Image(format="png")
        self.curves.add_class("setcourse-curves")
        self.nnz_image = widgets.Image(format="png")
        self.nnz_image.add_class("setcourse-nnz")
        self.connectivity = widgets.Image(format="png")
        self.connectivity.add_class("setcourse-connectivity")
        sliders = widgets.VBox(list(self.controls.values()))
        buttons = widgets.VBox([widgets.HBox([self.train_button, self.stop_button]),
                                self.progress])
        self.widget = widgets.VBox([
            widgets.HBox([sliders, buttons]), self.status, self.curves,
            widgets.HBox([self.nnz_image, self.connectivity])])
        self.widget.add_class("setcourse-dashboard")

    def values(self):
        """The controls' current values as a dict."""
        return {name: control.value for name, control in self.controls.items()}

    def _make_run(self):
        values = self.values()
        model = MLP(hidden=self.hidden, topology="set", epsilon=float(values["epsilon"]),
                    zeta=float(values["zeta"]), dropout=float(values["dropout"]),
                    lr=float(values["lr"]), epochs=int(values["epochs"]),
                    batch_size=self.batch_size, seed=self.seed)
        subset = self._order[:int(values["ntrain"])]
        fit_kwargs = dict(X=self.X_train[subset], y=self.y_train[subset],
                          validation_data=(self.X_test, self.y_test),
                          epochs=int(values["epochs"]))
        description = (f"ε={values['epsilon']:.0f} ζ={values['zeta']:.2f} "
                       f"dropout={values['dropout']:.2f} lr={values['lr']:.4f} "
                       f"n={subset.size}")
        self._draw_model_params = values
        return model, fit_kwargs, description

    def _draw(self, model):
        values = self._draw_model_params
        epoch = model.history_.n_epochs
        self.curves.value = figure_png(plot_learning_curves(
            {"SET-MLP": model.history_}, metrics=("test_accuracy", "train_loss"),
            title=f"SET-MLP {layers_text(model)}, ε = {values['epsilon']:.0f}, "
                  f"ζ = {values['zeta']:.2f}, dropout = {values['dropout']:.2f}"))
        self.nnz_image.value = figure_png(draw_nnz(
            model.layers_, f"Connections per layer (total {sum(model.nnz_):,})"))
        self.connectivity.value = connectivity_png(
            input_connections(model), self.image_shape, f"Input connectivity after epoch {epoch}")


# -- module 03: scrub through recorded epochs -------------------------------------------------
class EpochScrubber:
    """A slider (and Play button) over recorded input-connectivity frames, one per snapshot.

    Parameters
    ----------
    frames : (n_frames, n_features) array
        Connections per input feature at each snapshot.
    image_shape : tuple, optional
        Image shape of one input, e.g. ``(28, 28)``.
    labels : sequence of str, optional
        One caption per frame (default ``"epoch k"``).
    """

    def __init__(self, frames, image_shape=None, labels=None):
        frames = np.asarray(frames)
        if frames.ndim != 2 or frames.shape[0] == 0:
            raise ValueError(f"frames must be a non-empty 2-D array (n_frames, n_features); "
                             f"got shape {frames.shape}")
        if labels is not None and len(labels) != frames.shape[0]:
            raise ValueError(f"labels must have one entry per frame ({frames.shape[0]}); "
                             f"got {len(labels)}")
        as_image(frames[0], image_shape)  # validates image_shape
        self.frames = frames
        self.image_shape = image_shape
        self.labels = (list(labels) if labels is not None
                       else [f"epoch {k}" for k in range(frames.shape[0])])
        self._vmax = float(frames.max()) or 1.0
        self._cache = {}
        last = frames.shape[0] - 1
        self.slider = widgets.IntSlider(value=0, min=0, max=last, description="snapshot",
                                        continuous_update=True)
        self.player = widgets.Play(value=0, min=0, max=last, interval=400,
                                   description="play")
        widgets.jslink((self.player, "value"), (self.slider, "value"))
        self.image = widgets.Image(format="png")
        self.slider.observe(self._update, names="value")
        self.widget = widgets.VBox([widgets.HBox([self.player, self.slider]), self.image])
        self._update()

    def frame_png(self, index):
        """PNG of frame ``index`` (cached: scrubbing back is instant)."""
        if index not in self._cache:
            self._cache[index] = connectivity_png(
                self.frames[index], self.image_shape,
                f"Input connectivity, {self.labels[index]}", vmax=self._vmax)
        return self._cache[index]

    def _update(self, _change=None):
        self.image.value = self.frame_png(self.slider.value)

    def display(self):
        """Show the scrubber."""
        from IPython.display import display
        display(self.widget)

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)


# -- module 04: choose an algorithm and its knobs ---------------------------------------------------
def strategy_knobs(cls):
    """Constructor parameters of a strategy class with scalar defaults: ``{name: default}``."""
    knobs = {}
    for name, parameter in inspect.signature(cls.__init__).parameters.items():
        default = parameter.default
        if name == "self" or default is inspect.Parameter.empty:
            continue
        if isinstance(default, (bool, int, float, str)):
            knobs[name] = default
    return knobs


def _knob_widget(name, default):
    style = {"description_width": "initial"}
    if isinstance(default, bool):
        return widgets.Checkbox(value=default, description=name, style=style)
    if isinstance(default, int):
        return widgets.IntText(value=default, description=name, style=style)
    if isinstance(default, float):
        return widgets.FloatText(value=default, description=name, style=style)
    return widgets.Text(value=default, description=name, style=style)


class AlgorithmChooser(_BackgroundTrainer):
    """Pick a sparse-training algorithm and its knobs, train it, and compare with earlier runs.

    The knobs are read from each strategy's constructor, so every algorithm registered in
    :data:`setcourse.evolution.STRATEGIES` appears with its own parameters.

    Parameters
    ----------
    X_train, y_train, X_test, y_test : arrays
    hidden : tuple of int
    epsilon : float
        Erdős–Rényi ε shared by all sparse algorithms (same parameter budget for all).
    epochs : int
    algorithm : str
        Initially selected: ``"dense"`` or a key of ``STRATEGIES``.
    lr, dropout, batch_size, seed : model hyper-parameters shared by all runs.
    """

    def __init__(self, X_train, y_train, X_test, y_test, hidden=(1000, 1000, 1000),
                 epsilon=20.0, epochs=3, algorithm="set", lr=0.01, dropout=0.3,
                 batch_size=128, seed=0):
        (self.X_train, self.y_train, self.X_test, self.y_test,
         self.n_classes) = _check_data(X_train, y_train, X_test, y_test)
        names = ["dense", *STRATEGIES]
        if algorithm not in names:
            raise ValueError(f"algorithm must be one of {', '.join(names)}; got {algorithm!r}")
        check_in_range("epsilon", epsilon, 0, None, low_open=True)
        check_positive_int("epochs", epochs)
        self.hidden = tuple(hidden)
        self.lr = lr
        self.dropout = dropout
        self.batch_size = batch_size
        self.seed = seed
        self.algorithm = widgets.Dropdown(options=names, value=algorithm,
                                          description="algorithm")
        self.algorithm.add_class("setcourse-algorithm")
        self.epsilon = widgets.FloatSlider(value=epsilon, min=1, max=100, step=1,
                                           description="ε", continuous_update=False,
                                           readout_format=".0f")
        self.epochs = widgets.IntSlider(value=epochs, min=1, max=max(50, epochs),
                                        description="epochs", continuous_update=False)
        self.knobs = widgets.VBox()
        self.algorithm.observe(self._show_knobs, names="value")
        self._build_controls()
        self.curves = widgets.Image(format="png")
        self.curves.add_class("setcourse-curves")
        self.table = widgets.HTML()
        self.results_ = []
        self.widget = widgets.VBox([
            widgets.HBox([widgets.VBox([self.algorithm, self.epsilon, self.epochs]),
                          widgets.VBox([widgets.Label("knobs of this algorithm:"), self.knobs]),
                          widgets.VBox([widgets.HBox([self.train_button, self.stop_button]),
                                        self.progress])]),
            self.status, self.curves, self.table])
        self._show_knobs()

    def _show_knobs(self, _change=None):
        name = self.algorithm.value
        knobs = {} if name == "dense" else strategy_knobs(STRATEGIES[name])
        self.knobs.children = [_knob_widget(k, v) for k, v in knobs.items()]

    def knob_values(self):
        """The selected algorithm's knob values as a dict."""
        return {child.description: child.value for child in self.knobs.children}

    def _make_run(self):
        name = self.algorithm.value
        knobs = self.knob_values()
        topology = "dense" if name == "dense" else STRATEGIES[name](**knobs)
        epochs = int(self.epochs.value)
        model = MLP(hidden=self.hidden, topology=topology, epsilon=float(self.epsilon.value),
                    lr=self.lr, dropout=self.dropout, epochs=epochs,
                    batch_size=self.batch_size, seed=self.seed)
        shown = ", ".join(f"{k}={v}" for k, v in knobs.items())
        description = f"{name}({shown})" + ("" if name == "dense"
                                            else f" ε={self.epsilon.value:.0f}")
        self._current = description
        return model, dict(X=self.X_train, y=self.y_train,
                           validation_data=(self.X_test, self.y_test), epochs=epochs), description

    def _draw(self, model):
        # Numbered labels: the same algorithm trained twice gets two curves.
        runs = {f"{i + 1}. {r['run']}": r["history"] for i, r in enumerate(self.results_)}
        runs[f"{len(self.results_) + 1}. {self._current} (this run)"] = model.history_
        self.curves.value = figure_png(plot_learning_curves(
            runs, metrics=("test_accuracy", "seconds_epoch"), title="The runs so far"))

    def _finished(self, model, run, seconds):
        history = model.history_
        self.results_.append(dict(
            run=self._current, history={k: list(v) for k, v in history.items()},
            test_accuracy=history["test_accuracy"][-1], nnz=sum(model.nnz_),
            seconds_per_epoch=float(np.mean(history["seconds_epoch"]))))
        rows = "".join(
            f"<tr><td>{html.escape(r['run'])}</td><td>{100 * r['test_accuracy']:.1f}%</td>"
            f"<td>{r['nnz']:,}</td><td>{r['seconds_per_epoch']:.2f}</td></tr>"
            for r in self.results_)
        self.table.value = ("<table><tr><th>run</th><th>test accuracy</th><th>connections</th>"
                            "<th>seconds per epoch</th></tr>" + rows + "</table>")
        super()._finished(model, run, seconds)
