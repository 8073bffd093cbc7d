"""Module 04's algorithm chooser: pick a sparse-training algorithm and its knobs, compare runs."""
import html
import inspect
import math

import ipywidgets as widgets
import numpy as np
from matplotlib.ticker import MaxNLocator

from .._validation import check_in_range, check_positive_int
from ..evolution import STRATEGIES
from ..model import MLP
from ..plots.figure import new_figure
from ..plots.live import FONT, panel_png
from .trainer import BackgroundTrainer, check_data

__all__ = ["AlgorithmChooser", "KNOB_HELP", "METHOD_HELP", "strategy_knobs"]

#: One line per method, shown under the algorithm menu.
METHOD_HELP = {
    "dense": "an ordinary fully connected MLP: the baseline",
    "fixprob": "a fixed Erdős–Rényi sparse network, never rewired",
    "set": "after every epoch: prune the fraction ζ of each sign's weakest weights, regrow "
           "as many at random",
    "dsr": "every ΔT steps: prune all weights below one global threshold, regrow at random "
           "in proportion to each layer's survivors",
    "sparse_momentum": "after every epoch: prune each layer's smallest weights, regrow "
                       "where the momentum is largest",
    "dst": "learns a threshold per neuron: weights below it are masked at every step "
           "(starts dense, trains dense matrices; ε is not used)",
    "rigl": "every ΔT steps: drop the smallest weights, regrow where the gradient is largest",
}

#: One line per knob: what it does (ΔT = steps, i.e. mini-batches, between rewirings).
KNOB_HELP = {
    "zeta": "fraction of each sign's weakest connections replaced after each epoch",
    "regrow_init": "weights of regrown connections: drawn like the initial ones, or zero",
    "update_period": "ΔT: mini-batch steps between two rewirings",
    "initial_threshold": "starting magnitude threshold H₀ (pruned: |w| < H)",
    "tolerance": "δ: how far the pruned count may miss its target before H halves or doubles",
    "stop_fraction": "fraction of training after which the topology is frozen",
    "prune_rate": "fraction of each layer's weights pruned at each rewiring",
    "decay": "schedule of that fraction: cosine decay = ½(1 + cos(π·t/T)) × start, "
             "falling to 0 at the end; constant = no decay",
    "alpha": "strength of the penalty that pushes thresholds up (more sparsity)",
    "reset_ratio": "a layer keeping at most this fraction of its weights gets its "
                   "thresholds reset",
    "drop_fraction": "fraction of connections dropped and regrown at each update",
}

#: Widget ranges of the numeric knobs: (kind, min, max, step or None).
KNOB_RANGES = {
    "zeta": ("float", 0.0, 0.9, 0.05),
    "prune_rate": ("float", 0.05, 0.9, 0.05),
    "drop_fraction": ("float", 0.0, 0.9, 0.05),
    "tolerance": ("float", 0.0, 0.5, 0.05),
    "stop_fraction": ("float", 0.0, 1.0, 0.05),
    "initial_threshold": ("log", -5, -1, 0.25),
    "alpha": ("log", -6, -2, 0.25),
    "reset_ratio": ("float", 0.0, 0.2, 0.005),
}
CHOICES = {"regrow_init": ("init", "zero"), "decay": ("cosine", "constant")}


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


def updates_per_epoch_period(n_samples, batch_size, per_epoch=2):
    """Steps between updates so that a per-step method rewires ``per_epoch`` times an epoch."""
    steps = math.ceil(n_samples / max(1, min(batch_size, n_samples)))
    return max(1, steps // per_epoch)


def _knob_widget(name, default, period=None, max_steps=None):
    """A slider, menu or checkbox for one knob (a text box only for unknown strings)."""
    style = {"description_width": "110px"}
    layout = widgets.Layout(width="330px")
    if name == "update_period" and period is not None:
        control = widgets.IntSlider(value=period, min=1, max=max(2 * period, 10, max_steps or 1),
                                    description=name, style=style, layout=layout,
                                    continuous_update=False)
    elif name in CHOICES:
        options = CHOICES[name] if default in CHOICES[name] else (default, *CHOICES[name])
        control = widgets.Dropdown(options=options, value=default, description=name,
                                   style=style, layout=layout)
    elif isinstance(default, bool):
        control = widgets.Checkbox(value=default, description=name, style=style)
    elif name in KNOB_RANGES and isinstance(default, (int, float)):
        kind, low, high, step = KNOB_RANGES[name]
        if kind == "log":
            control = widgets.FloatLogSlider(value=default, base=10, min=low, max=high,
                                             step=step, description=name, style=style,
                                             layout=layout, readout_format=".1e",
                                             continuous_update=False)
        else:
            control = widgets.FloatSlider(value=default, min=low, max=high, step=step,
                                          description=name, style=style, layout=layout,
                                          readout_format=".3g", continuous_update=False)
    elif isinstance(default, int):
        control = widgets.IntText(value=default, description=name, style=style, layout=layout)
    elif isinstance(default, float):
        control = widgets.FloatText(value=default, description=name, style=style,
                                    layout=layout)
    else:
        control = widgets.Text(value=default, description=name, style=style, layout=layout)
    control.tooltip = KNOB_HELP.get(name, name)
    control.add_class(f"setcourse-knob-{name}")
    return control


def _help_line(text):
    return widgets.HTML(f"<div style='font-size:11px;color:#555;margin:-2px 0 4px 118px;"
                        f"line-height:1.2'>{html.escape(text)}</div>",
                        layout=widgets.Layout(width="340px"))


class AlgorithmChooser(BackgroundTrainer):
    """Pick a sparse-training algorithm and its knobs, train it, and compare with earlier runs.

    The knobs are read from each strategy's constructor, so every algorithm registered in
    :data:`setcourse.evolution.STRATEGIES` appears with its own parameters, each as a slider
    or menu with a one-line explanation. The update period ΔT of the per-step methods (DSR,
    RigL) defaults to twice per epoch *for the data size used*, so every method rewires about
    as often as the others (a fixed 100 steps would never fire in a short run on 2,000
    images).

    Parameters
    ----------
    X_train, y_train, X_test, y_test : arrays
    hidden : tuple of int
    epsilon : float
        Erdős–Rényi ε shared by all sparse algorithms (same parameter budget for all).
    epochs : int
    algorithm : str
        Initially selected: ``"dense"`` or a key of ``STRATEGIES``.
    lr, dropout, batch_size, seed : model hyper-parameters shared by all runs (dropout is a
        slider).
    """

    def __init__(self, X_train, y_train, X_test, y_test, hidden=(1000, 1000, 1000),
                 epsilon=20.0, epochs=3, algorithm="set", lr=0.01, dropout=0.3,
                 batch_size=128, seed=0):
        (self.X_train, self.y_train, self.X_test, self.y_test,
         self.n_classes) = check_data(X_train, y_train, X_test, y_test)
        names = ["dense", *STRATEGIES]
        if algorithm not in names:
            raise ValueError(f"algorithm must be one of {', '.join(names)}; got {algorithm!r}")
        check_in_range("epsilon", epsilon, 0, None, low_open=True)
        check_in_range("dropout", dropout, 0, 1, high_open=True)
        check_positive_int("epochs", epochs)
        self.hidden = tuple(hidden)
        self.lr = lr
        self.batch_size = batch_size
        self.seed = seed
        self.period = updates_per_epoch_period(self.X_train.shape[0], batch_size)
        style = {"description_width": "80px"}
        layout = widgets.Layout(width="300px")
        self.algorithm = widgets.Dropdown(options=names, value=algorithm,
                                          description="algorithm", style=style, layout=layout)
        self.algorithm.add_class("setcourse-algorithm")
        self.method_help = widgets.HTML(layout=widgets.Layout(width="300px"))
        self.epsilon = widgets.FloatSlider(value=epsilon, min=1, max=100, step=1,
                                           description="ε", continuous_update=False,
                                           readout_format=".0f", style=style, layout=layout)
        self.epsilon.tooltip = "density of the Erdős–Rényi start (all sparse methods)"
        self.epsilon.add_class("setcourse-epsilon")
        self.dropout = widgets.FloatSlider(value=dropout, min=0, max=0.8, step=0.05,
                                           description="dropout", continuous_update=False,
                                           readout_format=".2f", style=style, layout=layout)
        self.dropout.tooltip = "fraction of hidden activations zeroed in training"
        self.dropout.add_class("setcourse-dropout")
        self.epochs = widgets.IntSlider(value=epochs, min=1, max=max(50, epochs),
                                        description="epochs", continuous_update=False,
                                        style=style, layout=layout)
        self.epochs.add_class("setcourse-epochs")
        self.knobs = widgets.VBox()
        self._knob_controls = []
        self.algorithm.observe(self._show_knobs, names="value")
        self.epochs.observe(self._show_knobs, names="value")
        self._build_controls()
        self.curves = widgets.Image(format="png", layout=widgets.Layout(
            width="880px", height="300px", object_fit="contain"))
        self.curves.add_class("setcourse-curves")
        self.table = widgets.HTML()
        self.table.add_class("setcourse-runs-table")
        self.results_ = []
        self.widget = widgets.VBox([
            widgets.HBox([widgets.VBox([self.algorithm, self.method_help, self.epsilon,
                                        self.dropout, self.epochs]),
                          widgets.VBox([widgets.HTML("<b>knobs of this algorithm</b>"),
                                        self.knobs]),
                          widgets.VBox([widgets.HBox([self.train_button, self.stop_button]),
                                        self.progress])]),
            self.status, self.background_note, self.curves, self.table])
        self.widget.add_class("setcourse-chooser")
        self._show_knobs()

    def _show_knobs(self, _change=None):
        name = self.algorithm.value
        self.method_help.value = (f"<div style='font-size:11px;color:#555;line-height:1.25'>"
                                  f"{html.escape(METHOD_HELP.get(name, ''))}</div>")
        # ε does not apply to the dense model or to DST (which starts dense).
        self.epsilon.layout.display = "none" if name in ("dense", "dst") else None
        if _change is not None and _change.get("owner") is self.epochs:
            return
        knobs = {} if name == "dense" else strategy_knobs(STRATEGIES[name])
        steps = math.ceil(self.X_train.shape[0] / min(self.batch_size, self.X_train.shape[0]))
        self._knob_controls = [_knob_widget(k, v, self.period, steps * int(self.epochs.value))
                               for k, v in knobs.items()]
        children = []
        for control in self._knob_controls:
            children.append(control)
            text = KNOB_HELP.get(control.description, "")
            if control.description == "update_period":
                text += (f" (default here: {self.period} = twice per epoch for "
                         f"{self.X_train.shape[0]:,} images at batch {self.batch_size})")
            children.append(_help_line(text))
        if not knobs:
            children.append(widgets.HTML("<i>none</i>"))
        self.knobs.children = children

    def knob_values(self):
        """The selected algorithm's knob values as a dict."""
        return {control.description: control.value for control in self._knob_controls}

    def _make_run(self):
        name = self.algorithm.value
        knobs = self.knob_values()
        topology = "dense" if name == "dense" else STRATEGIES[name](**knobs)
        epochs = int(self.epochs.value)
        model = MLP(hidden=self.hidden, topology=topology, epsilon=float(self.epsilon.value),
                    lr=self.lr, dropout=float(self.dropout.value), epochs=epochs,
                    batch_size=self.batch_size, seed=self.seed)
        shown = ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}"
                          for k, v in knobs.items())
        description = f"{name}({shown})" + (
            "" if name in ("dense", "dst") else f" ε={self.epsilon.value:.0f}") + (
            f" dropout={self.dropout.value:.2f}")
        self._current = description
        self._current_short = f"{len(self.results_) + 1} · {name}"
        return model, dict(X=self.X_train, y=self.y_train,
                           validation_data=(self.X_test, self.y_test), epochs=epochs), description

    def _snapshot(self, model):
        history = model.history_
        return dict(accuracy=list(history.get("test_accuracy") or []),
                    epochs=int(self.epochs.value))

    def _render(self, snap):
        runs = [(f"{i + 1} · {r['name']}", r["accuracy"]) for i, r in enumerate(self.results_)]
        if snap is not None:
            runs.append((self._current_short + " (running)", snap["accuracy"]))
        self.curves.value = panel_png(runs_figure(runs, snap["epochs"] if snap else 1))

    def _finished(self, model, run, seconds):
        self._drawer.flush()
        history = model.history_
        self.results_.append(dict(
            run=self._current, name=self._current.split("(")[0],
            history={k: list(v) for k, v in history.items()},
            accuracy=list(history["test_accuracy"]),
            test_accuracy=history["test_accuracy"][-1], nnz=sum(model.nnz_),
            seconds_per_epoch=float(np.mean(history["seconds_epoch"]))))
        rows = "".join(
            f"<tr><td>{i + 1}</td><td style='text-align:left'>{html.escape(r['run'])}</td>"
            f"<td>{100 * r['test_accuracy']:.1f}%</td><td>{r['nnz']:,}</td>"
            f"<td>{r['seconds_per_epoch']:.2f}</td></tr>"
            for i, r in enumerate(self.results_))
        self.table.value = (
            "<table style='font-size:12px'><tr><th>#</th><th style='text-align:left'>run "
            "(algorithm, knobs)</th><th>test accuracy</th><th>connections at the end</th>"
            "<th>training s/epoch</th></tr>" + rows + "</table>")
        self._drawer.submit(None)  # the finished run, without "(running)"
        super()._finished(model, run, seconds)


def runs_figure(runs, epochs=1):
    """Learning curves and final test accuracy of the runs so far (short labels, 9 pt)."""
    figure = new_figure(11.0, 3.75)
    curve_ax, bar_ax = figure.subplots(1, 2, gridspec_kw={"width_ratios": [1.5, 1]})
    top_epoch = max([epochs] + [len(values) for _, values in runs])
    for label, values in runs:
        values = 100 * np.asarray(values, dtype=float)
        curve_ax.plot(np.arange(1, values.size + 1), values, marker="o", markersize=3,
                      label=label)
    curve_ax.set_xlim(0.5, top_epoch + 0.5)
    curve_ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    curve_ax.set_xlabel("epoch", fontsize=FONT)
    curve_ax.set_ylabel("test accuracy (%)", fontsize=FONT)
    curve_ax.set_title("Test accuracy per epoch", fontsize=FONT + 1)
    if runs:
        curve_ax.legend(fontsize=FONT - 1, loc="center left", bbox_to_anchor=(1.01, 0.5),
                        frameon=False)
    finals = [(label, 100 * values[-1]) for label, values in runs if len(values)]
    if finals:
        labels, heights = zip(*finals)
        y = np.arange(len(finals))
        bars = bar_ax.barh(y, heights, color=[f"C{i}" for i in range(len(finals))])
        bar_ax.bar_label(bars, [f"{h:.1f}%" for h in heights], fontsize=FONT - 1, padding=2)
        bar_ax.set_yticks(y, labels, fontsize=FONT - 1)
        bar_ax.invert_yaxis()
        bar_ax.set_xlim(max(0.0, min(heights) - 15), min(100.0, max(heights) + 8))
    bar_ax.set_xlabel("test accuracy after the last epoch (%)", fontsize=FONT)
    bar_ax.set_title("Final test accuracy per run", fontsize=FONT + 1)
    for ax in (curve_ax, bar_ax):
        ax.tick_params(labelsize=FONT - 1)
        ax.grid(alpha=0.3)
    figure.suptitle("The runs so far (one seed each)", fontsize=FONT + 1)
    return figure
