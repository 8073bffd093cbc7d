"""Module 02's SET dashboard: sliders for ε, ζ, dropout, learning rate, epochs and data size,
and four live views of the run: learning curves (earlier runs kept), degree distributions,
input connectivity (with its feature-selection number) and the last rewiring step.

One concept (module 02's dashboard: its controls, views and runs), hence its length.
"""
import html
import threading
import time
from pathlib import Path

import ipywidgets as widgets
import numpy as np

from .._validation import check_positive_int
from ..analysis.degrees import in_degrees, out_degrees
from ..analysis.feature_selection import feature_selection, feature_variance
from ..analysis.input_connectivity import as_image, input_connections
from ..analysis.rewiring import RewiringRecorder, centre_block
from ..model import MLP
from ..nn.sparsity import erdos_renyi_density, n_connections
from ..plots.figure import DPI
from ..plots.live import LiveConnectivity, LiveCurves, LiveDegrees, LiveRewiring, panel_png
from ..plots.topology import input_connectivity_animation, save_gif
from .trainer import BackgroundTrainer, check_data, layers_text, training_size_slider

__all__ = ["CLASS_SETTINGS", "SETDashboard", "VIEWS", "ZETA_NOTE", "class_dashboard",
           "class_settings", "hub_counts"]


def class_settings():
    """The MLP settings under which SET's feature selection shows within a class run.

    L2 weight decay 0.01 inside the gradient (decay per step lr·0.01 = 5e-4, carried by the
    momentum), regrown connections at weight 0, learning rate 0.05, batch size 40, He
    initialisation at each neuron's actual fan-in, biases not decayed. Measured on 10,000
    Fashion-MNIST images with 784-1000-1000-1000-10 (ε 20, ζ 0.3, dropout 0.3): r (connections
    vs pixel variance) +0.20 after 2 epochs, +0.49 after 3, +0.66 after 4, at 68-74 % test
    accuracy; with the engine's default decay r stayed near 0. The decay rule, the
    initialisation and bias decay are named explicitly where the engine has the options, so
    the settings mean the same on every engine version.
    """
    import inspect
    settings = dict(lr=0.05, batch_size=40, weight_decay=0.01, regrow_init="zero",
                    init="actual_fan_in")
    parameters = inspect.signature(MLP.__init__).parameters
    if "weight_decay_mode" in parameters:
        settings["weight_decay_mode"] = "l2"
    if "decay_biases" in parameters:
        settings["decay_biases"] = False
    return settings


#: :func:`class_settings`, computed once.
CLASS_SETTINGS = class_settings()

REWIRING_BLOCK = 40  # the rewiring view: a 40 x 40 block of the first layer
#: The dashboard's views, in their order on screen (``views=`` picks a subset).
VIEWS = ("curves", "degrees", "connectivity", "rewiring")
#: The first look: this long into the first epoch (seconds of training), the test accuracy
#: of the network so far on the first FIRST_LOOK_TEST test images is shown (title and status
#: line say how many images it has seen), so that something answers within about a second
#: even when one epoch takes longer.
FIRST_LOOK_SECONDS = 0.25
FIRST_LOOK_TEST = 1000
#: A neuron is a hub when its degree exceeds this quantile of its Erdős–Rényi (binomial)
#: degree distribution: by chance 1 neuron in 1,000 does.
HUB_QUANTILE = 0.999


def class_dashboard(data, fast, views=VIEWS, **options):
    """The dashboard of notebooks 02 and 03: :data:`CLASS_SETTINGS` at the mode's size.

    ``data`` is what :func:`setcourse.course.setup` returns (``X_train, y_train, X_test,
    y_test`` with an ``image_shape``); ``fast`` its ``FAST``: 784-256-256-10, 8 epochs on
    2,000 images, else 784-1000-1000-1000-10, 4 epochs on 10,000. ``options`` override any
    of these or of the class settings (e.g. ``epochs=10``).
    """
    X_train, y_train, X_test, y_test = data
    settings = dict(hidden=(256, 256) if fast else (1000, 1000, 1000), epochs=8 if fast else 4,
                    n_train=min(len(X_train), 2000 if fast else 10000), **CLASS_SETTINGS)
    settings.update(options)
    return SETDashboard(X_train, y_train, X_test, y_test,
                        image_shape=getattr(data, "image_shape", None) or None, views=views,
                        **settings)


def hub_counts(degrees, n_trials, p, quantile=HUB_QUANTILE):
    """``(neurons above the Erdős–Rényi quantile, that quantile, the largest degree)``.

    ``degrees``: one layer's degrees; ``n_trials``, ``p``: its binomial (possible partners,
    connection probability). The number above is about ``(1 - quantile) * len(degrees)`` by
    chance; many more mean that hubs have formed.
    """
    from scipy import stats
    degrees = np.asarray(degrees)
    threshold = int(stats.binom.ppf(quantile, n_trials, p))
    return int((degrees > threshold).sum()), threshold, int(degrees.max(initial=0))
ZETA_NOTE = ("SET rewires after every epoch except the last, so with 1 epoch ζ has no effect "
             "(and with 2 epochs it acts once).")

HELP = {
    "epsilon": "ε: density of the Erdős–Rényi layers (connections ≈ ε·(n_in + n_out) per layer)",
    "zeta": "ζ: fraction of each layer's connections pruned and regrown after each epoch",
    "dropout": "dropout: fraction of hidden activations zeroed in training",
    "lr": "learning rate: the SGD step size",
    "epochs": "epochs: passes over the training subset",
    "ntrain": "train size: the first n images of one fixed shuffle (nested subsets)",
}


def _image_widget(figure, css):
    """An Image shown at the figure's own pixel size (never stretched to the cell's width)."""
    width, height = (int(round(v * DPI)) for v in figure.get_size_inches())
    image = widgets.Image(format="png", layout=widgets.Layout(
        width=f"{width}px", height=f"{height}px", object_fit="contain", flex="0 0 auto"))
    image.add_class(css)
    return image


class SETDashboard(BackgroundTrainer):
    """Train a SET-MLP with sliders for ε, ζ, dropout, learning rate, epochs and data size.

    Four views, redrawn while the run trains (in a drawing thread, so drawing never slows
    the training or the Stop button):

    - **learning curves**: test accuracy per epoch of this run and of every earlier run
      (legend: its ε, ζ, dropout), until **Clear runs**;
    - **degrees**: in-degree distribution of each hidden layer and out-degree distribution of
      the input pixels, log-log, beside the Erdős–Rényi (binomial) expectation;
    - **input connectivity**: connections per pixel on a colour scale fixed for the run, with
      the correlation r between a pixel's connections and its variance over the training
      images (:mod:`setcourse.analysis.feature_selection`); one frame per epoch is kept, and
      after the run the slider/Play scrub through them and **Save GIF** writes them;
    - **rewiring**: a 40 × 40 block of the first layer at the last SET step: kept, removed
      and added connections.

    The controls carry the CSS classes of the course's DOM contract (``setcourse-epsilon``,
    ``setcourse-train``, ``setcourse-status``, ``setcourse-degrees``, ...).

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
    gif_dir : str or Path
        Where **Save GIF** writes ``set_connectivity_run<N>.gif``.
    views : tuple of str
        Which views to show and draw, among :data:`VIEWS` (all by default); notebook 03 shows
        the degrees and the connectivity only. The hub counts (neurons whose degree exceeds
        the Erdős–Rényi 99.9 % quantile) go with the degrees.
    **model_options
        Further :class:`~setcourse.model.MLP` parameters fixed for every run (e.g.
        ``weight_decay``, ``regrow_init``).
    """

    def __init__(self, X_train, y_train, X_test, y_test, image_shape=None,
                 hidden=(1000, 1000, 1000), epsilon=20.0, zeta=0.3, dropout=0.3, lr=0.01,
                 epochs=3, n_train=None, batch_size=128, seed=0, gif_dir=".", views=VIEWS,
                 **model_options):
        (self.X_train, self.y_train, self.X_test, self.y_test,
         self.n_classes) = check_data(X_train, y_train, X_test, y_test)
        check_positive_int("epochs", epochs)
        as_image(np.zeros(self.X_train.shape[1]), image_shape)  # validates image_shape
        self.image_shape = image_shape
        views = (views,) if isinstance(views, str) else tuple(views)
        unknown = sorted(set(views) - set(VIEWS))
        if unknown or not views:
            raise ValueError(f"views must be a non-empty subset of {VIEWS}; got {views!r}")
        self.views = tuple(view for view in VIEWS if view in views)
        self.hidden = tuple(hidden)
        self.batch_size = batch_size
        self.seed = seed
        self.gif_dir = Path(gif_dir)
        self.model_options = dict(model_options)
        MLP(hidden=self.hidden, epsilon=epsilon, zeta=zeta, dropout=dropout, lr=lr,
            epochs=epochs, batch_size=batch_size, seed=seed, **self.model_options
            ).validate_params()
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
            "ntrain": training_size_slider(self.X_train.shape[0], n_train),
        }
        self._defaults = self.values()
        for name, control in self.controls.items():
            control.continuous_update = False
            control.style = {"description_width": "90px"}
            control.layout = widgets.Layout(width="330px")
            control.tooltip = HELP[name]
            control.add_class(f"setcourse-{name}")
        self._build_controls()
        self.clear_button = widgets.Button(description="Clear runs", icon="eraser",
                                           tooltip="remove the earlier runs from the curves")
        self.clear_button.add_class("setcourse-clear")
        self.clear_button.on_click(self._on_clear_click)
        self.gif_button = widgets.Button(description="Save GIF", icon="film", disabled=True,
                                         tooltip="write the input-connectivity frames as a GIF")
        self.gif_button.add_class("setcourse-gif")
        self.gif_button.on_click(self._on_gif_click)
        for button in (self.train_button, self.stop_button, self.clear_button, self.gif_button):
            button.layout = widgets.Layout(width="120px")
        self.progress.layout = widgets.Layout(width="250px")
        self.zeta_note = widgets.HTML()
        self.zeta_note.add_class("setcourse-zeta-note")
        self.controls["epochs"].observe(self._show_zeta_note, names="value")
        self._show_zeta_note()

        # The four views, each a figure updated in place (setcourse.plots.live).
        self._curves_panel = LiveCurves()
        self._degrees_panel = LiveDegrees()
        self._connectivity_panel = LiveConnectivity()
        self._rewiring_panel = LiveRewiring()
        self.curves = _image_widget(self._curves_panel.figure, "setcourse-curves")
        self.degrees = _image_widget(self._degrees_panel.figure, "setcourse-degrees")
        self.connectivity = _image_widget(self._connectivity_panel.figure,
                                          "setcourse-connectivity")
        self.rewiring = _image_widget(self._rewiring_panel.figure, "setcourse-rewiring")
        self.feature_text = widgets.HTML(layout=widgets.Layout(width="375px"))
        self.feature_text.add_class("setcourse-feature-selection")
        self.runs_text = widgets.HTML(layout=widgets.Layout(width="375px"))
        self.runs_text.add_class("setcourse-runs")
        self.hubs_text = widgets.HTML(layout=widgets.Layout(width="375px"))
        self.hubs_text.add_class("setcourse-hubs")
        self.frame_slider = widgets.IntSlider(value=0, min=0, max=0, description="frame",
                                              disabled=True, continuous_update=True,
                                              layout=widgets.Layout(width="250px"),
                                              style={"description_width": "45px"})
        self.frame_slider.add_class("setcourse-frame")
        self.player = widgets.Play(value=0, min=0, max=0, interval=300, disabled=True,
                                   layout=widgets.Layout(width="150px"))
        widgets.jslink((self.player, "value"), (self.frame_slider, "value"))
        self.frame_slider.observe(self._on_frame_change, names="value")

        self.past_runs_ = []    # (legend label, test accuracies) of the finished runs
        self.frames_ = []       # connections per input after each epoch of the latest run
        self.feature_selection_ = []
        self.gif_path_ = None
        self._run_state = None
        self._scrubbing = False
        self._panel_lock = threading.Lock()

        sliders = widgets.GridBox(
            list(self.controls.values()),
            layout=widgets.Layout(grid_template_columns="repeat(2, 340px)", grid_gap="2px 4px"))
        buttons = widgets.VBox([
            widgets.HBox([self.train_button, self.stop_button]),
            widgets.HBox([self.clear_button, self.gif_button]), self.progress])
        self.status.layout = widgets.Layout(min_height="22px")
        shown = set(self.views)
        scrub = widgets.VBox(
            ([widgets.HBox([self.player, self.frame_slider]), self.feature_text]
             if "connectivity" in shown else [])
            + ([self.hubs_text] if "degrees" in shown else []) + [self.runs_text],
            layout=widgets.Layout(width="385px"))
        first_row = [view for name, view in (("curves", self.curves),
                                              ("degrees", self.degrees)) if name in shown]
        second_row = [view for name, view in (("connectivity", self.connectivity),
                                               ("scrub", scrub), ("rewiring", self.rewiring))
                      if name in shown or name == "scrub"]
        self.widget = widgets.VBox([
            widgets.HBox([sliders, buttons]),
            self.zeta_note, self.status, self.background_note,
            widgets.HBox(first_row),
            widgets.HBox(second_row),
        ])
        self.widget.add_class("setcourse-dashboard")
        self._draw_empty()

    def _draw_empty(self):
        """Empty panels before the first run (also warms matplotlib's caches: the first
        draw of a figure is several times slower than the next ones)."""
        shown = set(self.views)
        empty = np.zeros((40, 40), dtype=bool)
        if "curves" in shown:
            self.curves.value = panel_png(self._curves_panel.update(
                self.past_runs_, title="Test accuracy per epoch: press Train").figure)
        if "rewiring" in shown:
            rows, cols = centre_block(self.X_train.shape[1], self.hidden[0], REWIRING_BLOCK)
            self.rewiring.value = panel_png(self._rewiring_panel.update(
                empty[:rows.stop - rows.start, :cols.stop - cols.start],
                empty[:rows.stop - rows.start, :cols.stop - cols.start],
                "Rewiring, first layer (40 × 40 block)\nshown after the first SET step",
                origin=(rows.start, cols.start)).figure)
        if "connectivity" in shown:
            shape = as_image(np.zeros(self.X_train.shape[1]), self.image_shape).shape
            self.connectivity.value = panel_png(self._connectivity_panel.update(
                np.zeros(shape), 1.0, "Input connectivity\nshown when a run starts").figure)
        if "degrees" in shown:
            self.degrees.value = panel_png(self._degrees_panel.update(
                [np.ones(2, dtype=int)], [("", 2, 0.5, 2)], "Degrees: shown when a run starts"
            ).figure)

    # controls ------------------------------------------------------------------------------
    def values(self):
        """The controls' current values as a dict."""
        return {name: control.value for name, control in self.controls.items()}

    def _show_zeta_note(self, _change=None):
        one = int(self.controls["epochs"].value) == 1
        text = html.escape(ZETA_NOTE)
        self.zeta_note.value = (f"<small>{'<b>Warning: ' if one else 'Note: '}{text}"
                                f"{'</b>' if one else ''} Hover over a slider for what it "
                                f"does.</small>")

    def _on_clear_click(self, _button=None):
        self.clear_runs()

    def _show_runs(self, current=None):
        """The runs on the learning-curve plot, as text (final test accuracy of each)."""
        runs = list(self.past_runs_) + ([current] if current else [])
        items = "".join(f"<li>{html.escape(label)}: "
                        f"{100 * values[-1]:.1f} %</li>" if len(values) else
                        f"<li>{html.escape(label)}: training…</li>" for label, values in runs)
        self.runs_text.value = (f"<div style='font-size:12px'><b>On the curves</b> "
                                f"({len(runs)} run{'s' if len(runs) != 1 else ''}):"
                                f"<ol style='margin:0;padding-left:18px'>{items}</ol></div>"
                                if runs else "")

    def clear_runs(self):
        """Forget the earlier runs (the learning-curve plot keeps only the current one)."""
        self.past_runs_ = []
        state = self._run_state
        current = ([(state["label"], list(state["accuracy"]))]
                   if state is not None and self.is_training else [])
        with self._panel_lock:
            self.curves.value = panel_png(self._curves_panel.update(
                current, title="Test accuracy per epoch" if current else
                "Test accuracy per epoch: runs cleared").figure)
        self._show_runs(current[0] if current else None)

    def _run_label(self, values, run):
        parts = [f"ε {values['epsilon']:.0f}", f"ζ {values['zeta']:.2f}",
                 f"dropout {values['dropout']:.2f}"]
        if values["lr"] != self._defaults["lr"]:
            parts.append(f"lr {values['lr']:.3g}")
        if values["ntrain"] != self._defaults["ntrain"]:
            parts.append(f"n {int(values['ntrain'])}")
        if values["epochs"] == 1 and values["zeta"] > 0:
            parts[1] += " (no effect)"
        return f"run {run}: " + ", ".join(parts)

    # the run ------------------------------------------------------------------------------
    def _make_run(self):
        values = self.values()
        model = MLP(hidden=self.hidden, topology="set", epsilon=float(values["epsilon"]),
                    zeta=float(values["zeta"]), dropout=float(values["dropout"]),
                    lr=float(values["lr"]), epochs=int(values["epochs"]),
                    batch_size=self.batch_size, seed=self.seed, **self.model_options)
        subset = self._order[:int(values["ntrain"])]
        X = self.X_train[subset]
        fit_kwargs = dict(X=X, y=self.y_train[subset],
                          validation_data=(self.X_test, self.y_test),
                          epochs=int(values["epochs"]))
        description = (f"ε={values['epsilon']:.0f} ζ={values['zeta']:.2f} "
                       f"dropout={values['dropout']:.2f} lr={values['lr']:.4f} "
                       f"n={subset.size}")
        self._drawer.flush()
        self.frames_, self.feature_selection_ = [], []
        self.gif_button.disabled = True
        self.frame_slider.disabled = self.player.disabled = True
        sizes = [X.shape[1], *self.hidden, self.n_classes]
        specs, first_mean = [], None
        for i, (n_in, n_out) in enumerate(zip(sizes[:-2], sizes[1:-1])):
            density = min(1.0, n_connections(erdos_renyi_density(
                float(values["epsilon"]), n_in, n_out), n_in, n_out) / (n_in * n_out))
            specs.append((f"hidden {i + 1} ({n_out})", n_in, density, n_out))
            if i == 0:
                first = (f"pixels ({n_in})", n_out, density, n_in)
                first_mean = density * n_out
        specs.append(first)
        # Colour scale fixed for the run, from the Erdős–Rényi start: twice the mean (at
        # least mean + 4 sd), so pixels that gain or lose connections stand out; more is
        # shown as the top colour (the colour bar's arrow).
        vmax = float(max(np.ceil(2 * first_mean), np.ceil(first_mean + 4 * np.sqrt(first_mean)),
                         2))
        self._run_state = dict(label=self._run_label(values, self.runs_), accuracy=[],
                               hubs=[hub_counts([], n, p)[1] for _, n, p, _ in specs],
                               sparse_below=hub_counts([], specs[-1][1], specs[-1][2],
                                                       1 - HUB_QUANTILE)[1],
                               variance=feature_variance(X), vmax=vmax, values=values,
                               layer_specs=specs,
                               block=centre_block(sizes[0], sizes[1], REWIRING_BLOCK))
        self._rewiring = RewiringRecorder(layer=0, size=REWIRING_BLOCK)
        self._first_look_due = int(values["epochs"]) >= 1
        self.first_look_ = None
        # Lay out the panels for this run while the model is being built.
        self._drawer.submit(None)
        return model, fit_kwargs, description

    def _callbacks(self):
        return [self._rewiring]

    def _snapshot(self, model):
        """Copies of what the views show (taken in the training thread; milliseconds)."""
        state = self._run_state
        layers = model.layers_
        connections = input_connections(model)
        stats = feature_selection(connections, state["variance"])
        self.frames_.append(connections)
        self.feature_selection_.append(stats)
        history = model.history_
        rewiring = self._rewiring
        return dict(
            epoch=history.n_epochs,
            accuracy=list(history.get("test_accuracy") or []),
            degrees=[in_degrees(layer) for layer in layers[:-1]] + [out_degrees(layers[0])],
            connections=connections, stats=stats, frame=len(self.frames_) - 1,
            rewiring=(rewiring.before_, rewiring.after_, rewiring.epoch_, rewiring.block)
            if rewiring.epoch_ is not None else None,
            nnz=sum(model.nnz_), layers=layers_text(model))

    def _after_batch(self, model, epoch, batch, n_batches):
        """The first look, once, part-way through the first epoch (in the training thread)."""
        if (not self._first_look_due or epoch != 0 or batch + 1 >= n_batches
                or time.perf_counter() - self._epoch_clock < FIRST_LOOK_SECONDS):
            return
        self._first_look_due = False
        state = self._run_state
        n_images = int(state["values"]["ntrain"])
        seen = min(n_images, (batch + 1) * self.batch_size)
        n_test = min(FIRST_LOOK_TEST, self.X_test.shape[0])
        accuracy = model.score(self.X_test[:n_test], self.y_test[:n_test])
        self.first_look_ = dict(seen=seen, of=n_images, n_test=n_test, accuracy=accuracy)
        self._show_status(f"Run {self.runs_} · Training epoch 1/{self._planned_epochs} · first look "
                          f"after {seen:,} of {n_images:,} images: test accuracy "
                          f"{100 * accuracy:.1f} % on {n_test:,} test images · "
                          f"{self._description}")
        self._drawer.submit({"first_look": dict(self.first_look_)})

    def _prepare(self):
        """The new run's panels without data (backgrounds drawn while the model is built)."""
        state = self._run_state
        specs = state["layer_specs"]
        values = state["values"]
        runs = self.past_runs_ + [(state["label"], [])]
        self._show_runs(runs[-1])
        shown = set(self.views)
        with self._panel_lock:
            if "curves" in shown:
                self.curves.value = panel_png(self._curves_panel.update(
                    runs, title="Test accuracy per epoch: building the network…",
                    epochs=int(values["epochs"])).figure)
            if "degrees" in shown:
                self.degrees.value = panel_png(self._degrees_panel.update(
                    [np.zeros(0, dtype=int)] * len(specs), specs,
                    "Degrees: building the network…").figure)
            if "connectivity" in shown:
                shape = as_image(np.zeros(self.X_train.shape[1]), self.image_shape).shape
                self._connectivity_panel.update(np.zeros(shape), state["vmax"], "")
                panel_png(self._connectivity_panel.figure)
            if "rewiring" in shown:
                self._rewiring_waiting()

    def _render(self, snap):
        if snap is None:
            return self._prepare()
        if "first_look" in snap:
            return self._render_first_look(snap["first_look"])
        state = self._run_state
        epoch = snap["epoch"]
        when = "at initialisation" if epoch == 0 else f"after epoch {epoch}"
        state["accuracy"] = snap["accuracy"]
        runs = self.past_runs_ + [(state["label"], snap["accuracy"])]
        shown = set(self.views)
        with self._panel_lock:
            if epoch > 0 and "curves" in shown:  # nothing to add at initialisation
                self.curves.value = panel_png(self._curves_panel.update(
                    runs, title=f"Test accuracy per epoch ({snap['layers']})",
                    epochs=int(state["values"]["epochs"])).figure)
            if "degrees" in shown:
                self.degrees.value = panel_png(self._degrees_panel.update(
                    snap["degrees"], state["layer_specs"],
                    f"Degrees {when} vs Erdős–Rényi").figure)
                self._show_hubs(snap["degrees"], when)
            if not self._scrubbing and "connectivity" in shown:
                self._show_frame(snap["frame"], when)
                self.frame_slider.max = self.player.max = snap["frame"]
                self.frame_slider.value = snap["frame"]
            if ("rewiring" in shown and snap["rewiring"] is not None
                    and snap["rewiring"][2] != state.get("drawn_step")):
                before, after, step_epoch, block = snap["rewiring"]
                state["drawn_step"] = step_epoch
                removed, added = int((before & ~after).sum()), int((~before & after).sum())
                self.rewiring.value = panel_png(self._rewiring_panel.update(
                    before, after,
                    f"SET step after epoch {step_epoch + 1} (first layer)\n"
                    f"grey kept · red removed −{removed} · green added +{added}",
                    origin=(block[0].start, block[1].start)).figure)

    def _render_first_look(self, look):
        """The learning-curve title with the first look (the topology has not changed yet:
        SET rewires at the end of an epoch)."""
        if "curves" not in self.views:
            return
        state = self._run_state
        runs = self.past_runs_ + [(state["label"], [])]
        with self._panel_lock:
            self.curves.value = panel_png(self._curves_panel.update(
                runs, title=f"Epoch 1 so far: {100 * look['accuracy']:.1f} % test accuracy after "
                            f"{look['seen']:,} of {look['of']:,} images ({look['n_test']:,} test images)",
                epochs=int(state["values"]["epochs"])).figure)

    def _show_hubs(self, degrees, when):
        """The hub counts of each layer beside the degree panel."""
        state = self._run_state
        parts = []
        for values, (label, _, _, n_neurons), threshold in zip(degrees, state["layer_specs"],
                                                                state["hubs"]):
            values = np.asarray(values)
            above = int((values > threshold).sum())
            parts.append(f"{html.escape(label.split(' (')[0])}: <b>{above}</b> of {n_neurons} "
                         f"above {threshold} (max {int(values.max(initial=0))})")
        pixels = np.asarray(degrees[-1])
        below = int((pixels <= state["sparse_below"]).sum())
        self.hubs_text.value = (
            f"<div style='font-size:12px;line-height:1.35'><b>Hubs</b> {when}: degree above the "
            f"Erdős–Rényi 99.9 % quantile (by chance 1 in 1,000): " + " · ".join(parts)
            + f". Inputs with {state['sparse_below']} or fewer connections (0.1 % quantile): "
            f"<b>{below}</b> of {pixels.size}.</div>")

    def _rewiring_waiting(self):
        state = self._run_state
        rows, cols = state["block"]
        empty = np.zeros((rows.stop - rows.start, cols.stop - cols.start), dtype=bool)
        epochs = int(state["values"]["epochs"])
        note = ("no SET step in a 1-epoch run" if epochs == 1
                else "the first SET step comes after epoch 1")
        self.rewiring.value = panel_png(self._rewiring_panel.update(
            empty, empty, f"Rewiring, first layer ({empty.shape[0]} × {empty.shape[1]} block)"
                          f"\n{note}", origin=(rows.start, cols.start)).figure)

    def _show_frame(self, index, when=None):
        """Draw connectivity frame ``index`` of the latest run (caller holds the panel lock)."""
        state = self._run_state
        if not self.frames_:
            return
        index = int(np.clip(index, 0, len(self.frames_) - 1))
        when = when or ("at initialisation" if index == 0 else f"after epoch {index}")
        stats = self.feature_selection_[index]
        r = "n/a" if np.isnan(stats.r) else f"{stats.r:+.2f}"
        image = as_image(self.frames_[index], self.image_shape)
        self.connectivity.value = panel_png(self._connectivity_panel.update(
            image, state["vmax"], f"Input connectivity {when}\nr = {r} "
                                  f"(connections vs pixel variance)").figure)
        self.feature_text.value = (
            f"<div style='font-size:12px;line-height:1.35'><b>Feature selection</b> {when}:<br>"
            f"r = <b>{r}</b> — correlation between a pixel's connections and its variance "
            f"over the training images (0 at an Erdős–Rényi start; the SET tutorial's stored "
            f"400-epoch run, seed 0: +0.19 after 30 epochs, +0.25 after 400).<br>"
            f"10 % least-varying pixels: {stats.least_varying:.1f} connections on average; "
            f"10 % most-varying: {stats.most_varying:.1f}.</div>")

    def _on_frame_change(self, change):
        if self.frame_slider.disabled:
            return
        self._scrubbing = True
        try:
            with self._panel_lock:
                self._show_frame(change["new"])
        finally:
            self._scrubbing = False

    def _finished(self, model, run, seconds):
        self._drawer.flush()
        state = self._run_state
        self.past_runs_.append((state["label"], list(model.history_["test_accuracy"])))
        self._show_runs()
        last = len(self.frames_) - 1
        self.frame_slider.max = self.player.max = max(last, 0)
        self.frame_slider.disabled = self.player.disabled = last < 1
        self.gif_button.disabled = last < 1
        super()._finished(model, run, seconds)
        drawing = self._drawer.seconds_
        if drawing:
            self._note = (f" · drawing {np.median(drawing[-20:]):.2f} s per redraw "
                          f"(apart from training)")
            self._show_status(self._status_text)
            self._note = ""

    # GIF ----------------------------------------------------------------------------------
    def _on_gif_click(self, _button=None):
        try:
            path = self.save_gif()
            self._note = f" · saved {path}"
        except Exception as error:
            self._note = f" · GIF not saved: {type(error).__name__}: {error}"
        self._show_status(self._status_text)
        self._note = ""

    def save_gif(self, path=None):
        """Write the latest run's connectivity frames (fixed colour scale) as a GIF; its path."""
        if len(self.frames_) < 2:
            raise ValueError("train for at least one epoch first: there are no frames to save")
        path = Path(path) if path is not None else self.gif_dir / f"set_connectivity_run{self.runs_}.gif"
        labels = ["at initialisation"] + [f"after epoch {e}" for e in range(1, len(self.frames_))]
        animation = input_connectivity_animation(np.stack(self.frames_), self.image_shape,
                                                 labels=labels, vmax=self._run_state["vmax"])
        save_gif(animation, path)
        self.gif_path_ = path
        return path
