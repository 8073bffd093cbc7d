"""Module 04's algorithm chooser: pick a sparse-training algorithm and its knobs, compare runs."""
import html
import inspect

import ipywidgets as widgets
import numpy as np

from .._validation import check_in_range, check_positive_int
from ..evolution import STRATEGIES
from ..model import MLP
from ..plots import figure_png, plot_learning_curves
from .trainer import BackgroundTrainer, check_data

__all__ = ["AlgorithmChooser", "strategy_knobs"]


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


class AlgorithmChooser(BackgroundTrainer):
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
         self.n_classes) = check_data(X_train, y_train, X_test, y_test)
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
