"""The multilayer perceptron shared by dense, FixProb and SET models (and the DST variants).

All model-level code (layer stack, activations, dropout, loss, optimiser, training loop) is
shared; only the layers' matrix products differ between a dense and a sparse model.
"""
import json

import numpy as np

from ._atomic import atomic_file
from .evolution import STRATEGIES, EvolutionStrategy, strategy_for
from .callbacks import History
from .nn import kernels
from .nn.activations import ACTIVATIONS, HiddenStep, hidden_activations
from .nn.layers import INITS, DenseLayer, SparseLayer
from .nn.losses import LOSSES, make_loss
from .nn.optim import SGD
from .nn.sparsity import layer_densities, warn_dense_once
from .train import fit as train_fit
from ._validation import (check_choice, check_features, check_in_range, check_labels,
                         check_positive_int)

FORMAT_VERSION = 1
ALLOCATIONS = ("erdos_renyi", "erk", "uniform")


class MLP:
    """Multilayer perceptron with a dense, fixed sparse or evolving sparse topology.

    Parameters
    ----------
    hidden : tuple of int
        Hidden layer sizes, e.g. ``(1000, 1000, 1000)``.
    topology : {"dense", "fixprob", "set", "dsr", "sparse_momentum", "dst", "rigl"} or EvolutionStrategy
        ``dense``: every layer fully connected (BLAS). ``fixprob``: Erdős–Rényi sparse layers
        that never change. ``set``: sparse layers evolved by SET after every epoch. The other
        names select the dynamic-sparse-training rules of :mod:`setcourse.evolution` with
        their defaults; a configured :class:`~setcourse.evolution.EvolutionStrategy` object
        selects any rule with any parameters.
    epsilon : float > 0
        Erdős–Rényi sparsity parameter: :math:`p = \\varepsilon (n_{in} + n_{out}) / (n_{in} n_{out})`.
    zeta : float in [0, 1)
        SET's rewiring fraction (used when ``topology="set"``).
    dropout : float in [0, 1)
        Inverted-dropout rate on hidden activations.
    activation : {"relu", "leaky_relu", "all_relu", "sigmoid", "tanh"}
    alpha : float
        Negative slope of ``leaky_relu`` and ``all_relu``.
    loss : {"cross_entropy", "mse"}
        Softmax + cross-entropy, or sigmoid outputs + squared error.
    lr, momentum, weight_decay : float
        SGD hyper-parameters (see :class:`~setcourse.nn.optim.SGD`).
    batch_size, epochs : int
    init : {"actual_fan_in", "dense_fan_in"}
        He-uniform scaled by each neuron's real fan-in, or by the dense fan-in (the original).
    regrow_init : {"init", "zero"}
        Value of connections regrown by SET.
    allocation : {"erdos_renyi", "erk", "uniform"}
        How connections are spread over the layers; ``erk`` and ``uniform`` need ``density``.
    density : float in (0, 1], optional
        Target overall density for ``erk`` / ``uniform``.
    n_classes : int, optional
        Number of classes; inferred from the labels when not given.
    seed : int
        Seeds everything: topology, weights, batch order, dropout, evolution.
    warm_start : bool
        When True, ``fit`` continues from the current state instead of re-initialising.

    Attributes
    ----------
    layers_ : list of DenseLayer / SparseLayer
    history_ : setcourse.callbacks.History
    strategy_ : EvolutionStrategy or None
    """

    def __init__(self, hidden=(1000, 1000, 1000), topology="set", epsilon=20.0, zeta=0.3,
                 dropout=0.3, activation="relu", alpha=0.6, loss="cross_entropy", lr=0.01,
                 momentum=0.9, weight_decay=2e-4, batch_size=128, epochs=10,
                 init="actual_fan_in", regrow_init="init", allocation="erdos_renyi",
                 density=None, n_classes=None, seed=0, warm_start=False):
        self.hidden = hidden
        self.topology = topology
        self.epsilon = epsilon
        self.zeta = zeta
        self.dropout = dropout
        self.activation = activation
        self.alpha = alpha
        self.loss = loss
        self.lr = lr
        self.momentum = momentum
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.epochs = epochs
        self.init = init
        self.regrow_init = regrow_init
        self.allocation = allocation
        self.density = density
        self.n_classes = n_classes
        self.seed = seed
        self.warm_start = warm_start

    # -- parameters -------------------------------------------------------------------------
    def get_params(self):
        """Constructor arguments (scikit-learn style)."""
        names = self.__init__.__code__.co_varnames[1:self.__init__.__code__.co_argcount]
        return {name: getattr(self, name) for name in names}

    def set_params(self, **params):
        for name, value in params.items():
            if name not in self.get_params():
                raise ValueError(f"unknown parameter {name!r}; known: {', '.join(self.get_params())}")
            setattr(self, name, value)
        return self

    def validate_params(self):
        """Check every hyper-parameter; raise ValueError naming the bad one and its range."""
        hidden = self.hidden
        if isinstance(hidden, (int, np.integer)):
            hidden = (hidden,)
        if (not isinstance(hidden, (tuple, list)) or len(hidden) == 0
                or any(isinstance(h, bool) or not isinstance(h, (int, np.integer)) or h <= 0
                       for h in hidden)):
            raise ValueError(f"hidden must be a non-empty sequence of positive integers; got {self.hidden!r}")
        if not isinstance(self.topology, EvolutionStrategy):
            strategy_for(self.topology)  # raises on an unknown name
        check_in_range("epsilon", self.epsilon, 0, None, low_open=True)
        check_in_range("zeta", self.zeta, 0, 1, high_open=True)
        check_in_range("dropout", self.dropout, 0, 1, high_open=True)
        check_in_range("alpha", self.alpha, 0, None)
        check_in_range("lr", self.lr, 0, None, low_open=True)
        check_in_range("momentum", self.momentum, 0, 1, high_open=True)
        check_in_range("weight_decay", self.weight_decay, 0, None)
        check_positive_int("batch_size", self.batch_size)
        check_positive_int("epochs", self.epochs)
        for name, value, allowed in (("activation", self.activation, ACTIVATIONS),
                                     ("loss", self.loss, LOSSES), ("init", self.init, INITS),
                                     ("regrow_init", self.regrow_init, ("init", "zero")),
                                     ("allocation", self.allocation, ALLOCATIONS)):
            check_choice(name, value, allowed)
        if self.density is not None:
            check_in_range("density", self.density, 0, 1, low_open=True)
        elif self.allocation != "erdos_renyi":
            raise ValueError(f"density must be given (a float in (0, 1]) for allocation={self.allocation!r}")
        if self.n_classes is not None:
            check_positive_int("n_classes", self.n_classes, minimum=2)
        return tuple(int(h) for h in hidden)

    # -- construction -----------------------------------------------------------------------
    def build(self, n_features, n_classes):
        """Create layers, activations, loss, optimiser and strategy; returns ``self``."""
        hidden = self.validate_params()
        self.n_features_in_ = int(n_features)
        self.n_classes_ = int(n_classes)
        self.rng_ = np.random.default_rng(self.seed)
        self.strategy_ = strategy_for(self.topology, self.zeta, self.regrow_init)
        sizes = [self.n_features_in_, *hidden, self.n_classes_]
        shapes = list(zip(sizes[:-1], sizes[1:]))
        densities = layer_densities(shapes, self.allocation, self.epsilon, self.density)
        self.layers_ = []
        for index, ((n_in, n_out), p) in enumerate(zip(shapes, densities)):
            self.layers_.append(self._make_layer(index, n_in, n_out, p))
        self.activations_ = hidden_activations(self.activation, len(hidden), self.alpha)
        self.loss_ = make_loss(self.loss)
        self.optimizer_ = SGD(self.lr, self.momentum, self.weight_decay)
        self.step_ = 0
        self.epoch_ = 0
        self.history_ = History()
        kernels.warm_up()
        return self

    def _make_layer(self, index, n_in, n_out, density):
        if self.strategy_ is None or not self.strategy_.sparse:
            return DenseLayer(n_in, n_out, self.rng_, self.init)
        make = getattr(self.strategy_, "make_layer", None)
        if make is not None and getattr(self.strategy_, "masks_every_layer", False):
            return make(n_in, n_out, density, self.rng_, self.init)  # DST: dense layers too
        if density >= 1:
            if self.allocation == "erdos_renyi":
                warn_dense_once(index, n_in, n_out, density)
            return DenseLayer(n_in, n_out, self.rng_, self.init)
        if make is not None:
            return make(n_in, n_out, density, self.rng_, self.init)
        return SparseLayer(n_in, n_out, density, self.rng_, self.init)

    @property
    def is_sparse(self):
        return any(layer.sparse for layer in self.layers_)

    # -- forward and backward ---------------------------------------------------------------
    def forward(self, x, training=False):
        """Logits ``(n_classes, batch)`` for feature-major input ``x`` ``(n_features, batch)``.

        With ``training=True`` dropout is applied (a fresh counter-based mask per layer and
        batch, seeded from ``rng_``) and what backward needs is kept.
        """
        keep = 1.0 - self.dropout if training else 1.0
        self._dropout_seeds = self.rng_.integers(0, 2**63, size=len(self.activations_),
                                                 dtype=np.uint64) if keep < 1 else None
        self._steps = []
        a = x
        for index, layer in enumerate(self.layers_[:-1]):
            seed = self._dropout_seeds[index] if keep < 1 else np.uint64(0)
            step = HiddenStep(self.activations_[index], keep, seed, training)
            a = layer.forward(a, step)
            self._steps.append(step)
        logits = self.layers_[-1].forward(a)
        if not training:
            # Inputs are kept for backward only: don't hold an evaluation chunk's activations.
            for layer in self.layers_:
                layer.input = None
            self._steps = []
        return logits

    def backward(self, grad):
        """Back-propagate ``dL/dlogits``; fills every layer's gradients."""
        for index in range(len(self.layers_) - 1, -1, -1):
            step = self._steps[index - 1] if index > 0 else None
            grad = self.layers_[index].backward(grad, need_input_grad=index > 0,
                                                input_step=step)
        self._steps = []

    # -- training and inference -------------------------------------------------------------
    def fit(self, X, y, validation_data=None, epochs=None, callbacks=(), batch_transform=None):
        """Train on ``X`` ``(n_samples, n_features)`` and int labels ``y``; returns ``self``.

        See :func:`setcourse.train.fit` for the loop, callbacks and history.
        """
        train_fit(self, X, y, validation_data=validation_data, epochs=epochs, callbacks=callbacks,
            batch_transform=batch_transform)
        return self

    def _check_fitted(self):
        if not hasattr(self, "layers_"):
            raise RuntimeError("this MLP is not fitted yet: call fit(X, y) first")

    def decision_function(self, X, chunk=2048):
        """Logits ``(n_samples, n_classes)``, computed in chunks."""
        self._check_fitted()
        X = check_features(X, self.n_features_in_)
        out = np.empty((X.shape[0], self.n_classes_), dtype=np.float32)
        for start in range(0, X.shape[0], chunk):
            xb = np.ascontiguousarray(X[start:start + chunk].T)
            out[start:start + chunk] = self.forward(xb).T
        return out

    def predict_proba(self, X):
        """Class probabilities ``(n_samples, n_classes)`` (softmax; sigmoid outputs for mse)."""
        return self.loss_.output(self.decision_function(X).T).T

    def predict(self, X):
        """Predicted class per sample."""
        return np.argmax(self.decision_function(X), axis=1)

    def evaluate(self, X, y, chunk=2048):
        """Mean loss and accuracy on ``(X, y)``."""
        logits = self.decision_function(X, chunk)
        y = check_labels(y, logits.shape[0], self.n_classes_)
        loss = self.loss_.loss(logits.T, y) if y.size else float("nan")
        accuracy = float(np.mean(np.argmax(logits, axis=1) == y)) if y.size else float("nan")
        return loss, accuracy

    def score(self, X, y):
        """Accuracy on ``(X, y)``."""
        return self.evaluate(X, y)[1]

    # -- introspection ----------------------------------------------------------------------
    @property
    def nnz_(self):
        """Number of weights (connections) of each layer."""
        return [layer.nnz for layer in self.layers_]

    def weight_matrices(self):
        """Each layer's weights as a scipy CSR matrix ``(n_in, n_out)`` (copies)."""
        self._check_fitted()
        return [layer.to_scipy() for layer in self.layers_]

    def parameter_bytes(self):
        """Bytes held by weights, biases and sparse indices (no optimiser state)."""
        return sum(layer.parameter_bytes() for layer in self.layers_)

    def dense_parameter_bytes(self):
        """Bytes the dense model of the same shape would hold (float32)."""
        return sum(4 * (layer.n_in * layer.n_out + layer.n_out) for layer in self.layers_)

    def __repr__(self):
        params = self.get_params()
        shown = ", ".join(f"{k}={v!r}" for k, v in params.items()
                          if k in ("hidden", "topology", "epsilon", "zeta", "dropout", "lr"))
        return f"MLP({shown})"

    # -- persistence ------------------------------------------------------------------------
    def save(self, path):
        """Write weights, topology, optimiser state and hyper-parameters to ``path`` (.npz).

        The file is written to a temporary name and renamed, so a crash never leaves a
        half-written checkpoint. No pickles: ``np.load(..., allow_pickle=False)`` reads it.
        """
        self._check_fitted()
        params = self.get_params()
        strategy = params["topology"]
        if isinstance(strategy, EvolutionStrategy):
            params["topology"] = {"strategy": strategy.name, "params": strategy.get_params()}
        params["hidden"] = list(self.validate_params())
        meta = {
            "format_version": FORMAT_VERSION, "params": params,
            "n_features": self.n_features_in_, "n_classes": self.n_classes_,
            "step": self.step_, "epoch": self.epoch_,
            "rng_state": self.rng_.bit_generator.state,
            "strategy_state": _json_state(self.strategy_),
            "history": dict(self.history_),
            "layers": [type(layer).__name__ for layer in self.layers_],
        }
        arrays = {"meta": np.array(json.dumps(meta))}
        for i, layer in enumerate(self.layers_):
            for name, value in _layer_arrays(layer).items():
                arrays[f"layer{i}.{name}"] = value
        with atomic_file(path) as temp, open(temp, "wb") as handle:
            np.savez(handle, **arrays)
        return path

    @classmethod
    def load(cls, path):
        """Rebuild a model saved by :meth:`save`; training can continue with ``warm_start``."""
        with np.load(path, allow_pickle=False) as archive:
            meta = json.loads(str(archive["meta"]))
            arrays = {key: archive[key] for key in archive.files if key != "meta"}
        if meta.get("format_version") != FORMAT_VERSION:
            raise ValueError(f"{path}: unsupported format_version {meta.get('format_version')!r}")
        params = dict(meta["params"])
        params["hidden"] = tuple(params["hidden"])
        if isinstance(params["topology"], dict):
            spec = params["topology"]
            params["topology"] = STRATEGIES[spec["strategy"]](**spec["params"])
        model = cls(**params)
        model.build(meta["n_features"], meta["n_classes"])
        for i, layer in enumerate(model.layers_):
            _restore_layer(layer, {k.split(".", 1)[1]: v for k, v in arrays.items()
                                   if k.startswith(f"layer{i}.")})
        model.rng_.bit_generator.state = meta["rng_state"]
        for name, value in meta["strategy_state"].items():
            setattr(model.strategy_, name, value)
        model.step_, model.epoch_ = meta["step"], meta["epoch"]
        model.history_.update(meta["history"])
        return model


def _json_state(strategy):
    """The strategy's learned scalar state (attributes ending in ``_``) that JSON can hold."""
    state = {}
    for name, value in (vars(strategy) if strategy is not None else {}).items():
        if name.endswith("_"):
            try:
                json.dumps(value)
            except TypeError:
                continue
            state[name] = value
    return state


def _layer_arrays(layer):
    arrays = {"bias": layer.bias, "bias_velocity": layer.bias_velocity}
    if layer.sparse:
        arrays.update(indptr=layer.indptr, indices=layer.indices, data=layer.data,
                      velocity=layer.weight_velocity)
    else:
        arrays.update(weights=layer.weights, velocity=layer.weight_velocity)
    extra = getattr(layer, "extra_state", None)
    if extra is not None:
        arrays.update(extra())
    return arrays


def _restore_layer(layer, arrays):
    layer.bias[:] = arrays["bias"]
    layer.bias_velocity[:] = arrays["bias_velocity"]
    if layer.sparse:
        indptr = arrays["indptr"]
        rows = np.repeat(np.arange(layer.n_out, dtype=np.int64), np.diff(indptr))
        layer.set_connections(rows * layer.n_in + arrays["indices"], arrays["data"],
                              arrays["velocity"])
    else:
        layer.weights[...] = arrays["weights"]
        layer.weight_velocity[...] = arrays["velocity"]
    restore = getattr(layer, "restore_extra_state", None)
    if restore is not None:
        restore(arrays)
