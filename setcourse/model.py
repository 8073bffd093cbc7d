"""The estimator: the multilayer perceptron of every topology (dense, FixProb, SET, DST variants).

Parameters, building, fit, predict; the layer stack's passes are :mod:`setcourse.nn.network`,
the training loop :mod:`setcourse.train`, the file format :mod:`setcourse.checkpoint`. Only
the layers (which the strategy builds) differ between a dense and a sparse model.
"""
import inspect

import numpy as np

from . import checkpoint
from .plan import check_plan, plan
from ._validation import (Boolean, Choice, Integer, Interval, Optional, check_features,
                          check_labels, check_params)
from .callbacks import History
from .evolution import STRATEGIES, EvolutionStrategy, strategy_for
from .nn import kernels, network
from .nn.activations import ACTIVATIONS, hidden_activations
from .nn.layers import INITS, DenseLayer
from .nn.losses import LOSSES, make_loss
from .nn.optim import SGD, WEIGHT_DECAY_MODES
from .nn.sparsity import layer_densities, warn_dense_hidden_layer
from .train import fit as train_fit

FORMAT_VERSION = checkpoint.FORMAT_VERSION
ALLOCATIONS = ("erdos_renyi", "erk", "uniform")


def dense_layer(n_in, n_out, density, rng, init):
    """The layers of ``topology="dense"``: fully connected whatever the density."""
    return DenseLayer(n_in, n_out, rng, init)


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
        SET's rewiring fraction (used, and checked, only when ``topology="set"``).
    dropout : float in [0, 1)
        Inverted-dropout rate on hidden activations.
    activation : {"relu", "leaky_relu", "all_relu", "sigmoid", "tanh"}
    alpha : float
        Negative slope of ``leaky_relu`` and ``all_relu``.
    loss : {"cross_entropy", "mse"}
        Softmax + cross-entropy, or sigmoid outputs + squared error.
    lr, momentum, weight_decay : float
        SGD hyper-parameters (see :class:`~setcourse.nn.optim.SGD`).
    weight_decay_mode : {"decoupled", "l2"}
        ``decoupled``: every step shrinks the weights by ``weight_decay``, outside the
        momentum and whatever ``lr`` (the original tutorial's rule); ``l2``: ``weight_decay * w``
        is added to the gradient (PyTorch's convention, half as strong at lr 0.05).
    decay_biases : bool
        Decay the biases (and DST's thresholds) too, as the original and DST's reference do.
    batch_size, epochs : int
    init : {"actual_fan_in", "dense_fan_in"}
        He-uniform U(±sqrt(6 / fan_in)) with each neuron's real fan-in, or with the dense
        fan-in ``n_in`` (the original's: a sparse neuron starts with small weights, and a deep
        sparse net starts almost silent: 784-1000-1000-1000-10 at ε = 20, 2,000 images, lr
        0.05 reaches 32 % test accuracy after 2 epochs, against 72 % with ``actual_fan_in``).
    regrow_init : {"zero", "init", "dense_fan_in", "actual_fan_in"}
        Value of connections regrown by SET (used, and checked, only when ``topology="set"``;
        see :class:`~setcourse.evolution.set.SET`). ``zero`` by default: regrowing at the
        actual-fan-in init scale (std ≈ 0.22 at ε = 13) kicks the trained network at every
        rewiring. Tutorial protocol (5,000 images, ε = 13, batch 40), 60 epochs, seed 0, mean
        test accuracy of the last 10 epochs: with ``init`` SET 82.1 % against FixProb's 83.5 %,
        its input connections moving *off* the informative pixels (r = -0.11); with these
        defaults SET 83.8 % against FixProb's 83.4 %, r = +0.26. Regrowing at zero with the
        original's other settings gives r = +0.55 after 400 epochs (the original: +0.25).
    allocation : {"erdos_renyi", "erk", "uniform"}
        How connections are spread over the layers; ``erk`` and ``uniform`` need ``density``.
    density : float in (0, 1], optional
        Target overall density for ``erk`` / ``uniform``.
    n_classes : int, optional
        Number of classes; inferred from the labels when not given.
    seed : int >= 0
        Seeds everything: topology, weights, batch order, dropout, evolution. Not ``None``
        (a run is always reproducible) and not a bool.
    warm_start : bool
        When True, ``fit`` continues from the current state instead of re-initialising.

    Before anything is allocated, :meth:`build` refuses a sparse layer that would get no
    connection (its output would not depend on its input) and a model whose memory estimate
    exceeds the memory available (both with the numbers; see :mod:`setcourse.plan`), and
    warns about a layer with fewer connections than output neurons.

    Attributes
    ----------
    layers_ : list of Layer
        Built by the strategy's ``make_layer`` (DenseLayer, SparseLayer, DSTLayer, ...).
    history_ : setcourse.callbacks.History
    strategy_ : EvolutionStrategy or None
    """

    #: the hyper-parameters checked by a rule of :mod:`setcourse._validation` (``hidden`` and
    #: ``topology`` have their own checks; ``zeta`` and ``regrow_init`` are SET's)
    RULES = {
        "epsilon": Interval(0, None, low_open=True), "dropout": Interval(0, 1, high_open=True),
        "alpha": Interval(0, None), "lr": Interval(0, None, low_open=True),
        "momentum": Interval(0, 1, high_open=True), "weight_decay": Interval(0, None),
        "weight_decay_mode": Choice(*WEIGHT_DECAY_MODES), "decay_biases": Boolean(),
        "batch_size": Integer(1), "epochs": Integer(1), "activation": Choice(*ACTIVATIONS),
        "loss": Choice(*LOSSES), "init": Choice(*INITS), "allocation": Choice(*ALLOCATIONS),
        "density": Optional(Interval(0, 1, low_open=True)), "n_classes": Optional(Integer(2)),
        "seed": Integer(0), "warm_start": Boolean(),
    }

    def __init__(self, hidden=(1000, 1000, 1000), topology="set", epsilon=20.0, zeta=0.3,
                 dropout=0.3, activation="relu", alpha=0.6, loss="cross_entropy", lr=0.05,
                 momentum=0.9, weight_decay=2e-4, weight_decay_mode="decoupled",
                 decay_biases=True, batch_size=128, epochs=10, init="actual_fan_in",
                 regrow_init="zero", allocation="erdos_renyi", density=None, n_classes=None,
                 seed=0, warm_start=False):
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
        self.weight_decay_mode = weight_decay_mode
        self.decay_biases = decay_biases
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
        names = list(inspect.signature(type(self).__init__).parameters)[1:]
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
        if not isinstance(self.topology, (str, EvolutionStrategy)):
            raise ValueError(f"topology must be a name (dense, {', '.join(STRATEGIES)}) or an "
                             f"EvolutionStrategy; got {self.topology!r}")
        self.make_strategy()  # an unknown topology or a bad strategy parameter raises here
        check_params(self.get_params(), self.RULES)
        if self.density is None and self.allocation != "erdos_renyi":
            raise ValueError(f"density must be given (a float in (0, 1]) for allocation={self.allocation!r}")
        return tuple(int(h) for h in hidden)

    def make_strategy(self):
        """The strategy ``topology`` names (``None`` for dense), its parameters checked."""
        strategy = strategy_for(self.topology, self.zeta, self.regrow_init)
        if strategy is not None:
            strategy.validate()
        return strategy

    # -- construction -----------------------------------------------------------------------
    def build(self, n_features, n_classes, n_samples=None):
        """Create layers, activations, loss, optimiser and strategy; returns ``self``.

        ``n_samples`` (the training set's size, when known) sizes the memory estimate of the
        activations: a batch is ``min(batch_size, n_samples)``.
        """
        hidden = self.validate_params()
        # Refused before anything is allocated: a layer with no connection, a model larger
        # than the memory available (with the figures); a nearly unconnected layer is warned.
        check_plan(self, plan(self, n_features, n_classes), n_samples=n_samples)
        self.n_features_in_ = int(n_features)
        self.n_classes_ = int(n_classes)
        self.rng_ = np.random.default_rng(self.seed)
        self.strategy_ = strategy_for(self.topology, self.zeta, self.regrow_init)  # validated above
        sizes = [self.n_features_in_, *hidden, self.n_classes_]
        shapes = list(zip(sizes[:-1], sizes[1:]))
        densities = layer_densities(shapes, self.allocation, self.epsilon, self.density)
        make_layer = dense_layer if self.strategy_ is None else self.strategy_.make_layer
        self.layers_ = []  # a refit releases the previous layers before making new ones
        for (n_in, n_out), p in zip(shapes, densities):
            self.layers_.append(make_layer(n_in, n_out, p, self.rng_, self.init))
        self._warn_dense_hidden_layers(densities)
        self.activations_ = hidden_activations(self.activation, len(hidden), self.alpha)
        self.loss_ = make_loss(self.loss)
        self.optimizer_ = SGD(self.lr, self.momentum, self.weight_decay, self.weight_decay_mode,
                              self.decay_biases)
        self.step_ = 0
        self.epoch_ = 0
        self.history_ = History()
        kernels.warm_up()
        return self

    def _warn_dense_hidden_layers(self, densities):
        """Warn for each hidden layer that Erdős–Rényi's ``p >= 1`` made a plain dense layer.

        The classifier is left out: at the usual epsilon it is dense by design. A dense
        topology and DST (dense by nature) are not told either.
        """
        if self.strategy_ is None or self.allocation != "erdos_renyi":
            return
        for index, (layer, p) in enumerate(zip(self.layers_[:-1], densities)):
            if p >= 1 and type(layer) is DenseLayer:
                warn_dense_hidden_layer(index, layer.n_in, layer.n_out, p)

    @property
    def is_sparse(self):
        return any(layer.sparse for layer in self.layers_)

    # -- forward and backward ---------------------------------------------------------------
    def forward(self, x, training=False, buffers=None):
        """Logits ``(n_classes, batch)`` for feature-major input ``x`` ``(n_features, batch)``.

        With ``training=True`` dropout is applied (a fresh counter-based mask per layer and
        batch, seeded from ``rng_``) and what backward needs is kept; the large activation
        blocks of the step and of its backward pass come from ``buffers``
        (:class:`~setcourse.nn.buffers.ActivationBuffers`) when given.
        """
        keep = 1.0 - self.dropout if training else 1.0
        self._dropout_seeds = self.rng_.integers(0, 2**63, size=len(self.activations_),
                                                 dtype=np.uint64) if keep < 1 else None
        logits, self._steps = network.forward(self.layers_, self.activations_, x, keep,
                                              self._dropout_seeds, training, buffers)
        return logits

    def backward(self, grad):
        """Back-propagate ``dL/dlogits``; fills every layer's gradients."""
        network.backward(self.layers_, self._steps, grad)
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

        Written atomically, no pickles; see :mod:`setcourse.checkpoint` for the format.
        """
        self._check_fitted()
        return checkpoint.save(self, path)

    @classmethod
    def load(cls, path):
        """Rebuild a model saved by :meth:`save`; training can continue with ``warm_start``."""
        return checkpoint.load(cls, path)
