"""Module 02's SET dashboard: sliders for ε, ζ, dropout, learning rate, epochs and data size."""
import ipywidgets as widgets
import numpy as np

from .._validation import check_positive_int
from ..analysis.input_connectivity import as_image, input_connections
from ..model import MLP
from ..plots import connectivity_png, figure_png, plot_connections_per_layer, plot_learning_curves
from .trainer import BackgroundTrainer, check_data, layers_text, training_size_slider

__all__ = ["SETDashboard"]


class SETDashboard(BackgroundTrainer):
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
         self.n_classes) = check_data(X_train, y_train, X_test, y_test)
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
            "ntrain": training_size_slider(self.X_train.shape[0], n_train),
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
        self.nnz_image.value = figure_png(plot_connections_per_layer(
            model.layers_, f"Connections per layer (total {sum(model.nnz_):,})"))
        self.connectivity.value = connectivity_png(
            input_connections(model), self.image_shape, f"Input connectivity after epoch {epoch}")
